/**
 * CPU seconds a testbed host spent, from its own cgroup (every process in the
 * host: sshd, the shell panel or Ansible runs, what that starts, systemd):
 * read on the runner between runs, so the measure costs the host nothing and
 * is the same for both tools. An idle host adds about 1 ms a second.
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupDirs } from '../../test/testbed/cgroups.js';
import type { Testbed, TestHost } from '../../test/testbed/index.js';
import { spread } from './stats.js';

async function usageSeconds(bed: Testbed, h: TestHost): Promise<number> {
  // The host's machine name, as the testbed names its cgroup.
  const machine = `${bed.id}-${h.name}`;
  for (const dir of cgroupDirs(machine)) {
    const text = await readFile(join(dir, 'cpu.stat'), 'utf8').catch(() => undefined);
    const m = text === undefined ? null : /^usage_usec (\d+)$/m.exec(text);
    if (m) return Number(m[1]) / 1e6;
  }
  throw new Error(`${h.name}: no cpu.stat in its cgroup (${cgroupDirs(machine).join(', ')})`);
}

export function readHostCpu(bed: Testbed, hosts: readonly TestHost[]): Promise<number[]> {
  return Promise.all(hosts.map((h) => usageSeconds(bed, h)));
}

/** Mean per host of after − before, seconds. */
export function hostCpuPerHost(before: readonly number[], after: readonly number[]): number {
  return before.reduce((a, b, i) => a + (after[i]! - b), 0) / Math.max(1, before.length);
}

/**
 * The host CPU of one SSH connection that runs `true` (OpenSSH's client, the
 * testbed's key): sshd's key exchange and authentication, the session's PAM
 * stack, the journal's lines for it. What any tool that reaches a host over
 * SSH pays before its own work; median seconds of `runs`.
 */
export async function sshFloor(bed: Testbed, h: TestHost, runs = 10): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const [before] = await readHostCpu(bed, [h]);
    const r = spawnSync('ssh', ['-i', bed.keyFile, '-o', `UserKnownHostsFile=${bed.knownHostsFile}`, '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes', `root@${h.address}`, 'true'], { encoding: 'utf8', timeout: 30_000 });
    const [after] = await readHostCpu(bed, [h]);
    if (r.status !== 0) throw new Error(`${h.name}: ssh … true exited ${String(r.status)}: ${r.stderr.slice(-300)}`);
    xs.push(after! - before!);
  }
  return spread(xs).median;
}

/**
 * The host's CPU every `everyMs` while `f` runs: [seconds since the sampling began, CPU seconds the host spent since then].
 * Read from its cgroup on the runner, so the sampling costs the host nothing.
 */
export async function sampleHostCpu<T>(bed: Testbed, h: TestHost, f: () => Promise<T>, everyMs = 100): Promise<{ result: T; samples: Array<[number, number]> }> {
  const t0 = performance.now();
  const base = await usageSeconds(bed, h);
  const samples: Array<[number, number]> = [[0, 0]];
  const timer = setInterval(() => {
    const t = (performance.now() - t0) / 1000;
    void usageSeconds(bed, h).then(
      (u) => samples.push([t, u - base]),
      () => undefined,
    );
  }, everyMs);
  try {
    return { result: await f(), samples };
  } finally {
    clearInterval(timer);
  }
}

/** The host CPU at `t` seconds: the last sample taken at or before it. */
export function cpuAt(samples: ReadonlyArray<readonly [number, number]>, t: number): number {
  let v = 0;
  for (const [st, cpu] of samples) if (st <= t) v = Math.max(v, cpu);
  return v;
}
