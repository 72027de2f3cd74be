/**
 * Debian packages installed. Facts come from dpkg's database only (no apt
 * calls, no network), so a converged host costs one dpkg-query.
 */
import { type Script, sh } from '../shell.js';
import type { AptOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, tailOf } from './util.js';

export interface AptFacts {
  /** Packages (by name, without :arch) whose status is `install ok installed`. */
  readonly installed: ReadonlySet<string>;
}

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
    return noStdin(sh`dpkg-query -W -f='\${Package} \${Status}\\n' ${names} 2>/dev/null | sed 's/^/pkg=/'
true`);
  }
  parse(out: FactOutput): AptFacts {
    if (out.code !== 0) throw new Error(`${this.key}: fact script failed (exit ${out.code}): ${tailOf(out.stdout)}`);
    const installed = new Set<string>();
    for (const line of out.stdout.split('\n')) {
      if (line === '') continue;
      const m = /^pkg=(\S+) (\S+) (\S+) (\S+)$/.exec(line);
      if (!m) throw new Error(`${this.key}: unexpected dpkg-query output: ${JSON.stringify(line.slice(0, 120))}`);
      if (m[4] === 'installed') installed.add((m[1] as string).replace(/:.*$/, ''));
    }
    return { installed };
  }
  plan(f: AptFacts, _ctx: PlanContext): Change[] {
    const missing = this.packages.filter((p) => !f.installed.has(p.replace(/[:=].*$/, '')));
    if (missing.length === 0) return [];
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
