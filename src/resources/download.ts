/**
 * A file fetched on the HOST from a URL and pinned by sha256. The download
 * lands in a temp file, is verified, then cached under
 * /var/cache/panel/downloads/<sha256> (a re-install never re-fetches) and
 * renamed over dest; a mismatch leaves dest untouched.
 */
import { basename } from 'node:path';
import { lines, type Script, sh } from '../shell.js';
import type { DownloadOptions } from './api.js';
import { checkPath, chownScript, fileFactsScript, type FileFacts, parseFileFacts } from './file.js';
import type { Recorded } from '../engine/state.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { isSha256, ownershipDrift } from './util.js';
import { DEFAULT_MODE, DEFAULT_OWNER, writeFile } from './write.js';

/**
 * Shell that installs the verified artifact at `dest` through the prelude's
 * atomic write; only a version panel never recorded is backed up (the one
 * from before panel), not every release it replaces.
 */
export function installVerifiedScript(url: string, sha: string, dest: string, mode: number, owner: string, group: string): Script {
  return lines(
    sh`__c=$(panel_fetch_verified ${url} ${sha}) || exit 1`,
    writeFile({ path: dest, mode, owner: { user: owner, group }, backup: 'first', fill: { run: sh`cat -- "$__c"` }, sha256: sha }),
  );
}

export class DownloadResource implements Resource<FileFacts> {
  readonly key: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  constructor(readonly o: DownloadOptions) {
    this.key = `download:${o.dest}`;
    this.mode = o.mode ?? DEFAULT_MODE.file;
    this.owner = o.owner ?? DEFAULT_OWNER.user;
    this.group = o.group ?? DEFAULT_OWNER.group;
  }
  /** Its stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return [this.o.dest];
  }
  facts(): Script {
    return fileFactsScript(this.o.dest, false);
  }
  parse(out: FactOutput): FileFacts {
    return parseFileFacts(this.key, out);
  }
  plan(f: FileFacts, ctx: PlanContext): Change[] {
    if (!f.exists && this.o.firstInstallNotice !== undefined) ctx.warn?.(this.o.firstInstallNotice);
    const records: Recorded[] = [
      { kind: (this.mode & 0o111) !== 0 ? 'binary' : 'file', path: this.o.dest, existed: f.exists },
      ...(this.o.artifact ? [{ kind: 'artifact' as const, path: this.o.artifact.path, sha256: this.o.sha256, source: this.o.artifact.source }] : []),
    ];
    const base = { resource: this.key, target: this.o.dest, records };
    const install = (reason: string): Change => ({
      ...base,
      action: 'install',
      reason,
      script: installVerifiedScript(this.o.url, this.o.sha256, this.o.dest, this.mode, this.owner, this.group),
    });
    if (!f.exists) return [install('absent')];
    if (f.type !== 'file') return [install(`not a regular file (${f.type})`)];
    const drift = ownershipDrift(f.owned, { mode: this.mode, owner: this.owner, group: this.group });
    if (f.sha256 !== this.o.sha256) return [install(['checksum differs', ...drift].join(', '))];
    if (drift.length > 0) return [{ ...base, action: 'update', reason: drift.join(', '), script: chownScript(this.o.dest, this.mode, this.owner, this.group) }];
    return [];
  }
}

export function checkUrl(kind: string, url: string, sha: string): void {
  if (!/^(https?|file):\/\/[^\s]+$/.test(url)) throw new Error(`${kind}: not an http(s) or file URL: ${JSON.stringify(url)}`);
  if (!isSha256(sha)) throw new Error(`${kind} ${basename(url)}: sha256 must be 64 lowercase hex digits, got ${JSON.stringify(sha)}`);
}

export function download(o: DownloadOptions): DownloadResource {
  checkPath('download', o.dest);
  checkUrl('download', o.url, o.sha256);
  return new DownloadResource(o);
}
