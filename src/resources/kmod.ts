/**
 * A kernel module the host must have: loaded now (modprobe) and at boot
 * (modules-load.d entry) — unless nothing needs loading.
 *
 * - Built into the kernel: nothing to do, and no modules-load.d entry either
 *   (with no /lib/modules, systemd-modules-load would fail on it at boot).
 *   Built in means present but not in /proc/modules: /sys/module/<name>, a
 *   line in modules.builtin, or what the module provides (br_netfilter:
 *   /proc/sys/net/bridge; overlay: the filesystem) — a kernel may have it
 *   built in with neither of the first two, and one with no loadable module
 *   support at all has no /proc/modules.
 * - Loaded as a module: the entry keeps it loaded after a reboot.
 * - Missing: load it, installing kmod first when modprobe is missing
 *   (minimal Debian images have no kmod).
 * - Inside a container (LXC, OpenVZ, …) nothing can be loaded: a module the
 *   container's machine has loaded is a warning (panel cannot make it load at
 *   boot), a missing one a failure that says what to do.
 */
import { lines, type Script, sh } from '../shell.js';
import type { KernelModuleOptions } from './api.js';
import { file, type FileFacts, FileResource, parseFileFacts } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, parseKv } from './util.js';

export interface KernelModuleFacts {
  /** The kernel supports loadable modules (/proc/modules exists). */
  readonly loadable: boolean;
  /** Listed in /proc/modules: loaded as a module. */
  readonly listed: boolean;
  /** Present some other way: /sys/module, modules.builtin, or what it provides. */
  readonly builtIn: boolean;
  /** `systemd-detect-virt -c` (or /proc/vz, /run/systemd/container); undefined when not a container. */
  readonly container: string | undefined;
  readonly modprobe: boolean;
  readonly conf: FileFacts;
}

const NAME = /^[A-Za-z0-9_-]+$/;

/** What a module provides once loaded, for kernels that list it nowhere. */
const PROVIDES: Readonly<Record<string, Script>> = {
  br_netfilter: sh`[ -d /proc/sys/net/bridge ]`,
  overlay: sh`grep -qw overlay /proc/filesystems`,
};

const CONTAINER = sh.raw`__c=$(systemd-detect-virt -c 2>/dev/null) || __c=none
if [ "$__c" = none ]; then
  if [ -d /proc/vz ] && [ ! -d /proc/bc ]; then __c=openvz
  elif [ -s /run/systemd/container ]; then __c=$(head -n 1 /run/systemd/container)
  fi
fi
echo "container=$__c"`;

export class KernelModuleResource implements Resource<KernelModuleFacts> {
  readonly key: string;
  readonly conf: FileResource;
  /** /sys/module and /proc/modules use underscores whatever the module was called with. */
  readonly sysName: string;
  constructor(readonly name: string) {
    this.key = `kmod:${name}`;
    this.sysName = name.replace(/-/g, '_');
    this.conf = file({ path: `/etc/modules-load.d/panel-${name}.conf`, content: `${name}\n` });
  }
  /** Its modules-load.d entry's stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return this.conf.paths;
  }
  facts(): Script {
    const inBuiltinList = `/${this.sysName.replace(/_/g, '[_-]')}\\.ko(\\.[a-z]+)?$`;
    const provides = PROVIDES[this.sysName] ?? sh`false`;
    return noStdin(
      lines(
        sh`[ -e /proc/modules ] && echo loadable=1 || echo loadable=0`,
        // Read by bash (a grep here was a process on every run): the name is a line's first field.
        sh`__x=0 __n=${this.sysName}`,
        sh.raw`if [ -r /proc/modules ]; then while read -r __m __r; do [ "$__m" = "$__n" ] && { __x=1; break; }; done </proc/modules; fi
echo "listed=$__x"`,
        sh`if [ -d /sys/module/${this.sysName} ] || grep -qE ${inBuiltinList} /lib/modules/"$(uname -r)"/modules.builtin 2>/dev/null || ${provides}; then echo builtin=1; else echo builtin=0; fi`,
        CONTAINER,
        sh`{ command -v modprobe || [ -x /sbin/modprobe ]; } >/dev/null 2>&1 && echo modprobe=1 || echo modprobe=0`,
        this.conf.facts(),
      ),
    );
  }
  parse(out: FactOutput): KernelModuleFacts {
    const own: string[] = [];
    const rest: string[] = [];
    for (const line of out.stdout.split('\n')) (/^(loadable|listed|builtin|container|modprobe)=/.test(line) ? own : rest).push(line);
    const kv = parseKv(this.key, { stdout: own.join('\n'), code: out.code });
    const flag = (name: string): boolean => {
      const v = one(this.key, kv, name);
      if (v !== '0' && v !== '1') throw new Error(`${this.key}: fact ${name} is not 0 or 1: ${JSON.stringify(v)}`);
      return v === '1';
    };
    const container = one(this.key, kv, 'container').trim();
    return {
      loadable: flag('loadable'),
      listed: flag('listed'),
      builtIn: flag('builtin'),
      container: container === '' || container === 'none' ? undefined : container,
      modprobe: flag('modprobe'),
      conf: parseFileFacts(this.key, { stdout: rest.join('\n'), code: out.code }),
    };
  }
  plan(f: KernelModuleFacts, ctx: PlanContext): Change[] {
    const n = this.name;
    if (f.listed && f.container) {
      ctx.warn?.(
        `kernel module ${n} is loaded by the machine this container (${f.container}) runs on; a container cannot load modules, so panel cannot keep it loaded after that machine reboots: list ${n} in /etc/modules-load.d/ there`,
      );
      return [];
    }
    if (f.builtIn && !f.listed) return [];
    const conf = this.conf.plan(f.conf, ctx).map((c) => ({ ...c, resource: this.key }));
    if (f.listed) return conf;
    if (f.container || !f.loadable) {
      throw new Error(
        f.container
          ? `kernel module ${n} is missing and this host is a container (${f.container}), which cannot load kernel modules: load it on the machine the container runs on (modprobe ${n}, and list it in /etc/modules-load.d/ there), or use a VM`
          : `kernel module ${n} is missing and this kernel cannot load modules (no /proc/modules): boot a kernel that has ${n} built in or as a module`,
      );
    }
    const changes: Change[] = [...conf];
    const kmodPlanned = ctx.planned.some((c) => c.action === 'install' && c.target.split(' ').includes('kmod'));
    if (!f.modprobe && !kmodPlanned) {
      changes.push({ resource: this.key, action: 'install', target: 'kmod', reason: 'modprobe missing', records: [{ kind: 'package', name: 'kmod' }], script: sh`panel_apt_install kmod || exit 1` });
    }
    changes.push({
      resource: this.key,
      action: 'load',
      target: n,
      reason: 'not loaded',
      records: [{ kind: 'kmod', name: n, existed: false }],
      script: sh`if ! __out=$(modprobe ${n} 2>&1); then [ -d /sys/module/${this.sysName} ] || panel_fail ${`modprobe ${n} failed (are the running kernel's modules installed? after a kernel upgrade, reboot first):`} "$__out"; fi`,
    });
    return changes;
  }
}

export function kernelModule(o: KernelModuleOptions): KernelModuleResource {
  if (!NAME.test(o.name)) throw new Error(`kernelModule: not a module name: ${JSON.stringify(o.name)}`);
  return new KernelModuleResource(o.name);
}
