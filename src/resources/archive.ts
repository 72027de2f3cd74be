import type { HostState, Recorded } from '../engine/state.js';
import { recordId } from '../engine/state.js';
/**
 * A .tar.gz release unpacked into a directory (containerd → /usr/local,
 * CNI plugins → /opt/cni/bin). The host state record keeps what was
 * extracted (the archive's sum, and every extracted file with its sha256 at
 * extraction); facts compare the members' current checksums (stat-cached:
 * ~140 MB of binaries) with that record, so a replaced, damaged or missing
 * binary means "extract again".
 *
 * Extraction goes to a temp dir inside `into` and every file then goes into
 * place through the prelude's atomic write (panel_put): a running binary is
 * replaced without "text file busy", and a failed extraction leaves the old
 * files untouched.
 *
 * An archive that is a directory of its own (`ownDir`: code-server, ~10^4
 * files with empty directories, symlinks and a bundled runtime) is handled
 * as one tree instead: extracted whole next to `into` (tar keeps empty
 * directories, symlinks and modes), its members checked to be executable,
 * swapped in with two renames, and recorded as ONE record holding a digest
 * of the tree's metadata (panel_tree_digest: a fixed number of processes
 * whatever the file count). The facts recompute that digest; any file
 * added, removed, replaced, re-moded or re-linked means "extract again".
 * Uninstall removes the directory whole — exact, since everything in it came
 * from the archive — and puts back a directory that was there before panel.
 */
import { basename } from 'node:path';
import { lines, type Script, sh } from '../shell.js';
import type { ArchiveOptions } from './api.js';
import { checkUrl } from './download.js';
import { checkPath } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { factFailed, fmtMode, noStdin, octal } from './util.js';

export interface MemberFacts {
  /** Current sha256, undefined when absent. */
  readonly sha256: string | undefined;
  readonly mode: number | undefined;
}

export interface ArchiveFacts {
  readonly members: ReadonlyMap<string, MemberFacts>;
  /** ownDir: the tree as it is now (undefined: `into` is not a directory). */
  readonly tree?: { readonly digest: string; readonly entries: number };
  /** ownDir: members that are executable regular files. */
  readonly runnable?: ReadonlySet<string>;
}

/** What the state record says was extracted; undefined when never extracted by panel. */
export interface ArchiveRecord {
  readonly archive: string;
  /** Member (relative) → sha256 at extraction. */
  readonly members: ReadonlyMap<string, string>;
}

export class ArchiveResource implements Resource<ArchiveFacts> {
  readonly key: string;
  readonly name: string;
  constructor(readonly o: ArchiveOptions) {
    this.name = basename(new URL(o.url).pathname);
    this.key = `archive:${o.into}:${this.name}`;
  }

  private get recorded(): Recorded & { kind: 'archive' } {
    return { kind: 'archive', url: this.o.url, sha256: this.o.sha256, into: this.o.into, members: this.o.members.map((m) => this.memberPath(m)) };
  }

  /** The extraction as the state record has it. */
  record(state: HostState | undefined): ArchiveRecord | undefined {
    const rec = state?.record(recordId(this.recorded));
    if (rec?.kind !== 'archive') return undefined;
    const members = new Map<string, string>();
    for (const m of this.o.members) {
      const r = state?.record(this.memberPath(m));
      if (r !== undefined && 'sha256' in r) members.set(m, r.sha256);
    }
    return { archive: rec.sha256, members };
  }

  private memberPath(m: string): string {
    return this.o.into === '/' ? `/${m}` : `${this.o.into}/${m}`;
  }

  facts(): Script {
    if (this.o.ownDir) {
      return noStdin(sh`if [ -d ${this.o.into} ] && [ ! -L ${this.o.into} ]; then echo "tree=$(panel_tree_digest ${this.o.into})"; else echo tree=-; fi
for __m in ${this.o.members}; do
  __f=${this.o.into}/$__m
  if [ -f "$__f" ] && [ -x "$__f" ]; then echo "run=$__m"; fi
done`);
    }
    return noStdin(sh`panel_members_facts ${this.o.into} ${this.o.members}`);
  }

