/**
 * Claiming a bed: a free slot number gives the bed its id (ptbN), bridge (ptbN)
 * and subnet (10.231.N.0/24). Claims happen under one lock, after reaping the
 * leftovers of crashed runs, because several test processes start beds at once.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { reapLeftovers } from './cleanup.js';
import { packageRoot } from './mirror.js';
import { withLock } from './lock.js';
import { linkExists, subnetFree, subnetOf } from './net.js';
import { recordOf } from './procs.js';
import { DATA_ROOT, RUN_ROOT, bedIdOf, listBedIds, runDirOf, saveState, type BedState } from './state.js';

const FIRST_SLOT = 1;
const LAST_SLOT = 250;

export async function claimBed(detached: boolean, log: (m: string) => void): Promise<BedState> {
  await mkdir(RUN_ROOT, { recursive: true });
  return withLock(join(RUN_ROOT, '.alloc.lock'), async () => {
    await reapLeftovers(log);
    const taken = new Set(await listBedIds());
    for (let slot = FIRST_SLOT; slot <= LAST_SLOT; slot++) {
      const id = bedIdOf(slot);
      if (taken.has(id) || (await linkExists(id)) || !(await subnetFree(slot))) continue;
      const s: BedState = {
        id,
        slot,
        owner: await recordOf(process.pid, 'owner'),
        detached,
        checkout: packageRoot,
        createdAt: new Date().toISOString(),
        bridgeAddress: subnetOf(slot).bridge,
        subnet: `${subnetOf(slot).prefix}.0/24`,
        hosts: [],
        procs: [],
        runDir: runDirOf(id),
        dataDir: join(DATA_ROOT, id),
      };
      await mkdir(s.runDir, { recursive: true });
      await mkdir(s.dataDir, { recursive: true });
      await saveState(s);
      return s;
    }
    throw new Error(`no free testbed slot in ${FIRST_SLOT}..${LAST_SLOT}`);
  });
}
