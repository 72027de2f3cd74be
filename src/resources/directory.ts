/** A directory with mode and ownership (parents created as needed). */
import { lines, type Script, sh } from '../shell.js';
import type { DirectoryOptions } from './api.js';
import { checkPath, chownScript, fileFactsScript, type FileFacts, parseFileFacts } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { ownershipDrift } from './util.js';
import { DEFAULT_MODE, DEFAULT_OWNER } from './write.js';

export class DirectoryResource implements Resource<FileFacts> {
  readonly key: string;
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
  constructor(readonly path: string, o: DirectoryOptions) {
    this.key = `directory:${path}`;
    this.mode = o.mode ?? DEFAULT_MODE.directory;
    this.owner = o.owner ?? DEFAULT_OWNER.user;
    this.group = o.group ?? DEFAULT_OWNER.group;
  }
  /** Its stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return [this.path];
  }
  facts(): Script {
    return fileFactsScript(this.path, false);
  }
  parse(out: FactOutput): FileFacts {
    return parseFileFacts(this.key, out);
  }
  plan(f: FileFacts, _ctx: PlanContext): Change[] {
    const base = { resource: this.key, target: this.path, records: [{ kind: 'directory' as const, path: this.path, existed: f.exists }] };
    if (!f.exists) {
      return [
        {
          ...base,
          action: 'create',
          reason: 'absent',
          script: lines(sh`mkdir -p -- ${this.path} || exit 1`, chownScript(this.path, this.mode, this.owner, this.group)),
        },
      ];
    }
    if (f.type !== 'directory') {
      // Never delete what is there: a file where a directory should be needs a person.
      return [
        {
          ...base,
          action: 'create',
          reason: `a ${f.type} is in the way`,
          script: sh`panel_fail ${`${this.path} exists and is not a directory (${f.type}); remove it to let panel create the directory`}`,
        },
      ];
    }
    const drift = ownershipDrift(f.owned, { mode: this.mode, owner: this.owner, group: this.group });
    if (drift.length === 0) return [];
    return [{ ...base, action: 'update', reason: drift.join(', '), script: chownScript(this.path, this.mode, this.owner, this.group) }];
  }
}

export function directory(o: DirectoryOptions): DirectoryResource {
  checkPath('directory', o.path);
  return new DirectoryResource(o.path, o);
}

