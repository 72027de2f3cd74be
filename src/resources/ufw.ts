/**
 * panel and ufw. panel adds one inbound ufw rule on one interface: `ufw allow
 * in on IF to any port P proto tcp|udp`, only where ufw is installed and
 * enabled (Ubuntu cloud images: default deny incoming). Where ufw is absent or
 * disabled panel adds nothing, and it never touches any other rule or ufw's
 * policies. Ports a service needs open to everyone (nginx's 80 and 443) are
 * the user's to open: ufwExpectOpen only warns when ufw would drop them.
 *
 * Facts come from ufw's own files, not `ufw status` (a Python start per run):
 * ufw is active exactly when /etc/ufw/ufw.conf says ENABLED=yes (that is what
 * `ufw status` reports), every rule it added has a `### tuple ###` line in
 * /etc/ufw/user.rules, and `ufw default` writes DEFAULT_INPUT_POLICY to
 * /etc/default/ufw.
 */
import { lines, type Script, sh } from '../shell.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, opt, parseKv } from './util.js';

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

/**
 * Fact lines `installed=0|1` and `enabled=0|1`, shared by both resources. The
 * files are read by bash (a line at a time, the last one also without its
 * newline, as grep and sed read them): no process per fact, and none at all
 * on a host without ufw.
 */
const UFW_STATE = lines(
  sh`{ command -v ufw || [ -x /usr/sbin/ufw ]; } >/dev/null 2>&1 && echo installed=1 || echo installed=0`,
  sh.raw`__e=0 __re='^[[:space:]]*ENABLED[[:space:]]*=[[:space:]]*"?yes"?[[:space:]]*$'
if [ -r /etc/ufw/ufw.conf ]; then while IFS= read -r __l || [ -n "$__l" ]; do [[ $__l =~ $__re ]] && { __e=1; break; }; done </etc/ufw/ufw.conf; fi
echo "enabled=$__e"`,
);

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
        UFW_STATE,
        sh`__t=${this.tuple} __p=0`,
        sh.raw`if [ -r /etc/ufw/user.rules ]; then while IFS= read -r __l || [ -n "$__l" ]; do [ "$__l" = "$__t" ] && { __p=1; break; }; done </etc/ufw/user.rules; fi
echo "present=$__p"`,
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
  validPort('ufwAllowIn', o.port);
  return new UfwAllowInResource(o);
}

function validPort(what: string, port: number): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${what}: not a port: ${port}`);
}

export interface ExpectedPort {
  readonly port: number;
  /** What the port is for, in the warning: `ACME HTTP-01 validation and http`. */
  readonly for: string;
}

export interface UfwExpectOpenOptions {
  /** What listens on them, in the warning: `nginx`. */
  readonly service: string;
  readonly ports: readonly ExpectedPort[];
  readonly proto: 'tcp' | 'udp';
}

/** What ufw's files say about inbound traffic. */
export interface UfwInboundFacts {
  readonly installed: boolean;
  readonly enabled: boolean;
  /** DEFAULT_INPUT_POLICY: `DROP` (deny), `REJECT` or `ACCEPT` (allow); undefined when unreadable. */
  readonly inputPolicy?: string;
  /** The `### tuple ###` lines of /etc/ufw/user.rules, without that prefix, in rule order. */
  readonly tuples: readonly string[];
}

/** One user rule as ufw records it (`### tuple ### ACTION PROTO DPORT DST SPORT SRC [DAPP SAPP] DIRECTION[_IFACE] [comment=HEX]`). */
interface UfwTuple {
  readonly action: string;
  readonly proto: string;
  readonly dport: string;
  readonly src: string;
  readonly direction: string;
  readonly iface?: string;
}

function parseTuple(text: string): UfwTuple | undefined {
  const f = text.trim().split(/\s+/).filter((w) => !w.startsWith('comment='));
  // 7 fields for a port rule; an application rule adds its names (`Nginx%20Full -`) before the direction.
  if (f.length !== 7 && f.length !== 9) return undefined;
  const [action, proto, dport, , , src] = f as [string, string, string, string, string, string];
  const dir = f[f.length - 1]!;
  const us = dir.indexOf('_');
  return { action, proto, dport, src, direction: us < 0 ? dir : dir.slice(0, us), ...(us < 0 ? {} : { iface: dir.slice(us + 1) }) };
}

