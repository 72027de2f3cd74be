/**
 * One cgroup per host. The runner has no systemd, so `nspawn --keep-unit` would
 * put every container in the caller's cgroup — the root of the name=systemd
 * hierarchy — and the containers' systemds would create and delete each other's
 * /system.slice/… (seen as random `status=219/CGROUP` unit failures and hosts
 * booting `degraded`). A private cgroup per host keeps them apart.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

const HIERARCHIES = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((h) => existsSync(h));
/** Pure cgroup v2 (no named v1 hierarchy): the root is /sys/fs/cgroup itself. */
const ROOTS = HIERARCHIES.length > 0 ? HIERARCHIES : ['/sys/fs/cgroup'];
export const CGROUP_PARENT = 'panel-testbed';

export function cgroupDirs(machine: string): string[] {
  return ROOTS.map((r) => join(r, CGROUP_PARENT, machine));
}

export async function createCgroups(machine: string): Promise<void> {
  for (const d of cgroupDirs(machine)) await mkdir(d, { recursive: true });
}

/** Remove a (now empty) cgroup tree, deepest first. */
async function rmTree(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const e of entries) await rmTree(join(dir, e));
  await rmdir(dir).catch(() => undefined);
}

export async function removeCgroups(machine: string): Promise<void> {
  for (const d of cgroupDirs(machine)) await rmTree(d);
}

/** Machine names with a cgroup under panel-testbed/ (for reaping leftovers). */
export async function listCgroupMachines(): Promise<string[]> {
  const names = new Set<string>();
  for (const r of ROOTS) {
    for (const e of await readdir(join(r, CGROUP_PARENT)).catch(() => [] as string[])) {
      if (/^ptb\d+-/.test(e)) names.add(e);
    }
  }
  return [...names];
}
