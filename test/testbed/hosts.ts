/**
 * One test host: an overlayfs root (shared read-only base + private upper dir)
 * booted by systemd-nspawn inside the host's network namespace.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile, chmod, chown, readFile, open, rename, symlink, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { cgroupDirs, createCgroups, HOST_CGROUPS_UNIT, hostCgroupsScript } from './cgroups.js';
import { modulesNspawnArgs, writeBuiltinModules } from './modules.js';
import { netnsPids } from './net.js';
import { processAlive, recordOf, type ProcRecord } from './procs.js';
import { must, run, sleep, type RunResult } from './run.js';
import type { HostRecord } from './state.js';

export interface HostFiles {
  hostKeyPrivate: string;
  hostKeyPublic: string;
  clientPublicLine: string;
  aptSourceLine: string;
  /** Profile files, path relative to the root → content. */
  extra?: Record<string, string>;
  /** Lines appended to /etc/hosts (the registry's names, images.ts). */
  hostsLines?: string;
}

export async function mountOverlay(h: HostRecord): Promise<void> {
  for (const d of [h.upper, h.work, h.merged]) await mkdir(d, { recursive: true });
  await must([
    'mount', '-t', 'overlay', 'overlay',
    '-o', `lowerdir=${h.lower},upperdir=${h.upper},workdir=${h.work}`,
    h.merged,
  ]);
}

async function uidOf(root: string, user: string): Promise<{ uid: number; gid: number; home: string }> {
  const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f[0] === user) return { uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? `/home/${user}` };
  }
  throw new Error(`user ${user} missing from base image`);
}

/** Identity, keys and apt source of this host, written into its upper layer before boot. */
export async function writeHostFiles(h: HostRecord, files: HostFiles, users: readonly string[], baseRoot: string): Promise<void> {
  const m = h.merged;
  await writeFile(join(m, 'etc/hostname'), `${h.name}\n`);
  await writeFile(
    join(m, 'etc/hosts'),
    `127.0.0.1 localhost\n127.0.1.1 ${h.name}\n::1 localhost ip6-localhost ip6-loopback\n${files.hostsLines ?? ''}`,
  );
  await writeFile(join(m, 'etc/machine-id'), `${randomBytes(16).toString('hex')}\n`);
  await writeFile(join(m, 'etc/ssh/ssh_host_ed25519_key'), files.hostKeyPrivate, { mode: 0o600 });
  await writeFile(join(m, 'etc/ssh/ssh_host_ed25519_key.pub'), `${files.hostKeyPublic}\n`, { mode: 0o644 });
  await writeFile(join(m, 'etc/apt/sources.list.d/panel-testbed.list'), `${files.aptSourceLine}\n`);
  for (const [path, content] of Object.entries(files.extra ?? {})) {
    await mkdir(dirname(join(m, path)), { recursive: true });
    await writeFile(join(m, path), content);
  }
  await writeBuiltinModules(m, baseRoot);
  await writeCgroupsUnit(h);
  await prepareVarLib(h);
  for (const user of users) {
    const { uid, gid, home } = await uidOf(m, user);
    const dir = join(m, home, '.ssh');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'authorized_keys'), `${files.clientPublicLine}\n`, { mode: 0o600 });
    await chmod(dir, 0o700);
    await chown(dir, uid, gid);
    await chown(join(dir, 'authorized_keys'), uid, gid);
  }
}

/**
 * The host's /var/lib on the runner's own filesystem, bound over the overlay
 * root: containerd's overlayfs snapshotter keeps its upper dirs under
 * /var/lib/containerd, and overlayfs refuses an upper dir on overlayfs (EINVAL),
 * where a real server has ext4 or xfs. A copy of the root's /var/lib, made once
 * per host (it survives restarts).
 */
export function varLibDir(h: HostRecord): string {
  return join(dirname(h.upper), 'var-lib');
}

async function prepareVarLib(h: HostRecord): Promise<void> {
  const dir = varLibDir(h);
  if (existsSync(dir)) return;
  await must(['cp', '-a', join(h.merged, 'var/lib'), `${dir}.tmp`]);
  await rename(`${dir}.tmp`, dir);
}

/** The host's writable cgroup controllers at every boot (cgroups.ts), so container tasks run as on a server. */
async function writeCgroupsUnit(h: HostRecord): Promise<void> {
  const m = h.merged;
  await mkdir(join(m, 'usr/local/lib/panel-testbed'), { recursive: true });
  await writeFile(join(m, 'usr/local/lib/panel-testbed/host-cgroups'), hostCgroupsScript(h.machine), { mode: 0o755 });
  await writeFile(join(m, 'etc/systemd/system/panel-testbed-cgroups.service'), HOST_CGROUPS_UNIT);
  const wants = join(m, 'etc/systemd/system/sysinit.target.wants');
  await mkdir(wants, { recursive: true });
  await rm(join(wants, 'panel-testbed-cgroups.service'), { force: true });
  await symlink('../panel-testbed-cgroups.service', join(wants, 'panel-testbed-cgroups.service'));
}