/** `any`, `443`, `80,443`, `8000:9000`, `80,443,8000:8100`. */
function coversPort(dport: string, port: number): boolean {
  if (dport === 'any') return true;
  return dport.split(',').some((p) => {
    const [lo, hi] = p.split(':').map(Number) as [number, number | undefined];
    return hi === undefined ? lo === port : lo <= port && port <= hi;
  });
}

const ANY_SOURCE = new Set(['0.0.0.0/0', '::/0']);

/**
 * The ports of `ports` that ufw drops for a client anywhere, judged as ufw
 * does: the first user rule that matches decides (`allow`/`limit` let it in,
 * `deny`/`reject` keep it out; `_log…` suffixes do not matter), else the
 * default incoming policy. Where it cannot know which interface faces the
 * internet it stays silent: a rule for one interface that allows the port
 * counts as open, one that denies it does not close it, and a rule for some
 * sources only decides nothing. Route (forward) and outbound rules are not
 * about reaching this host.
 */
export function closedPorts(f: UfwInboundFacts, ports: readonly number[], proto: 'tcp' | 'udp'): number[] {
  if (!f.installed || !f.enabled) return [];
  const rules = f.tuples.map(parseTuple).filter((t): t is UfwTuple => t !== undefined && t.direction === 'in' && ANY_SOURCE.has(t.src));
  return ports.filter((port) => {
    for (const r of rules) {
      if ((r.proto !== proto && r.proto !== 'any') || !coversPort(r.dport, port)) continue;
      const action = r.action.replace(/_log(-all)?$/, '');
      if (action === 'allow' || action === 'limit') return false;
      if ((action === 'deny' || action === 'reject') && r.iface === undefined) return true;
    }
    return f.inputPolicy !== 'ACCEPT';
  });
}

/**
 * Ports a recipe's service needs reachable from anywhere. panel does not open
 * them (a firewall's openings are the user's choice; panel adds only its own
 * provider rule): when ufw is active and would drop any of them, planning
 * warns once, naming the ports and the command that opens them. Never a change.
 */
export class UfwExpectOpenResource implements Resource<UfwInboundFacts> {
  readonly key: string;
  constructor(readonly o: UfwExpectOpenOptions) {
    this.key = `ufw:expect open in ${o.ports.map((p) => p.port).join(',')}/${o.proto}`;
  }
  facts(): Script {
    return noStdin(
      lines(
        UFW_STATE,
        sh.raw`__re='^[[:space:]]*DEFAULT_INPUT_POLICY[[:space:]]*=[[:space:]]*"?([A-Za-z]+)"?[[:space:]]*$'
if [ -r /etc/default/ufw ]; then while IFS= read -r __l || [ -n "$__l" ]; do [[ $__l =~ $__re ]] && echo "policy=\${BASH_REMATCH[1]}"; done </etc/default/ufw; fi
if [ -r /etc/ufw/user.rules ]; then while IFS= read -r __l || [ -n "$__l" ]; do [[ $__l == '### tuple ### '* ]] && echo "tuple=\${__l#'### tuple ### '}"; done </etc/ufw/user.rules; fi
true`,
      ),
    );
  }
  parse(out: FactOutput): UfwInboundFacts {
    const kv = parseKv(this.key, out);
    const flag = (name: string): boolean => one(this.key, kv, name) === '1';
    const policy = opt(kv, 'policy');
    return { installed: flag('installed'), enabled: flag('enabled'), ...(policy ? { inputPolicy: policy.toUpperCase() } : {}), tuples: kv.get('tuple') ?? [] };
  }
  plan(f: UfwInboundFacts, ctx: PlanContext): Change[] {
    const closed = new Set(closedPorts(f, this.o.ports.map((p) => p.port), this.o.proto));
    const missing = this.o.ports.filter((p) => closed.has(p.port));
    if (missing.length > 0) {
      const named = missing.map((p) => `${p.port}/${this.o.proto} (${p.for})`).join(' and ');
      ctx.warn?.(
        `ufw is active and drops incoming ${named}, so nothing reaches ${this.o.service} there; ` +
          `panel leaves ufw's rules to you: ufw allow ${missing.map((p) => p.port).join(',')}/${this.o.proto}`,
      );
    }
    return [];
  }
}

export function ufwExpectOpen(o: UfwExpectOpenOptions): UfwExpectOpenResource {
  if (o.ports.length === 0) throw new Error('ufwExpectOpen: no ports');
  for (const p of o.ports) validPort('ufwExpectOpen', p.port);
  return new UfwExpectOpenResource(o);
}
