/**
 * Debian packages installed. Facts come from dpkg's database only (no apt
 * calls, no network), so a converged host costs one dpkg-query. When an
 * install is planned while cloud-init runs or another process holds the dpkg
 * lock (first boot of a cloud host: unattended-upgrades, cloud-init),
 * planning says so: the apt step waits for them (prelude: PANEL_APT_WAIT).
 * Likewise when dpkg was interrupted (killed, or the host lost power, mid
 * install): the apt step runs "dpkg --configure -a" before anything else.
 */
import { type Script, sh } from '../shell.js';
import type { AptOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { factFailed, noStdin } from './util.js';

export interface AptFacts {
  /** Packages (by name, without :arch) whose status is `install ok installed`. */
  readonly installed: ReadonlySet<string>;
  /** `NAME (pid N)` of the process holding dpkg's lock, when one does. */
  readonly lockHolder: string | undefined;
  readonly cloudInitRunning: boolean;
  /** Packages `dpkg --audit` lists (an interrupted dpkg), or `[]`; undefined when dpkg is sound. */
  readonly interrupted: readonly string[] | undefined;
}

/** How long apt steps wait for cloud-init and the dpkg lock: the prelude's PANEL_APT_WAIT default, and messages. */
export const APT_WAIT_MINUTES = 10;

const PKG = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?(=[A-Za-z0-9.+~:-]+)?$/;

export class AptResource implements Resource<AptFacts> {
  readonly key: string;
  readonly packages: readonly string[];
  constructor(packages: readonly string[]) {
    this.packages = [...new Set(packages)].sort();
    this.key = `apt:${this.packages.join(',')}`;
  }
  facts(): Script {
    // dpkg-query exits 1 for packages it has never heard of; that is "absent", not an error.
    const names = this.packages.map((p) => p.replace(/[:=].*$/, ''));
    // The lock holder, cloud-init and an interrupted dpkg matter only to an
    // apt step, and there is none when every package is installed: a
    // converged host skips them (dpkg --audit reads dpkg's whole database).
    return noStdin(sh`__q=$(dpkg-query -W -f='pkg=\${Package} \${Status}\\n' ${names} 2>/dev/null)
[ -z "$__q" ] || printf '%s\\n' "$__q"
__all=1
for __p in ${names}; do [[ $'\\n'$__q$'\\n' == *$'\\n'"pkg=$__p install ok installed"$'\\n'* ]] || { __all=0; break; }; done
if [ "$__all" = 0 ]; then
  __h=$(panel_dpkg_lock_holder); [ -z "$__h" ] || printf 'lock=%s\\n' "$__h"
  panel_cloud_init_running && echo cloudinit=running
  __a=$(panel_dpkg_interrupted) && printf 'interrupted=%s\\n' "$(panel_dpkg_audit_names "$__a")"
fi
true`);
  }
  parse(out: FactOutput): AptFacts {
    if (out.code !== 0) throw factFailed(this.key, out);
    const installed = new Set<string>();
    let lockHolder: string | undefined;
    let cloudInitRunning = false;
    let interrupted: string[] | undefined;
    for (const line of out.stdout.split('\n')) {
      if (line === '') continue;
      if (line.startsWith('lock=')) {
        lockHolder = line.slice(5);
        continue;
      }
      if (line.startsWith('interrupted=')) {
        interrupted = line.slice(12).split(', ').filter((p) => PKG.test(p));
        continue;
      }
      if (line === 'cloudinit=running') {
        cloudInitRunning = true;
        continue;
      }
      const m = /^pkg=(\S+) (\S+) (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error(`${this.key}: unexpected dpkg-query output: ${JSON.stringify(line.slice(0, 120))}`);
      if (m[4] === 'installed') installed.add((m[1] as string).replace(/:.*$/, ''));
    }
    return { installed, lockHolder, cloudInitRunning, interrupted };
  }
  plan(f: AptFacts, ctx: PlanContext): Change[] {
    const missing = this.packages.filter((p) => !f.installed.has(p.replace(/[:=].*$/, '')));
    if (missing.length === 0) return [];
    if (f.cloudInitRunning) ctx.warn?.(`cloud-init is still running (first boot): apt steps wait for it to finish (up to ${APT_WAIT_MINUTES} min)`);
    if (f.interrupted) {
      const which = f.interrupted.length > 0 ? ` (${f.interrupted.join(', ')} not configured)` : '';
      ctx.warn?.(`dpkg was interrupted${which}: apt steps run "dpkg --configure -a" first`);
    }
    if (f.lockHolder) ctx.warn?.(`the dpkg lock is held by ${f.lockHolder}: apt steps wait for it (up to ${APT_WAIT_MINUTES} min)`);
    return [
      {
        resource: this.key,
        action: 'install',
        target: missing.join(' '),
        reason: 'not installed',
        // Only what panel installs is recorded: uninstall keeps packages that were there before.
        records: missing.map((p) => ({ kind: 'package' as const, name: p.replace(/[:=].*$/, '') })),
        script: sh`panel_apt_install ${missing} || exit 1`,
      },
    ];
  }
}

export function apt(o: AptOptions): AptResource {
  if (o.packages.length === 0) throw new Error('apt: no packages given');
  for (const p of o.packages) if (!PKG.test(p)) throw new Error(`apt: not a package name: ${JSON.stringify(p)}`);
  return new AptResource(o.packages);
}