  parse(out: FactOutput): ArchiveFacts {
    if (out.code !== 0) throw factFailed(this.key, out);
    const members = new Map<string, MemberFacts>();
    let tree: ArchiveFacts['tree'];
    const runnable = new Set<string>();
    for (const line of out.stdout.split('\n')) {
      if (line === '') continue;
      let m: RegExpExecArray | null;
      if (this.o.ownDir && (m = /^tree=(?:([0-9a-f]{64}) ([0-9]+)|-)$/.exec(line))) {
        if (m[1] !== undefined) tree = { digest: m[1], entries: Number(m[2]) };
      } else if (this.o.ownDir && line.startsWith('run=')) {
        runnable.add(line.slice(4));
      } else if ((m = /^cur=([0-9a-f]{64}|-) ([0-7]+|-) (.+)$/.exec(line))) {
        members.set(m[3] as string, {
          sha256: m[1] === '-' ? undefined : m[1],
          mode: m[2] === '-' ? undefined : octal(this.key, m[2] as string),
        });
      } else throw new Error(`${this.key}: unexpected fact output line: ${JSON.stringify(line.slice(0, 120))}`);
    }
    return this.o.ownDir ? { members, runnable, ...(tree ? { tree } : {}) } : { members };
  }

  /** ownDir: what differs between the tree as recorded and as it is. */
  private treeProblems(f: ArchiveFacts, ctx: PlanContext): string[] {
    const rec = ctx.state?.record(recordId(this.recorded));
    const problems: string[] = [];
    if (rec?.kind !== 'archive') problems.push('not extracted');
    else if (rec.sha256 !== this.o.sha256) problems.push('archive changed');
    else if (rec.tree === undefined) problems.push('recorded file by file by an earlier panel');
    else if (f.tree === undefined) problems.push(`${this.o.into}: absent`);
    else if (f.tree.digest !== rec.tree.digest) problems.push(`tree differs from the extraction (${f.tree.entries} entries now, ${rec.tree.entries} extracted)`);
    if (problems[0] !== 'not extracted') {
      for (const m of this.o.members) if (!f.runnable?.has(m)) problems.push(`${m}: missing or not executable`);
    }
    return problems;
  }

  plan(f: ArchiveFacts, ctx: PlanContext): Change[] {
    if (this.o.ownDir) return this.changeFor(this.treeProblems(f, ctx), ctx);
    const record = this.record(ctx.state);
    const problems: string[] = [];
    // Another release of the same artifact was the last one put in place: this one replaces it,
    // even where an older record of this release still matches (same bytes, e.g. a downgrade and back).
    const previous = previousRelease(ctx.state, this.o.artifact?.path);
    if (previous !== undefined) problems.push(`${newer(releaseTag(this.o.artifact?.path), previous) ? 'upgrade' : 'downgrade'} from ${previous}`);
    else if (record === undefined) problems.push('not extracted');
    else if (record.archive !== this.o.sha256) problems.push('archive changed');
    for (const m of this.o.members) {
      const cur = f.members.get(m);
      const rec = record?.members.get(m);
      if (cur?.sha256 === undefined) problems.push(`${m}: absent`);
      else if (record !== undefined && rec === undefined) problems.push(`${m}: not recorded`);
      else if (rec !== undefined && rec !== cur.sha256) problems.push(`${m}: checksum differs`);
      else if (this.o.mode !== undefined && cur.mode !== undefined && cur.mode !== (this.o.mode & 0o7777)) {
        problems.push(`${m}: mode ${fmtMode(cur.mode)} → ${fmtMode(this.o.mode)}`);
      }
    }
    return this.changeFor(problems, ctx);
  }

  private changeFor(problems: readonly string[], ctx: PlanContext): Change[] {
    if (problems.length === 0) return [];
    // "not extracted" explains every absent member: say it once.
    const shown = problems[0] === 'not extracted' || /^(up|down)grade from /.test(problems[0] ?? '') ? [problems[0]] : problems;
    const reason = shown.length > 2 ? `${shown.slice(0, 2).join(', ')}, +${shown.length - 2} more` : shown.join(', ');
    const artifact: Recorded[] = this.o.artifact ? [{ kind: 'artifact', path: this.o.artifact.path, sha256: this.o.sha256, source: this.o.artifact.source }] : [];
    if (this.o.ownDir) {
      // The tree's record is written by the script (only the host knows the digest); per-file
      // records an earlier panel kept for this directory go, as the directory is replaced whole.
      const below = `${this.o.into}/`;
      const stale = (ctx.state?.records ?? []).filter(([id, r]) => r.resource === this.key && id.startsWith(below)).map(([id]): Recorded => ({ kind: 'forget', id }));
      return [{ resource: this.key, action: 'install', target: `${this.name} → ${this.o.into}`, reason, records: [...artifact, ...stale], script: this.treeScript(ctx) }];
    }
    return [{ resource: this.key, action: 'install', target: `${this.name} → ${this.o.into}`, reason, records: [this.recorded, ...artifact], script: this.script() }];
  }