/** Start systemd-nspawn detached (own session, output to a log) so it outlives this process. */
export async function bootHost(h: HostRecord, consoleLog: string): Promise<ProcRecord> {
  await createCgroups(h.machine);
  const log = await open(consoleLog, 'a');
  const nspawn = [
    'systemd-nspawn',
    '--quiet',
    '--directory', h.merged,
    '--boot',
    // The runner has no systemd of its own to register with.
    '--register=no',
    '--keep-unit',
    `--network-namespace-path=/run/netns/${h.netns}`,
    '--machine', h.machine,
    '--capability=all',
    `--bind=${varLibDir(h)}:/var/lib`,
    // runc creates a session keyring for each container (add_key, keyctl) and, on
    // cgroup v2, loads a BPF device filter: nspawn's default filter refuses all three.
    '--system-call-filter=add_key keyctl bpf',
    '--resolv-conf=off',
    '--timezone=off',
    '--link-journal=no',
    '--console=read-only',
    ...modulesNspawnArgs(),
  ];
  // A shell that moves itself into the host's own cgroup, then becomes nspawn
  // (same pid), so the container never starts in the shared root cgroup.
  const procsFiles = cgroupDirs(h.machine).map((d) => `${d}/cgroup.procs`);
  const child = spawn(
    '/bin/sh',
    ['-c', 'for f in $CGPROCS; do echo $$ > "$f" || exit 97; done; exec "$@"', 'nspawn-in-cgroup', ...nspawn],
    {
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
      // Writable /proc/sys so panel's sysctl settings work inside, as on a real host.
      env: { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1', CGPROCS: procsFiles.join(' ') },
    },
  );
  child.unref();
  await log.close();
  if (child.pid === undefined) throw new Error(`systemd-nspawn did not start for ${h.name}`);
  return recordOf(child.pid, `nspawn ${h.name}`);
}

/** The host's PID 1 as seen from the runner (the process whose innermost pid is 1). */
export async function initPid(h: HostRecord): Promise<number | undefined> {
  for (const pid of await netnsPids(h.netns)) {
    try {
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const ns = /^NSpid:\s+(.*)$/m.exec(status)?.[1]?.trim().split(/\s+/);
      if (ns && ns.length > 1 && ns[ns.length - 1] === '1') return pid;
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

const HOST_ENV = [
  'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  'HOME=/root',
  'LANG=C.UTF-8',
  'TERM=dumb',
];

/**
 * Run a bash command inside the host through nsenter into all namespaces of its
 * PID 1 — independent of sshd and of the network, so it works during cut().
 */
export async function execIn(h: HostRecord, cmd: string, opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const pid = await initPid(h);
  if (pid === undefined) throw new Error(`${h.name} is not running`);
  return run(['nsenter', '-t', String(pid), '-a', '--', '/usr/bin/env', '-i', ...HOST_ENV, '/bin/bash', '-c', cmd], {
    input: opts.input,
    timeoutMs: opts.timeoutMs ?? 120_000,
  });
}

/** Resolves once sshd on address:22 sends its banner. */
export async function waitSsh(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host: address, port: 22, timeout: 1000 });
      let buf = '';
      const done = (v: boolean): void => {
        sock.destroy();
        resolve(v);
      };
      sock.on('data', (d: Buffer) => {
        buf += d.toString('latin1');
        if (buf.includes('SSH-2.0')) done(true);
      });
      sock.on('error', () => done(false));
      sock.on('timeout', () => done(false));
      sock.on('close', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${address} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Wait until systemd inside reports the boot finished (running or degraded). */
export async function waitBooted(h: HostRecord, timeoutMs: number): Promise<string> {
  const r = await execIn(h, 'systemctl is-system-running --wait', { timeoutMs });
  return r.stdout.trim();
}

/** Kill every process of the host (its whole PID namespace) and its nspawn. */
export async function killHost(h: HostRecord): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const pids = await netnsPids(h.netns);
    const alive = h.nspawn ? await processAlive(h.nspawn.pid, h.nspawn.start) : false;
    if (pids.length === 0 && !alive) return;
    // Killing the container's PID 1 takes down its PID namespace; the rest is a net.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (alive && h.nspawn && i > 10) {
      try {
        process.kill(h.nspawn.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await sleep(50);
  }
  throw new Error(`could not kill the processes of ${h.name}`);
}

export async function umountOverlay(h: HostRecord): Promise<void> {
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  if (!mounts.includes(` ${h.merged} `)) return;
  const r = await run(['umount', h.merged]);
  if (r.code !== 0) await run(['umount', '-l', h.merged]); // busy: detach now, free when released
}
