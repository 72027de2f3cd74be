/**
 * Bytes each way on a host's network interface (eth0 inside the host), read
 * between runs: the same measure for panel and Ansible, whatever the tool.
 * rx = runner → host, tx = host → runner (no other traffic on a no-op run;
 * on a first install it includes the packages and artifacts fetched).
 */
import type { Testbed, TestHost } from '../../test/testbed/index.js';

export interface Traffic {
  readonly toHost: number;
  readonly fromHost: number;
}

async function read(bed: Testbed, h: TestHost): Promise<Traffic> {
  // /proc/net/dev follows the reader's network namespace; /sys/class/net follows
  // whoever mounted sysfs (inside a testbed host: the runner's interfaces).
  const r = await bed.exec(h, 'cat /proc/net/dev');
  const line = r.stdout.split('\n').find((l) => l.trim().startsWith('eth0:'));
  const f = line?.split(':')[1]?.trim().split(/\s+/).map(Number) ?? [];
  const rx = f[0];
  const tx = f[8];
  if (r.code !== 0 || rx === undefined || tx === undefined || Number.isNaN(rx) || Number.isNaN(tx)) throw new Error(`${h.name}: cannot read eth0 counters: ${r.stderr}`);
  return { toHost: rx, fromHost: tx };
}

export function readTraffic(bed: Testbed, hosts: readonly TestHost[]): Promise<Traffic[]> {
  return Promise.all(hosts.map((h) => read(bed, h)));
}

/** Mean per host of after − before. */
export function perHost(before: readonly Traffic[], after: readonly Traffic[]): Traffic {
  const n = Math.max(1, before.length);
  let toHost = 0;
  let fromHost = 0;
  before.forEach((b, i) => {
    toHost += after[i]!.toHost - b.toHost;
    fromHost += after[i]!.fromHost - b.fromHost;
  });
  return { toHost: toHost / n, fromHost: fromHost / n };
}
