/**
 * A secret file: facts carry only existence, checksum and ownership — never
 * the content. A missing file is generated ON THE HOST (the value never
 * travels back), a given value replaces a differing file, and an existing
 * file without a given value is left alone: a password is never rotated by
 * accident.
 */
import { type Script, sh } from '../shell.js';
import type { SecretFileOptions } from './api.js';
import { backupPolicy, checkPath, chownScript, fileFactsScript, type FileFacts, type FileSpec, parseFileFacts, SECRET_DIFF, writeFileScript } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { ownershipDrift, sha256 } from './util.js';
import { DEFAULT_MODE, DEFAULT_OWNER, writeFile } from './write.js';

export const GENERATED_DIFF = '(secret generated on the host; value masked)';

export class SecretFileResource implements Resource<FileFacts> {
  readonly key: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  constructor(readonly o: SecretFileOptions) {
    this.key = `file:${o.path}`;
    this.mode = o.mode ?? DEFAULT_MODE.secret;
    this.owner = o.owner ?? DEFAULT_OWNER.user;
    this.group = o.group ?? DEFAULT_OWNER.group;
  }
  /** Its stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return [this.o.path];
  }
  facts(): Script {
    return fileFactsScript(this.o.path, false);
  }
  parse(out: FactOutput): FileFacts {
    const f = parseFileFacts(this.key, out);
    // Defence in depth: even if a snippet printed content, it never leaves parse.
    if (f.exists && f.content !== undefined) {
      const { content: _dropped, ...rest } = f;
      return rest;
    }
    return f;
  }
  private spec(value: string): FileSpec {
    return { key: this.key, path: this.o.path, content: Buffer.from(value, 'utf8'), mode: this.mode, owner: this.owner, group: this.group, secret: true };
  }
  /** Generated straight into the 0600 temp file of the atomic write; the value is never echoed; empty output is refused before it is live. */
  private generateScript(): Script {
    const nonEmpty = sh`test -s "$1" || { echo "the generate command printed nothing"; exit 1; }`;
    return writeFile({
      path: this.o.path,
      mode: this.mode,
      owner: { user: this.owner, group: this.group },
      backup: backupPolicy(true),
      validate: nonEmpty,
      fill: { run: this.o.generate },
    });
  }
  plan(f: FileFacts, _ctx: PlanContext): Change[] {
    const base = { resource: this.key, target: this.o.path, records: [{ kind: 'file' as const, path: this.o.path, existed: f.exists }] };
    const value = this.o.value?.reveal();
    if (!f.exists) {
      return [
        value === undefined
          ? { ...base, action: 'create', reason: 'absent', diff: GENERATED_DIFF, script: this.generateScript() }
          : { ...base, action: 'create', reason: 'absent', diff: SECRET_DIFF, script: writeFileScript(this.spec(value)) },
      ];
    }
    if (f.type !== 'file') {
      return [{ ...base, action: 'update', reason: `not a regular file (${f.type})`, script: sh`panel_fail ${`${this.o.path} is a ${f.type}, not a secret file`}` }];
    }
    const drift = ownershipDrift(f.owned, { mode: this.mode, owner: this.owner, group: this.group });
    if (value !== undefined && f.sha256 !== sha256(value)) {
      return [{ ...base, action: 'update', reason: ['value differs', ...drift].join(', '), diff: SECRET_DIFF, script: writeFileScript(this.spec(value)) }];
    }
    if (drift.length > 0) {
      return [{ ...base, action: 'update', reason: drift.join(', '), script: chownScript(this.o.path, this.mode, this.owner, this.group) }];
    }
    return [];
  }
}

export function secretFile(o: SecretFileOptions): SecretFileResource {
  checkPath('secretFile', o.path);
  return new SecretFileResource(o);
}
