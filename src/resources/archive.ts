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
 */
import { basename } from 'node:path';
import { lines, type Script, sh } from '../shell.js';
import type { ArchiveOptions } from './api.js';
import { checkUrl } from './download.js';
import { checkPath } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { fmtMode, noStdin, octal, tailOf } from './util.js';

export interface MemberFacts {
  /** Current sha256, undefined when absent. */
  readonly sha256: string | undefined;
  readonly mode: number | undefined;
}

export interface ArchiveFacts {
  readonly members: ReadonlyMap<string, MemberFacts>;
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
    return noStdin(sh`panel_members_facts ${this.o.into} ${this.o.members}`);
  }

  parse(out: FactOutput): ArchiveFacts {
    if (out.code !== 0) throw new Error(`${this.key}: fact script failed (exit ${out.code}): ${tailOf(out.stdout)}`);
    const members = new Map<string, MemberFacts>();
    for (const line of out.stdout.split('\n')) {
      if (line === '') continue;
      let m: RegExpExecArray | null;
      if ((m = /^cur=([0-9a-f]{64}|-) ([0-7]+|-) (.+)$/.exec(line))) {
        members.set(m[3] as string, {
          sha256: m[1] === '-' ? undefined : m[1],
          mode: m[2] === '-' ? undefined : octal(this.key, m[2] as string),
        });
      } else throw new Error(`${this.key}: unexpected fact output line: ${JSON.stringify(line.slice(0, 120))}`);
    }
    return { members };
  }

  plan(f: ArchiveFacts, ctx: PlanContext): Change[] {
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
    if (problems.length === 0) return [];
    // "not extracted" explains every absent member: say it once.
    const shown = problems[0] === 'not extracted' || /^(up|down)grade from /.test(problems[0] ?? '') ? [problems[0]] : problems;
    const reason = shown.length > 2 ? `${shown.slice(0, 2).join(', ')}, +${shown.length - 2} more` : shown.join(', ');
    const records: Recorded[] = [
      this.recorded,
      ...(this.o.artifact ? [{ kind: 'artifact' as const, path: this.o.artifact.path, sha256: this.o.sha256, source: this.o.artifact.source }] : []),
    ];
    return [{ resource: this.key, action: 'install', target: `${this.name} → ${this.o.into}`, reason, records, script: this.script() }];
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
      sh`  mkdir -p -- "$(dirname -- "$__d")" || exit 1`,
      sh`  __ex=0; if [ -e "$__d" ] || [ -L "$__d" ]; then __ex=1; fi`,
      sh`  if [ -L "$__tmpd/$__f" ]; then mv -f -- "$__tmpd/$__f" "$__d" || exit 1; continue; fi`,
      sh`  PANEL_SHA[$__d]=$(panel_hash "$__tmpd/$__f") || exit 1`,
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