  /**
   * Extract next to `into`, check, digest, swap in with two renames. What
   * was at `into` goes: panel's own earlier extraction is deleted, a
   * directory panel never recorded is kept as `<into>.panel-before` (put
   * back on uninstall).
   */
  private treeScript(ctx: PlanContext): Script {
    const { url, sha256: sha, into, members } = this.o;
    const strip = this.o.strip ?? 0;
    const rec = ctx.state?.record(recordId(this.recorded));
    const ours = rec?.kind === 'archive';
    const backup = rec?.kind === 'archive' ? (rec.tree?.backup ?? '') : '';
    return lines(
      sh`__c=$(panel_fetch_verified ${url} ${sha}) || exit 1`,
      sh`__into=${into}`,
      sh`mkdir -p -- "$(dirname -- "$__into")" || exit 1`,
      sh`__new=$(mktemp -d "$__into.panel-new.XXXXXXXX") || exit 1`,
      sh`trap 'rm -rf -- "$__new"' EXIT`,
      sh`chmod 0755 "$__new" || exit 1`,
      // -p: modes as in the archive (not masked by umask); empty directories and symlinks come as they are.
      sh`if ! __out=$(tar -xzpf "$__c" -C "$__new" --no-same-owner --strip-components=${strip} 2>&1); then panel_fail ${`cannot extract ${url}:`} "$__out"; fi`,
      sh`for __m in ${members}; do`,
      ...(this.o.mode !== undefined ? [sh`  [ ! -f "$__new/$__m" ] || chmod ${fmtMode(this.o.mode)} -- "$__new/$__m" || exit 1`] : []),
      sh`  [ -f "$__new/$__m" ] && [ -x "$__new/$__m" ] || panel_fail ${`${url}: a part it needs to run is missing or not executable:`} "$__m" ${`(after stripping ${strip} path components)`}`,
      sh`done`,
      sh`__tree=$(panel_tree_digest "$__new") || exit 1`,
      sh`__bk=${backup}; __old=`,
      sh`if [ -e "$__into" ] || [ -L "$__into" ]; then __old="$__into.panel-old.$$"; rm -rf -- "$__old"; mv -- "$__into" "$__old" || exit 1; fi`,
      sh`if ! mv -- "$__new" "$__into"; then [ -z "$__old" ] || mv -- "$__old" "$__into"; exit 1; fi`,
      sh`trap - EXIT`,
      ours
        ? sh`[ -z "$__old" ] || rm -rf --one-file-system -- "$__old" || exit 1`
        : sh`if [ -n "$__old" ]; then __bk="$__into.panel-before"; [ ! -e "$__bk" ] || panel_fail "$__bk exists: move it away"; mv -- "$__old" "$__bk" || exit 1; fi`,
      sh`panel_record_tree ${recordId(this.recorded)} ${url} ${sha} ${into} "$__tree" "$__bk" ${members.map((m) => this.memberPath(m))} || exit 1`,
    );
  }

