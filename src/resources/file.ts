/**
 * A managed regular file: content, mode, owner, group. Shared by `file`,
 * `template`, `unit` and `kernelModule` (its modules-load.d entry).
 *
 * Apply writes a temp file in the same directory, sets ownership, backs the
 * old version up under /var/lib/panel/backups/ and renames over the path, so
 * readers see either the old or the new file, never half of one.
 */
import { loadDiff as loadDiffPackage } from '../lazy-cjs.js';
import { lines, type Script, sh } from '../shell.js';
import type { FileOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { fmtMode, int, noStdin, one, opt, type Owned, ownershipDrift, parseKv, parseOwned, sha256 } from './util.js';
import { DEFAULT_MODE, DEFAULT_OWNER, writeFile } from './write.js';

export const SECRET_DIFF = '(secret content changed; value masked)';
/** Content larger than this is not read back for diffs (the prelude's PANEL_MAX_DIFF_BYTES). */
export const MAX_DIFF_BYTES = 256 * 1024;

export type FileType = 'file' | 'directory' | 'symlink' | 'other';

export type FileFacts =
  | { readonly exists: false }
  | {
      readonly exists: true;
      readonly type: FileType;
      readonly owned: Owned;
      readonly size: number;
      /** Undefined unless a regular file. */
      readonly sha256?: string;
      /** Current bytes, when small enough and not secret (for diffs). */
      readonly content?: Buffer;
    };

export interface FileSpec {
  readonly key: string;
  readonly path: string;
  readonly content: Buffer;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  readonly secret: boolean;
  /**
   * Shell that must accept the NEW content before it becomes live: it runs
   * on the temp file ("$1"; "$2" is the final path) and a failure leaves the
   * live file untouched (e.g. `panel_nginx_test "$1" "$2"`).
   */
  readonly validate?: Script;
  /** Shell run after the content changed (e.g. `systemctl daemon-reload`). */
  readonly then?: Script;
  /** How the state record lists it (default `file`). */
  readonly recordAs?: 'file' | 'unit' | 'binary';
}

/**
 * Fact snippet for a path; content is included only when `withContent`, and
 * not when the file's sha256 is `unlessSha` (the desired content: no diff to show).
 */
export function fileFactsScript(path: string, withContent: boolean, unlessSha?: string): Script {
  return noStdin(unlessSha === undefined ? sh`panel_file_facts ${path} ${withContent ? 1 : 0}` : sh`panel_file_facts ${path} ${withContent ? 1 : 0} ${unlessSha}`);
}

export function parseFileFacts(key: string, out: FactOutput): FileFacts {
  const kv = parseKv(key, out);
  const exists = one(key, kv, 'exists');
  if (exists === '0') return { exists: false };
  if (exists !== '1') throw new Error(`${key}: bad "exists" fact: ${JSON.stringify(exists)}`);
  const type = one(key, kv, 'type');
  if (type !== 'file' && type !== 'directory' && type !== 'symlink' && type !== 'other') {
    throw new Error(`${key}: bad file type ${JSON.stringify(type)}`);
  }
  const sha = opt(kv, 'sha256');
  const content = opt(kv, 'content');
  return {
    exists: true,
    type,
    owned: parseOwned(key, kv),
    size: int(key, one(key, kv, 'size'), 'size'),
    ...(sha !== undefined && sha !== '-' ? { sha256: sha } : {}),
    ...(content !== undefined ? { content: Buffer.from(content, 'base64') } : {}),
  };
}

function isText(b: Buffer): boolean {
  return !b.includes(0);
}

/** Unified diff labelled with the path; masked for secrets; a note for binary or unread content. */
export function fileDiff(path: string, before: Buffer | undefined, beforeSize: number | undefined, after: Buffer, secret: boolean): string {
  if (secret) return SECRET_DIFF;
  if (before === undefined && beforeSize !== undefined) {
    return `--- ${path}\n+++ ${path}\n(previous content not shown: ${beforeSize} bytes; new content ${after.length} bytes)\n`;
  }
  const old = before ?? Buffer.alloc(0);
  if (!isText(old) || !isText(after)) {
    return `--- ${path}\n+++ ${path}\nBinary content differs (${old.length} → ${after.length} bytes)\n`;
  }
  const { createTwoFilesPatch, FILE_HEADERS_ONLY } = loadDiff();
  return createTwoFilesPatch(before === undefined ? '/dev/null' : path, path, old.toString('utf8'), after.toString('utf8'), undefined, undefined, {
    context: 3,
    headerOptions: FILE_HEADERS_ONLY,
  });
}

// Loaded when a first diff is shown, not at start-up: a converged run shows none.
let diffLib: typeof import('diff') | undefined;
function loadDiff(): typeof import('diff') {
  diffLib ??= loadDiffPackage();
  return diffLib;
}

/**
 * Which versions of a file its write backs up. A secret's backup would be a
 * second copy of the secret, kept after it is changed: only the version from
 * before panel (the one uninstall puts back) is kept, never one panel wrote.
 */
export function backupPolicy(secret: boolean): 'always' | 'first' {
  return secret ? 'first' : 'always';
}

/** Script that writes spec.content with the prelude's one atomic write (validation on the temp file, backup). */
export function writeFileScript(spec: FileSpec): Script {
  return lines(
    writeFile({
      path: spec.path,
      mode: spec.mode,
      owner: { user: spec.owner, group: spec.group },
      backup: backupPolicy(spec.secret),
      validate: spec.validate,
      fill: { bytes: spec.content },
      sha256: sha256(spec.content),
    }),
    spec.then,
  );
}

export function chownScript(path: string, mode: number, owner: string, group: string): Script {
  return sh`panel_own ${path} ${fmtMode(mode)} ${owner} ${group} || exit 1`;
}

/** Pure: what to do to make `facts` match `spec`. */
export function planFile(spec: FileSpec, facts: FileFacts): Change[] {
  const records = [{ kind: spec.recordAs ?? 'file', path: spec.path, existed: facts.exists }] as const;
  const base = { resource: spec.key, target: spec.path, records };
  const want = { mode: spec.mode, owner: spec.owner, group: spec.group };
  const wantSha = sha256(spec.content);
  if (!facts.exists) {
    return [
      {
        ...base,
        action: 'create',
        reason: 'absent',
        diff: fileDiff(spec.path, undefined, undefined, spec.content, spec.secret),
        script: writeFileScript(spec),
      },
    ];
  }
  const drift = ownershipDrift(facts.owned, want);
  if (facts.type !== 'file' || facts.sha256 !== wantSha) {
    const why = facts.type === 'file' ? 'content differs' : `not a regular file (${facts.type})`;
    // Reading a symlink's or directory's "content" makes no sense: diff against nothing.
    const before = facts.type === 'file' ? facts.content : undefined;
    const beforeSize = facts.type === 'file' ? facts.size : undefined;
    return [
      {
        ...base,
        action: 'update',
        reason: [why, ...(facts.type === 'file' ? drift : [])].join(', '),
        diff: fileDiff(spec.path, before, beforeSize, spec.content, spec.secret),
        script: writeFileScript(spec),
      },
    ];
  }
  if (drift.length > 0) {
    return [{ ...base, action: 'update', reason: drift.join(', '), script: chownScript(spec.path, spec.mode, spec.owner, spec.group) }];
  }
  return [];
}

export class FileResource implements Resource<FileFacts> {
  readonly key: string;
  constructor(readonly spec: FileSpec) {
    this.key = spec.key;
  }
  /** Its stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return [this.spec.path];
  }
  facts(): Script {
    return fileFactsScript(this.spec.path, !this.spec.secret, sha256(this.spec.content));
  }
  parse(out: FactOutput): FileFacts {
    return parseFileFacts(this.key, out);
  }
  plan(facts: FileFacts, _ctx: PlanContext): Change[] {
    return planFile(this.spec, facts);
  }
}

export function checkPath(kind: string, path: string): void {
  if (!path.startsWith('/')) throw new Error(`${kind}: path must be absolute: ${JSON.stringify(path)}`);
  if (path.includes('\0') || path.includes('\n')) throw new Error(`${kind}: path contains a NUL or newline: ${JSON.stringify(path)}`);
  if (path.length > 1 && path.endsWith('/')) throw new Error(`${kind}: path must not end with /: ${path}`);
}

export function file(o: FileOptions): FileResource {
  checkPath('file', o.path);
  return new FileResource({
    key: `file:${o.path}`,
    path: o.path,
    content: typeof o.content === 'string' ? Buffer.from(o.content, 'utf8') : o.content,
    mode: o.mode ?? DEFAULT_MODE.file,
    owner: o.owner ?? DEFAULT_OWNER.user,
    group: o.group ?? DEFAULT_OWNER.group,
    secret: o.secret ?? false,
    ...(o.validate !== undefined ? { validate: o.validate } : {}),
  });
}
