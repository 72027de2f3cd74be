/**
 * Runner-side networking: one bridge per bed and one network namespace per host,
 * joined by a veth pair. Hosts get an address on the bridge subnet and no default
 * route: they reach only the bed (apt repo, mirror, Pebble) and each other.
 */
import { must, run } from './run.js';

export function subnetOf(slot: number): { prefix: string; bridge: string; prefix6: string } {
  return { prefix: `10.231.${slot}`, bridge: `10.231.${slot}.1`, prefix6: `fd31:231:${slot}::` };
}

const ip = (...args: string[]): Promise<string> => must(['ip', ...args]);

export async function linkExists(name: string): Promise<boolean> {
  return (await run(['ip', 'link', 'show', 'dev', name])).code === 0;
}

export async function netnsList(): Promise<string[]> {
  const out = (await run(['ip', 'netns', 'list'])).stdout;
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** True when no interface on the runner already uses this /24 (someone else's network). */
export async function subnetFree(slot: number): Promise<boolean> {
  const out = (await run(['ip', '-4', '-o', 'addr', 'show'])).stdout;
  return !out.includes(` ${subnetOf(slot).prefix}.`);
}

export async function createBridge(name: string, slot: number): Promise<void> {
  const s = subnetOf(slot);
  await ip('link', 'add', name, 'type', 'bridge');
  await ip('addr', 'add', `${s.bridge}/24`, 'dev', name);
  // nodad: the address is usable at once instead of after duplicate detection.
  await run(['ip', '-6', 'addr', 'add', `${s.prefix6}1/64`, 'dev', name, 'nodad']);
  await ip('link', 'set', name, 'up');
}

export interface HostNet {
  netns: string;
  veth: string;
  bridge: string;
  address: string;
  address6?: string;
  ipv6: boolean;
}

/** Namespace + veth; the host side of the pair is `eth0` inside the namespace. */
export async function createHostNet(h: HostNet): Promise<void> {
  await ip('netns', 'add', h.netns);
  await ip('link', 'add', h.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.netns);
  await ip('link', 'set', h.veth, 'master', h.bridge, 'up');
  const inNs = (...args: string[]): Promise<string> => must(['ip', '-n', h.netns, ...args]);
  await inNs('link', 'set', 'lo', 'up');
  if (h.ipv6 && h.address6) {
    await inNs('-6', 'addr', 'add', `${h.address6}/64`, 'dev', 'eth0', 'nodad');
  } else {
    // A host "with IPv6 disabled" as users have them (sysctl; the runner's kernel
    // cannot be booted with ipv6.disable=1 per namespace).
    for (const key of ['all', 'default', 'lo', 'eth0']) {
      await must(['ip', 'netns', 'exec', h.netns, 'sysctl', '-q', '-w', `net.ipv6.conf.${key}.disable_ipv6=1`]);
    }
  }
  await inNs('addr', 'add', `${h.address}/24`, 'dev', 'eth0');
  await inNs('link', 'set', 'eth0', 'up');
}

export async function setLink(name: string, up: boolean): Promise<void> {
  await ip('link', 'set', name, up ? 'up' : 'down');
}

/** Forget the runner's neighbour (ARP/NDP) entry for an address, whatever its state. */
export async function flushNeighbour(address: string): Promise<void> {
  await run(['ip', 'neigh', 'flush', 'to', address]);
}

/** Idempotent removals: a missing object is already gone. */
export async function deleteLink(name: string): Promise<void> {
  await run(['ip', 'link', 'del', 'dev', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await run(['ip', 'netns', 'del', name]);
}

/** Pids of every process whose network namespace is `netns` (the host's processes). */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', netns]);
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
}
