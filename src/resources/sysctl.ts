/**
 * A kernel parameter: the runtime value (sysctl -w) and its line in a
 * drop-in under /etc/sysctl.d (so it survives a reboot). The file is
 * rewritten with every line for the key replaced by one — never appended
 * to, which is how upstream installers end up with duplicate lines.
 */
import { arg, lines, type Script, sh } from '../shell.js';
import type { SysctlOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, parseKv } from './util.js';

export interface SysctlFacts {
  /** `sysctl -n` output, whitespace-normalised; undefined when the key does not exist. */
  readonly runtime: string | undefined;
  /** Values of the lines for this key in the drop-in, in order. */
  readonly fileValues: readonly string[];
  readonly fileExists: boolean;
}

const KEY = /^[a-z0-9_]+([./][A-Za-z0-9_@:-]+)+$/;
const norm = (v: string): string => v.trim().split(/\s+/).join(' ');

export class SysctlResource implements Resource<SysctlFacts> {
  readonly key: string;
  readonly file: string;
  constructor(readonly o: SysctlOptions) {
    this.key = `sysctl:${o.key}`;
    this.file = o.file ?? '/etc/sysctl.d/99-panel.conf';
  }
  facts(): Script {
    return noStdin(
      lines(
        sh`if __v=$(sysctl -n ${this.o.key} 2>/dev/null); then echo "runtime=$(printf '%s' "$__v" | tr '\\t\\n' '  ')"; else echo runtime=-; fi`,
        sh`if [ -f ${this.file} ]; then echo file=1; K=${this.o.key} awk -F= '{ k=$1; gsub(/^[ \\t-]+|[ \\t]+$/, "", k); gsub(/\\//, ".", k) } k == ENVIRON["K"] { v=substr($0, index($0, "=") + 1); gsub(/^[ \\t]+|[ \\t]+$/, "", v); print "line=" v }' ${this.file}; else echo file=0; fi`,
        sh`true`,
      ),
    );
  }
  parse(out: FactOutput): SysctlFacts {
    const kv = parseKv(this.key, out);
    const runtime = one(this.key, kv, 'runtime');
    return {
      runtime: runtime === '-' ? undefined : norm(runtime),
      fileValues: (kv.get('line') ?? []).map(norm),
      fileExists: one(this.key, kv, 'file') === '1',
    };
  }
  plan(f: SysctlFacts, _ctx: PlanContext): Change[] {
    const want = norm(this.o.value);
    const changes: Change[] = [];
    const fv = f.fileValues;
    if (fv.length !== 1 || fv[0] !== want) {
      const reason = !f.fileExists
        ? 'absent'
        : fv.length === 0
          ? `${this.o.key} line missing`
          : fv.length > 1
            ? `${fv.length} lines for ${this.o.key}`
            : `${this.o.key} = ${fv[0]} → ${want}`;
      changes.push({ resource: this.key, action: 'update', target: this.file, reason, records: [{ kind: 'file', path: this.file, existed: f.fileExists }], script: this.fileScript(want) });
    }
    if (f.runtime !== want) {
      changes.push({
        resource: this.key,
        action: 'set',
        target: this.o.key,
        reason: f.runtime === undefined ? 'unknown key at runtime' : `runtime ${f.runtime} → ${want}`,
        records: [{ kind: 'sysctl', key: this.o.key, value: want, previous: f.runtime ?? null }],
        script: sh`sysctl -q -w ${`${this.o.key}=${this.o.value}`} >/dev/null || exit 1`,
      });
    }
    return changes;
  }
  /** Rewrite the drop-in: every other line kept, all lines for the key replaced by one at the end. */
  private fileScript(want: string): Script {
    const fill = sh`if [ -f ${this.file} ]; then K=${this.o.key} awk -F= '{ k=$1; gsub(/^[ \\t-]+|[ \\t]+$/, "", k); gsub(/\\//, ".", k) } k != ENVIRON["K"]' ${this.file}; fi; printf '%s = %s\\n' ${this.o.key} ${want}`;
    return sh`panel_write ${this.file} 0644 root root always '' ${arg(fill)} || exit 1`;
  }
}

export function sysctl(o: SysctlOptions): SysctlResource {
  if (!KEY.test(o.key)) throw new Error(`sysctl: not a sysctl key: ${JSON.stringify(o.key)}`);
  if (/[\n\r]/.test(o.value)) throw new Error(`sysctl ${o.key}: value contains a newline`);
  if (o.file !== undefined && !o.file.startsWith('/')) throw new Error(`sysctl ${o.key}: file must be absolute`);
  return new SysctlResource(o);
}
