/**
 * npm run testbed -- up [N] [--no-pebble] [--no-ipv6]   boot N hosts (default 1), detached
 *                  -- down [ID]                          remove detached beds (or bed ID) and leftovers
 *                  -- status                             list beds, hosts and their state
 */
import { join } from 'node:path';
import { describeBed } from './describe.js';
import { attachTestbed, startTestbed, type Testbed } from './index.js';
import { cleanupBed, reapLeftovers } from './cleanup.js';
import { withLock } from './lock.js';
import { processAlive } from './procs.js';
import { RUN_ROOT, listBedIds, loadState } from './state.js';
import { initPid, execIn } from './hosts.js';

async function up(args: string[]): Promise<void> {
  const n = Number(args.find((a) => /^\d+$/.test(a)) ?? '1');
  const t0 = Date.now();
  const bed = await startTestbed({
    hosts: n,
    detached: true,
    pebble: !args.includes('--no-pebble'),
    ipv6: !args.includes('--no-ipv6'),
    log: (m) => process.stderr.write(`[testbed] ${m}\n`),
  });
  console.log(describeBed(bed));
  console.log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s; remove with: npm run testbed -- down ${bed.id}`);
}

async function down(args: string[]): Promise<void> {
  const id = args[0];
  await withLock(join(RUN_ROOT, '.alloc.lock'), async () => {
    for (const bedId of id ? [id] : await listBedIds()) {
      const s = await loadState(bedId);
      if (!s) continue;
      const ownerAlive = await processAlive(s.owner.pid, s.owner.start);
      if (!id && !s.detached) continue; // another process's live bed (reaped below if its owner died)
      if (id && ownerAlive && !s.detached) console.error(`note: ${bedId} belongs to live process ${s.owner.pid}`);
      await cleanupBed(s);
      console.log(`removed ${bedId}`);
    }
    await reapLeftovers((m) => console.log(m));
  });
}

async function status(): Promise<void> {
  const ids = await listBedIds();
  if (ids.length === 0) console.log('no testbeds');
  for (const id of ids) {
    const s = await loadState(id);
    if (!s) {
      console.log(`${id}: no state (half-made or leftover)`);
      continue;
    }
    const alive = await processAlive(s.owner.pid, s.owner.start);
    const kind = s.detached ? 'detached (testbed up)' : `owned by pid ${s.owner.pid}${alive ? '' : ' (dead: leftover)'}`;
    console.log(`${id}: ${s.subnet}, ${s.hosts.length} hosts, ${kind}, since ${s.createdAt}`);
    for (const h of s.hosts) {
      const running = (await initPid(h)) !== undefined;
      const state = running ? (await execIn(h, 'systemctl is-system-running', { timeoutMs: 5000 })).stdout.trim() : 'down';
      console.log(`  ${h.name} ${h.address} ${state}`);
    }
    const bed = s.detached ? await attachTestbed(id) : undefined;
    if (bed) console.log(describeBed(bed).split('\n').slice(1 + bed.hosts.length).join('\n'));
  }
}

const [cmd, ...rest] = process.argv.slice(2);
const commands: Record<string, (a: string[]) => Promise<void>> = { up, down, status: () => status() };
const fn = commands[cmd ?? ''];
if (!fn) {
  console.error('usage: npm run testbed -- up [N] [--no-pebble] [--no-ipv6] | down [ID] | status');
  process.exitCode = 2;
} else {
  fn(rest).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  });
}
