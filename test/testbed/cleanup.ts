/**
 * Removing beds: the recorded objects of one bed, and everything named like a
 * bed that no live bed owns (leftovers of a crashed run, even one that died
 * before it could write its state).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listCgroupMachines, removeCgroups } from './cgroups.js';
import { killHost, umountOverlay } from './hosts.js';
import { deleteLink, deleteNetns, netnsList, netnsPids } from './net.js';
import { processAlive, terminate } from './procs.js';
import { run, sleep } from './run.js';
import { DATA_ROOT, listBedIds, loadState, removeBedDirs, type BedState } from './state.js';

/** Remove everything recorded in `s`, in reverse order of creation. Idempotent. */
export async function cleanupBed(s: BedState): Promise<void> {
  await Promise.all(s.hosts.map((h) => killHost(h).catch(() => undefined)));
  await Promise.all(s.procs.map((p) => terminate(p)));
  for (const h of s.hosts) {
    await umountOverlay(h);
    await deleteNetns(h.netns);
    await deleteLink(h.veth);
  }
  await removeCgroups(s.hosts.map((h) => h.machine));
  await umountUnder(join(DATA_ROOT, s.id));
  if (s.bridge) await deleteLink(s.bridge);
  await removeBedDirs(s.id);
}

/** Unmount anything still mounted below dir (deepest first). */
async function umountUnder(dir: string): Promise<void> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) {
    if ((await run(['umount', p])).code !== 0) await run(['umount', '-l', p]);
  }
}

/** A bed is a leftover when its owner died and it was not started detached by `testbed up`. */
async function isLeftover(s: BedState | undefined): Promise<boolean> {
  if (!s) return true;
  if (s.detached) return false;
  return !(await processAlive(s.owner.pid, s.owner.start));
}

/**
 * Clean crashed beds and orphaned bed-named objects. Call with the allocation
 * lock held, so no bed is half-made by someone else at the same time.
 */
export async function reapLeftovers(log: (m: string) => void = () => undefined): Promise<void> {
  const live = new Set<string>();
  for (const id of await listBedIds()) {
    const s = await loadState(id);
    if (await isLeftover(s)) {
      log(`removing leftover bed ${id}`);
      if (s) await cleanupBed(s);
      else await removeBedDirs(id);
    } else {
      live.add(id);
    }
  }
  await reapOrphans(live);
}

/** Bed-named netns, links and mounts that no live bed owns. */
async function reapOrphans(live: Set<string>): Promise<void> {
  const owner = (name: string): string | undefined => /^(ptb\d+)(?:[-h].*)?$/.exec(name)?.[1];
  for (const ns of await netnsList()) {
    const id = owner(ns);
    if (!id || live.has(id)) continue;
    for (const pid of await netnsPids(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(100);
    await deleteNetns(ns);
  }
  await removeCgroups(
    (await listCgroupMachines()).filter((machine) => {
      const id = owner(machine);
      return id !== undefined && !live.has(id);
    }),
  );
  const links = (await run(['ip', '-o', 'link', 'show'])).stdout;
  for (const m of links.matchAll(/^\d+: (ptb\d+(?:h\d+)?)[@:]/gm)) {
    const name = m[1] ?? '';
    const id = owner(name);
    if (id && !live.has(id)) await deleteLink(name);
  }
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  for (const line of info.split('\n')) {
    const point = line.split(' ')[4] ?? '';
    const id = /^\/var\/tmp\/panel-testbed\/(ptb\d+)\//.exec(point.replace(DATA_ROOT, '/var/tmp/panel-testbed'))?.[1];
    if (id && !live.has(id)) await umountUnder(join(DATA_ROOT, id));
  }
}