  private script(): Script {
    const { url, sha256: sha, into, members } = this.o;
    const strip = this.o.strip ?? 0;
    return lines(
      sh`__c=$(panel_fetch_verified ${url} ${sha}) || exit 1`,
      sh`__into=${into}`,
      sh`mkdir -p -- "$__into" || exit 1`,
      sh`__tmpd=$(mktemp -d "$__into/.panel-extract.XXXXXXXX") || exit 1`,
      sh`trap 'rm -rf -- "$__tmpd"' EXIT`,
      sh`if ! __out=$(tar -xzf "$__c" -C "$__tmpd" --no-same-owner --strip-components=${strip} 2>&1); then panel_fail ${`cannot extract ${url}:`} "$__out"; fi`,
      sh`for __m in ${members}; do`,
      sh`  [ -f "$__tmpd/$__m" ] || panel_fail ${`${url} has no member`} "$__m" ${`(after stripping ${strip} path components)`}`,
      ...(this.o.mode !== undefined ? [sh`  chmod ${fmtMode(this.o.mode)} -- "$__tmpd/$__m" || exit 1`] : []),
      sh`done`,
      ...((this.o.leaveOut ?? []).length > 0 ? [sh`for __m in ${this.o.leaveOut ?? []}; do rm -f -- "$__tmpd/$__m" || exit 1; done`] : []),
      // Every file goes into place through the one atomic write and into
      // the state record (a version panel never recorded is backed up first).
      sh`( cd "$__tmpd" && find . -mindepth 1 \\( -type f -o -type l \\) -print0 ) | while IFS= read -r -d "" __f; do`,
      sh`  __f=\${__f#./}; __d="\${__into%/}/$__f"`,
      // Per file, only the processes the work needs (sha256sum, chown, mv, stat): no dirname, no mkdir for a directory that is there.
      sh`  __dd=\${__d%/*}; __dd=\${__dd:-/}; [ -d "$__dd" ] || mkdir -p -- "$__dd" || exit 1`,
      sh`  __ex=0; if [ -e "$__d" ] || [ -L "$__d" ]; then __ex=1; fi`,
      sh`  if [ -L "$__tmpd/$__f" ]; then mv -f -- "$__tmpd/$__f" "$__d" || exit 1; continue; fi`,
      sh`  panel_hash_set __sum "$__tmpd/$__f" || exit 1; PANEL_SHA[$__d]=$__sum`,
      sh`  panel_put "$__tmpd/$__f" "$__d" - root root first || exit 1`,
      sh`  panel_record_path binary "$__d" "$__ex" || exit 1`,
      sh`done || exit 1`,
    );
  }
}

const RELEASES = '/releases/download/';

/** `…/releases/download/v1.7.27/…` → `v1.7.27`. */
function releaseTag(path: string | undefined): string {
  const at = path?.indexOf(RELEASES) ?? -1;
  return path === undefined || at < 0 ? '' : (path.slice(at + RELEASES.length).split('/')[0] ?? '');
}

/** Whether tag a is a later version than tag b (numeric parts compared in order). */
function newer(a: string, b: string): boolean {
  const n = (t: string): number[] => (t.match(/\d+/g) ?? []).map(Number);
  const [x, y] = [n(a), n(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
  }
  return false;
}

/**
 * The release tag of another version of the same artifact, when that is the
 * one the host recorded last (`…/releases/download/v1.7.27/…` → `v1.7.27`):
 * the plan says "upgrade from v1.7.27" rather than "not extracted".
 */
export function previousRelease(state: HostState | undefined, path: string | undefined): string | undefined {
  const at = path?.indexOf(RELEASES) ?? -1;
  if (state === undefined || path === undefined || at < 0) return undefined;
  const prefix = path.slice(0, at + RELEASES.length);
  const last = Object.entries(state.data.artifacts)
    .filter(([p]) => p.startsWith(prefix))
    .sort(([, a], [, b]) => a.at.localeCompare(b.at))
    .at(-1)?.[0];
  return last === undefined || last === path ? undefined : releaseTag(last);
}

export function archive(o: ArchiveOptions): ArchiveResource {
  checkPath('archive', o.into);
  checkUrl('archive', o.url, o.sha256);
  if (o.leaveOut?.some((m) => o.members.includes(m))) throw new Error(`archive ${o.url}: a member cannot also be left out`);
  if (o.members.length === 0) throw new Error(`archive ${o.url}: members is empty; list the files that prove it is in place`);
  for (const m of [...o.members, ...(o.leaveOut ?? [])]) {
    if (m.startsWith('/') || m.split('/').includes('..') || /[\n\0]/.test(m) || m === '') {
      throw new Error(`archive ${o.url}: member must be a relative path inside "into": ${JSON.stringify(m)}`);
    }
  }
  if (o.strip !== undefined && (!Number.isInteger(o.strip) || o.strip < 0)) throw new Error(`archive ${o.url}: strip must be a non-negative integer`);
  return new ArchiveResource(o);
}
