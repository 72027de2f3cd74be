/**
 * A kernel module: loaded now (modprobe) and at boot (modules-load.d entry).
 * A module built into the kernel cannot be loaded and needs no loading: it
 * counts as loaded when /sys/module/<name> exists or modules.builtin lists it.
 */
import { lines, type Script, sh } from '../shell.js';
import type { KernelModuleOptions } from './api.js';
import { file, type FileFacts, FileResource, parseFileFacts } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin } from './util.js';

export interface KernelModuleFacts {
  readonly loaded: boolean;
  readonly conf: FileFacts;
}

const NAME = /^[A-Za-z0-9_-]+$/;

export class KernelModuleResource implements Resource<KernelModuleFacts> {
  readonly key: string;
  readonly conf: FileResource;
  /** /sys/module uses underscores whatever the module was called with. */
  readonly sysName: string;
  constructor(readonly name: string) {
    this.key = `kmod:${name}`;
    this.sysName = name.replace(/-/g, '_');
    this.conf = file({ path: `/etc/modules-load.d/panel-${name}.conf`, content: `${name}\n` });
  }
  facts(): Script {
    return noStdin(
      lines(
        sh`if [ -d /sys/module/${this.sysName} ] || grep -qE ${`/${this.sysName.replace(/_/g, '[_-]')}\\.ko(\\.[a-z]+)?$`} /lib/modules/"$(uname -r)"/modules.builtin 2>/dev/null; then echo loaded=1; else echo loaded=0; fi`,
        this.conf.facts(),
      ),
    );
  }
  parse(out: FactOutput): KernelModuleFacts {
    const lines = out.stdout.split('\n');
    const first = lines[0];
    if (first !== 'loaded=0' && first !== 'loaded=1') throw new Error(`${this.key}: unexpected fact output: ${JSON.stringify(first)}`);
    return { loaded: first === 'loaded=1', conf: parseFileFacts(this.key, { stdout: lines.slice(1).join('\n'), code: out.code }) };
  }
  plan(f: KernelModuleFacts, ctx: PlanContext): Change[] {
    const changes = this.conf.plan(f.conf, ctx).map((c) => ({ ...c, resource: this.key }));
    if (!f.loaded) {
      changes.push({
        resource: this.key,
        action: 'load',
        target: this.name,
        reason: 'not loaded',
        records: [{ kind: 'kmod', name: this.name, existed: false }],
        script: sh`if ! __out=$(modprobe ${this.name} 2>&1); then [ -d /sys/module/${this.sysName} ] || panel_fail ${`modprobe ${this.name} failed:`} "$__out"; fi`,
      });
    }
    return changes;
  }
}

export function kernelModule(o: KernelModuleOptions): KernelModuleResource {
  if (!NAME.test(o.name)) throw new Error(`kernelModule: not a module name: ${JSON.stringify(o.name)}`);
  return new KernelModuleResource(o.name);
}
