/**
 * A guarded command: `check` runs with the facts (read-only, exit 0 = done);
 * `run` is planned only when the check fails, so "changed" means it ran.
 */
import { type Script, sh } from '../shell.js';
import type { CommandOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { int, one, parseKv } from './util.js';

export interface CommandFacts {
  /** Exit code of `check`. */
  readonly check: number;
}

export class CommandResource implements Resource<CommandFacts> {
  readonly key: string;
  constructor(readonly o: CommandOptions) {
    this.key = `command:${o.name}`;
  }
  facts(): Script {
    // The check's own output is discarded: it must not be able to forge fact lines.
    return sh`( ${this.o.check}
) </dev/null >/dev/null 2>&1
echo "check=$?"`;
  }
  parse(out: FactOutput): CommandFacts {
    const kv = parseKv(this.key, out);
    return { check: int(this.key, one(this.key, kv, 'check'), 'check exit code') };
  }
  plan(f: CommandFacts, _ctx: PlanContext): Change[] {
    if (f.check === 0) return [];
    return [{ resource: this.key, action: 'run', target: this.o.name, reason: this.o.reason ?? 'check failed', script: this.o.run }];
  }
}

export function command(o: CommandOptions): CommandResource {
  if (o.name.trim() === '') throw new Error('command: name is empty');
  return new CommandResource(o);
}
