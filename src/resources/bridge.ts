/**
 * A Linux bridge with an IPv4 address, up. Runtime state only: persisting it
 * across reboots is out of scope for now because faasd's CNI bridge plugin
 * recreates openfaas0 on start; a future version may write a systemd-networkd
 * netdev/network pair instead.
 */
import { lines, type Script, sh } from '../shell.js';
import type { BridgeOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, parseKv } from './util.js';

export type BridgeFacts =
  | { readonly exists: false }
  | { readonly exists: true; readonly kind: string; readonly up: boolean; readonly addresses: readonly string[] };

/** One link of `ip -d -j addr show`: the link's flags and kind, and its addresses. */
interface IpLink {
  flags?: string[];
  linkinfo?: { info_kind?: string };
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const CIDR = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

export class BridgeResource implements Resource<BridgeFacts> {
  readonly key: string;
  constructor(readonly o: BridgeOptions) {
    this.key = `bridge:${o.name}`;
  }
  facts(): Script {
    // One ip process: addr show with -d has the link's flags and kind too; it fails when there is no such link.
    return noStdin(sh`if __l=$(ip -d -j addr show dev ${this.o.name} 2>/dev/null); then
  echo exists=1
  echo "link=\${__l//$'\\n'/}"
else echo exists=0; fi`);
  }
  parse(out: FactOutput): BridgeFacts {
    const kv = parseKv(this.key, out);
    if (one(this.key, kv, 'exists') === '0') return { exists: false };
    let links: IpLink[];
    try {
      links = JSON.parse(one(this.key, kv, 'link')) as IpLink[];
    } catch (e) {
      throw new Error(`${this.key}: cannot parse \`ip -j\` output: ${(e as Error).message}`);
    }
    const link = links[0];
    if (!link) throw new Error(`${this.key}: \`ip -j addr\` returned no link`);
    const addresses = links.flatMap((a) => (a.addr_info ?? []).filter((i) => i.family === 'inet' && i.local).map((i) => `${i.local}/${i.prefixlen}`));
    return { exists: true, kind: link.linkinfo?.info_kind ?? '', up: (link.flags ?? []).includes('UP'), addresses };
  }
  plan(f: BridgeFacts, _ctx: PlanContext): Change[] {
    const { name, address } = this.o;
    const base = { resource: this.key, target: name };
    const addAddr = sh`ip addr add ${address} dev ${name} || exit 1`;
    const up = sh`ip link set dev ${name} up || exit 1`;
    if (!f.exists) {
      return [{ ...base, action: 'create', reason: 'absent', records: [{ kind: 'link', name, existed: false }], script: lines(sh`ip link add name ${name} type bridge || exit 1`, addAddr, up) }];
    }
    if (f.kind !== 'bridge') {
      return [{ ...base, action: 'create', reason: `a ${f.kind || 'non-bridge'} link is in the way`, script: sh`panel_fail ${`link ${name} exists and is not a bridge (${f.kind || 'unknown kind'})`}` }];
    }
    const changes: Change[] = [];
    if (!f.addresses.includes(address)) {
      changes.push({ ...base, action: 'update', reason: `address ${address} missing`, records: [{ kind: 'link', name, existed: true }], script: addAddr });
    }
    if (!f.up) changes.push({ ...base, action: 'update', reason: 'down', records: [{ kind: 'link', name, existed: true }], script: up });
    return changes;
  }
}

export function bridge(o: BridgeOptions): BridgeResource {
  if (!NAME.test(o.name)) throw new Error(`bridge: not an interface name: ${JSON.stringify(o.name)}`);
  const m = CIDR.exec(o.address);
  if (!m || m.slice(1, 5).some((x) => Number(x) > 255) || Number(m[5]) > 32) throw new Error(`bridge ${o.name}: not an IPv4 CIDR: ${JSON.stringify(o.address)}`);
  return new BridgeResource(o);
}
