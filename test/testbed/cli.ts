/**
 * npm run testbed -- up [N] [--no-pebble] [--no-ipv6]   boot N hosts (default 1), detached
 *                       [--release bookworm|trixie[,…]] [--profile plain|cloud-like|ubuntu-26.04-like[,…]]
 *                                                        (one value for all hosts, or one per host)
 *                  -- down [ID|--all]                    remove the detached bed (ID when several; --all: every
 *                                                        detached bed), and leftovers of crashed runs
 *                  -- status                             list beds, hosts and their state
 */
import { join } from 'node:path';
import { describeBed } from './describe.js';
import { attachTestbed, startTestbed, type Profile, type Release } from './index.js';
import { cleanupBed, reapLeftovers } from './cleanup.js';
import { withLock } from './lock.js';
import { processAlive } from './procs.js';
import { RUN_ROOT, listBedIds, loadState } from './state.js';
import { initPid, execIn } from './hosts.js';

/** `--name a` or `--name a,b,c` → one value, or one per host; checked by startTestbed. */
function listFlag<T extends string>(args: string[], name: string): T | T[] | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = (args[i + 1] ?? '').split(',') as T[];
  return v.length === 1 ? v[0] : v;
}

async function up(args: string[]): Promise<void> {
  const n = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? '1');
  const t0 = Date.now();
  const release = listFlag<Release>(args, '--release');
  const profile = listFlag<Profile>(args, '--profile');
  const bed = await startTestbed({
    hosts: n,
    ...(release ? { release } : {}),
    ...(profile ? { profile } : {}),
    detached: true,
    pebble: !args.includes('--no-pebble'),
    ipv6: !args.includes('--no-ipv6'),
    log: (m) => process.stderr.write(`[testbed] ${m}\n`),
  });
  console.log(describeBed(bed));
  console.log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s; remove with: npm run testbed -- down ${bed.id}`);
}

async function down(args: string[]): Promise<void> {
  const all = args.includes('--all');
  const id = args.find((a) => !a.startsWith('--'));
  await withLock(join(RUN_ROOT, '.alloc.lock'), async () => {
    const detached = [];
    for (const bedId of await listBedIds()) {
      const s = await loadState(bedId);
      if (s?.detached) detached.push(s);
    }
    let targets = detached;
    if (id) {
      const s = await loadState(id);
      if (!s) console.error(`no bed ${id}`);
      else if (!s.detached && (await processAlive(s.owner.pid, s.owner.start))) console.error(`note: ${id} belongs to live process ${s.owner.pid}`);
      targets = s ? [s] : [];
    } else if (!all && detached.length > 1) {
      // Other people's `up` beds may be among them (the machine is shared): say which.
      console.error(`several detached beds: ${detached.map((s) => s.id).join(', ')}; name one, or use --all`);
      targets = [];
      process.exitCode = 1;
    }
    for (const s of targets) {
      await cleanupBed(s);
      console.log(`removed ${s.id}`);
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
    console.log(`${id}: ${s.subnet}, ${s.hosts.length} hosts, ${kind}, from ${s.checkout ?? '?'}, since ${s.createdAt}`);
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
  console.error('usage: npm run testbed -- up [N] [--no-pebble] [--no-ipv6] | down [ID|--all] | status');
  process.exitCode = 2;
} else {
  fn(rest).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  });
}
