/**
 * One inbound ufw rule on one interface: `ufw allow in on IF to any port P
 * proto tcp|udp`, added only where ufw is installed and enabled (Ubuntu cloud
 * images: default deny incoming). Where ufw is absent or disabled panel adds
 * nothing, and it never touches any other rule or ufw's policies.
 *
 * Facts come from ufw's own files, not `ufw status` (a Python start per run):
 * ufw is active exactly when /etc/ufw/ufw.conf says ENABLED=yes (that is what
 * `ufw status` reports), and every rule it added has a `### tuple ###` line in
 * /etc/ufw/user.rules.
 */
import { lines, type Script, sh } from '../shell.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, parseKv } from './util.js';

export interface UfwAllowInOptions {
  /** Interface the traffic arrives on, e.g. `openfaas0`. */
  readonly iface: string;
  readonly port: number;
  readonly proto: 'tcp' | 'udp';
}

export interface UfwFacts {
  readonly installed: boolean;
  readonly enabled: boolean;
  /** The IPv4 rule is in user.rules. */
  readonly present: boolean;
}

const IFACE = /^[A-Za-z0-9_.-]{1,15}$/;

export class UfwAllowInResource implements Resource<UfwFacts> {
  readonly key: string;
  /** The ufw command line (after `ufw`), as a user would type it. */
  readonly rule: readonly string[];
  /** The line ufw writes for it in /etc/ufw/user.rules. */
  readonly tuple: string;
  constructor(readonly o: UfwAllowInOptions) {
    this.key = `ufw:allow in on ${o.iface} port ${o.port}/${o.proto}`;
    this.rule = ['allow', 'in', 'on', o.iface, 'to', 'any', 'port', String(o.port), 'proto', o.proto];
    this.tuple = `### tuple ### allow ${o.proto} ${o.port} 0.0.0.0/0 any 0.0.0.0/0 in_${o.iface}`;
  }
  facts(): Script {
    return noStdin(
      lines(
        sh`{ command -v ufw || [ -x /usr/sbin/ufw ]; } >/dev/null 2>&1 && echo installed=1 || echo installed=0`,
        sh`grep -qE '^[[:space:]]*ENABLED[[:space:]]*=[[:space:]]*"?yes"?[[:space:]]*$' /etc/ufw/ufw.conf 2>/dev/null && echo enabled=1 || echo enabled=0`,
        sh`grep -qxF ${this.tuple} /etc/ufw/user.rules 2>/dev/null && echo present=1 || echo present=0`,
      ),
    );
  }
  parse(out: FactOutput): UfwFacts {
    const kv = parseKv(this.key, out);
    const flag = (name: string): boolean => one(this.key, kv, name) === '1';
    return { installed: flag('installed'), enabled: flag('enabled'), present: flag('present') };
  }
  plan(f: UfwFacts, _ctx: PlanContext): Change[] {
    if (!f.installed || !f.enabled || f.present) return [];
    return [
      {
        resource: this.key,
        action: 'create',
        target: `ufw ${this.rule.join(' ')}`,
        reason: 'ufw is active and the rule is missing',
        records: [{ kind: 'firewall', rule: `ufw ${this.rule.join(' ')}`, existed: false }],
        script: sh`__out=$(ufw ${this.rule} 2>&1) || panel_fail ${`ufw ${this.rule.join(' ')} failed:`} "$__out"`,
      },
    ];
  }
}

export function ufwAllowIn(o: UfwAllowInOptions): UfwAllowInResource {
  if (!IFACE.test(o.iface)) throw new Error(`ufwAllowIn: not an interface name: ${JSON.stringify(o.iface)}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`ufwAllowIn: not a port: ${o.port}`);
  return new UfwAllowInResource(o);
}
