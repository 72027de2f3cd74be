/**
 * One cgroup per host. The runner has no systemd, so `nspawn --keep-unit` would
 * put every container in the caller's cgroup — the root of the name=systemd
 * hierarchy — and the containers' systemds would create and delete each other's
 * /system.slice/… (seen as random `status=219/CGROUP` unit failures and hosts
 * booting `degraded`). A private cgroup per host keeps them apart.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const HIERARCHIES = ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified'].filter((h) => existsSync(h));
/** Pure cgroup v2 (no named v1 hierarchy): the root is /sys/fs/cgroup itself. */
const ROOTS = HIERARCHIES.length > 0 ? HIERARCHIES : ['/sys/fs/cgroup'];
export const CGROUP_PARENT = 'panel-testbed';
export const CGROUP_V2 = HIERARCHIES.length === 0;

/** The runner's v1 controller hierarchies (memory, pids, cpu, …), by mount point. */
const CONTROLLER_MOUNTS: string[] = (() => {
  try {
    return readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f[2] === 'cgroup' && f[1]?.startsWith('/sys/fs/cgroup/') && !/(^|,)name=/.test(f[3] ?? ''))
      .map((f) => f[1] as string);
  } catch {
    return [];
  }
})();

/**
 * Where hosts' container tasks get their cgroups: panel-testbed/ below the cgroup
 * nspawn ran in, in each controller hierarchy (see hostCgroupsScript). That is
 * the booting process's own cgroup, which on a runner that gives every command
 * its own (memory:/process_api/<id>) differs from run to run, so a bed killed with
 * its runner leaves them under a cgroup no later process is in. Looked up on
 * each call, a few levels deep, so a later bed reaps them.
 */
async function controllerParents(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === CGROUP_PARENT) found.push(join(dir, e.name));
      else if (depth > 0 && !/^ptb\d+-/.test(e.name)) await walk(join(dir, e.name), depth - 1);
    }
  };
  for (const mp of CONTROLLER_MOUNTS) await walk(mp, 3);
  return found;
}

/** The cgroups nspawn and the host's init live in (one per named hierarchy). */
export function cgroupDirs(machine: string): string[] {
  return ROOTS.map((r) => join(r, CGROUP_PARENT, machine));
}


export async function createCgroups(machine: string): Promise<void> {
  if (CGROUP_V2) {
    // Pure v2: runc inside the host needs the controllers enabled down to the host's cgroup.
    await mkdir(join('/sys/fs/cgroup', CGROUP_PARENT), { recursive: true });
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const dir of ['/sys/fs/cgroup', join('/sys/fs/cgroup', CGROUP_PARENT)]) {
      for (const c of controllers) await writeFile(join(dir, 'cgroup.subtree_control'), `+${c}`).catch(() => undefined);
    }
  }
  for (const d of cgroupDirs(machine)) await mkdir(d, { recursive: true });
}

/**
 * Run by the unit hostCgroupsUnit() inside each host before containerd starts.
 * nspawn mounts the runner's v1 controllers read-only (runc then fails with
 * `mkdir /sys/fs/cgroup/memory/default: read-only file system`); a real server
 * has them writable. Each is mounted afresh and the host sees, read-write, its
 * own subtree panel-testbed/<machine> at the usual place: its containers' cgroups
 * stay apart from other hosts' (two beds both run /openfaas/gateway) and go with
 * the host. On cgroup v2 nspawn hands the host its own delegated subtree; it is
 * only made writable if it is not.
 */
export function hostCgroupsScript(machine: string): string {
  return `#!/bin/sh
# panel testbed: this host's cgroup controllers, writable as on a real server.
set -eu
M='${machine}'
if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
  if awk '$2 == "/sys/fs/cgroup" && $4 ~ /(^|,)ro(,|$)/ { f = 1 } END { exit !f }' /proc/self/mounts; then
    mount -o remount,rw /sys/fs/cgroup
  fi
  exit 0
fi
known=$(awk '!/^#/ && $2 != 0 && $4 == 1 { print $1 }' /proc/cgroups)
awk '$3 == "cgroup" && $2 ~ "^/sys/fs/cgroup/" { print $2, $4 }' /proc/self/mounts | while read -r mp opts; do
  ctl=
  for o in $(echo "$opts" | tr , ' '); do
    for k in $known; do [ "$o" = "$k" ] && ctl="\${ctl:+$ctl,}$o"; done
  done
  [ -n "$ctl" ] || continue   # name=systemd: nspawn already gives the host its own
  tmp=/run/panel-testbed-cgroup/$ctl
  mkdir -p "$tmp"
  mount -t cgroup -o "$ctl" cgroup "$tmp"
  mkdir -p "$tmp/panel-testbed/$M"
  # A new cpuset cgroup starts with no CPUs and no memory nodes (runc would fail
  # with ENOSPC): each level gets its parent's.
  for d in "$tmp/panel-testbed" "$tmp/panel-testbed/$M"; do
    for f in cpuset.cpus cpuset.mems; do
      if [ -f "$d/$f" ] && [ -z "$(cat "$d/$f")" ]; then cat "$(dirname "$d")/$f" > "$d/$f"; fi
    done
  done
  mount --bind "$tmp/panel-testbed/$M" "$mp"
  umount "$tmp"
  rmdir "$tmp"
done
`;
}

/** The unit that runs hostCgroupsScript early in every boot (before containerd, whoever installs it). */
export const HOST_CGROUPS_UNIT = `[Unit]
Description=panel testbed: writable cgroup controllers for this host's containers
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target containerd.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/panel-testbed/host-cgroups

[Install]
WantedBy=sysinit.target
`;

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

/** Every cgroup directory of these hosts, their tasks' controller subtrees included (one walk for all). */
export async function removeCgroups(machines: readonly string[]): Promise<void> {
  const parents = await controllerParents();
  for (const m of machines) {
    for (const d of [...cgroupDirs(m), ...parents.map((p) => join(p, m))]) await rmTree(d);
  }
}

/** Machine names with a cgroup under panel-testbed/ (for reaping leftovers). */
export async function listCgroupMachines(): Promise<string[]> {
  const names = new Set<string>();
  for (const parent of [...ROOTS.map((r) => join(r, CGROUP_PARENT)), ...(await controllerParents())]) {
    for (const e of await readdir(parent).catch(() => [] as string[])) {
      if (/^ptb\d+-/.test(e)) names.add(e);
    }
  }
  return [...names];
}
