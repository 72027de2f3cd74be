/**
 * The testbed: real systemd hosts booted with systemd-nspawn, reached over SSH,
 * with a local apt repository, an artifact mirror and an ACME CA (Pebble) on a
 * private bridge. See test/testbed/README.md.
 *
 *   const bed = await startTestbed({ hosts: 3 });
 *   … ssh root@bed.hosts[0].address -i bed.hosts[0].keyFile (known_hosts: bed.knownHostsFile)
 *   await bed.stop();
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { claimBed } from './alloc.js';
import { ensureBase, TEST_USERS, type TestUser } from './base.js';
import { cleanupBed } from './cleanup.js';
import { bootHost, execIn, killHost, mountOverlay, waitBooted, waitSsh, writeHostFiles } from './hosts.js';
import { fingerprint, generateKey, knownHostsLine } from './keys.js';
import { raiseLimits } from './limits.js';
import { createBridge, createHostNet, netnsPids, setLink, subnetOf } from './net.js';
import { mustBash, sleep, type RunResult } from './run.js';
import { APT_PORT, servicesFrom, startServices, type AcmeInfo, type DnsControl, type ServicesInfo, type Services } from './services.js';
import { listBedIds, loadState, saveState, type BedState, type HostRecord } from './state.js';

export type { TestUser } from './base.js';
export type { AcmeInfo, DnsControl } from './services.js';

export interface TestHost {
  readonly name: string;
  /** IPv4 address on the bed's bridge. */
  readonly address: string;
  /** IPv6 (ULA) address when the host has IPv6 enabled. */
  readonly address6: string | undefined;
  readonly port: 22;
  readonly user: 'root';
  /** Private key accepted for root, deploy and nosudo on every host of the bed. */
  readonly keyFile: string;
  /** `ADDR ssh-ed25519 AAAA…` */
  readonly knownHostsLine: string;
  /** `SHA256:…` of the host key. */
  readonly hostKeyFingerprint: string;
  readonly ipv6: boolean;
}

export interface StartOptions {
  hosts: number;
  /** IPv6 on each host (one value for all, or per host). Default true. */
  ipv6?: boolean | boolean[];
  /** Start Pebble + challtestsrv. Default true. */
  pebble?: boolean | { certValiditySeconds?: number };
  /** Outlive this process (used by `testbed up`); cleaned only by stop()/`testbed down`. */
  detached?: boolean;
  /** Progress messages (default: silent unless PANEL_TESTBED_DEBUG is set). */
  log?: (msg: string) => void;
}

export type HostRef = TestHost | string | number;

export interface Testbed {
  readonly id: string;
  readonly hosts: readonly TestHost[];
  /** root has full rights, deploy has passwordless sudo, nosudo has none. */
  readonly users: readonly TestUser[];
  readonly keyFile: string;
  readonly knownHostsFile: string;
  readonly bridgeAddress: string;
  /** Replaces `https://github.com` in artifact URLs. */
  readonly mirrorUrl: string;
  /** The hosts' only apt source (flat repository, `[trusted=yes]`). */
  readonly aptUrl: string;
  /** sha256sum format, paths relative to mirrorUrl. */
  readonly checksumsFile: string;
  readonly acme: AcmeInfo;
  readonly dns: DnsControl;
  /** Run a bash command inside the host (nsenter into its PID 1: works without sshd or network). */
  exec(host: HostRef, cmd: string, opts?: { input?: string; timeoutMs?: number }): Promise<RunResult>;
  /** Reboot the host's systemd; its files stay; resolves when sshd answers again. */
  restart(host: HostRef): Promise<void>;
  /** Take the host's network link down for ms milliseconds, then up again. */
  cut(host: HostRef, ms: number): Promise<void>;
  stop(): Promise<void>;
}

const BOOT_TIMEOUT_MS = 60_000;

function defaultLog(): (m: string) => void {
  return process.env.PANEL_TESTBED_DEBUG ? (m) => process.stderr.write(`[testbed] ${m}\n`) : () => undefined;
}

function hostRecord(s: BedState, index: number, lower: string, ipv6: boolean): HostRecord {
  const name = `host${index}`;
  const net = subnetOf(s.slot);
  const dir = join(s.dataDir, name);
  return {
    index,
    name,
    netns: `${s.id}-${name}`,
    veth: `${s.id}h${index}`,
    machine: `${s.id}-${name}`,
    address: `${net.prefix}.${10 + index}`,
    address6: ipv6 ? `${net.prefix6}${(10 + index).toString(16)}` : undefined,
    ipv6,
    lower,
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    merged: join(dir, 'root'),
  };
}

export async function startTestbed(opts: StartOptions): Promise<Testbed> {
  const log = opts.log ?? defaultLog();
  if (!Number.isInteger(opts.hosts) || opts.hosts < 0 || opts.hosts > 200) {
    throw new Error(`hosts must be an integer in 0..200, got ${opts.hosts}`);
  }
  await raiseLimits();
  const lower = await ensureBase(log);
  const s = await claimBed(opts.detached ?? false, log);
  log(`bed ${s.id} on ${s.subnet}`);
  try {
    return await build(s, lower, opts, log);
  } catch (e) {
    // Keep the consoles and service logs for the post-mortem; the rest goes.
    const keep = `/tmp/panel-testbed-failed-${s.id}-${Date.now()}`;
    await mustBash(`mkdir -p "$K" && cp "$R"/*.log "$K"/ 2>/dev/null || true`, { env: { ...process.env, K: keep, R: s.runDir } }).catch(() => undefined);
    await cleanupBed(s).catch(() => undefined);
    if (e instanceof Error) e.message += ` (logs kept in ${keep})`;
    throw e;
  }
}

async function build(s: BedState, lower: string, opts: StartOptions, log: (m: string) => void): Promise<Testbed> {
  s.bridge = s.id;
  await saveState(s);
  await createBridge(s.bridge, s.slot);
  const client = await generateKey(join(s.runDir, 'id_ed25519'), `panel-testbed ${s.id}`);

  // Services (apt repo, mirror, Pebble) start while the hosts boot.
  const servicesP = startServices(s, opts.pebble ?? true, log);

  const ipv6Of = (i: number): boolean =>
    Array.isArray(opts.ipv6) ? (opts.ipv6[i - 1] ?? true) : (opts.ipv6 ?? true);
  for (let i = 1; i <= opts.hosts; i++) s.hosts.push(hostRecord(s, i, lower, ipv6Of(i)));
  await saveState(s);

  const aptSourceLine = `deb [trusted=yes] http://${s.bridgeAddress}:${APT_PORT}/ ./`;
  const hostKeys = await Promise.all(
    s.hosts.map(async (h) => {
      const key = await generateKey(join(s.runDir, `${h.name}_host_ed25519_key`), `root@${h.name}`);
      await createHostNet({ ...h, bridge: s.id });
      await mountOverlay(h);
      await writeHostFiles(
        h,
        {
          hostKeyPrivate: await readFile(key.privateFile, 'utf8'),
          hostKeyPublic: key.publicLine,
          clientPublicLine: client.publicLine,
          aptSourceLine,
        },
        TEST_USERS,
      );
      h.nspawn = await bootHost(h, join(s.runDir, `${h.name}.console.log`));
      return key;
    }),
  );
  await saveState(s);
  await Promise.all(s.hosts.map((h) => waitSsh(h.address, BOOT_TIMEOUT_MS)));
  const states = await Promise.all(s.hosts.map((h) => waitBooted(h, BOOT_TIMEOUT_MS)));
  states.forEach((st, i) => log(`${s.hosts[i]?.name}: ${st}`));

  const hosts: TestHost[] = s.hosts.map((h, i) => {
    const pub = hostKeys[i]?.publicLine ?? '';
    return {
      name: h.name,
      address: h.address,
      address6: h.address6,
      port: 22,
      user: 'root',
      keyFile: client.privateFile,
      knownHostsLine: knownHostsLine(h.address, pub),
      hostKeyFingerprint: fingerprint(pub),
      ipv6: h.ipv6,
    };
  });
  const knownHostsFile = join(s.runDir, 'known_hosts');
  await writeFile(knownHostsFile, hosts.map((h) => `${h.knownHostsLine}\n`).join(''));
  const services: Services = await servicesP;
  await saveState(s);
  await writeBedFiles(s, { hosts, knownHostsFile, keyFile: client.privateFile, services: services.info }, services);
  return makeBed(s, hosts, knownHostsFile, client.privateFile, services);
}

/** What attachTestbed needs to rebuild a Testbed handle in another process. */
interface BedFile {
  hosts: TestHost[];
  knownHostsFile: string;
  keyFile: string;
  services: ServicesInfo;
}

/** bed.json for attachTestbed, and a shell-sourceable `env` (for the CLI, the demo and humans). */
async function writeBedFiles(s: BedState, f: BedFile, sv: Services): Promise<void> {
  await writeFile(join(s.runDir, 'bed.json'), JSON.stringify(f, null, 2));
  const lines = [
    `TESTBED_ID=${s.id}`,
    `TESTBED_KEY=${f.keyFile}`,
    `TESTBED_KNOWN_HOSTS=${f.knownHostsFile}`,
    `TESTBED_MIRROR=${sv.mirrorUrl}`,
    `TESTBED_APT=${sv.aptUrl}`,
    `TESTBED_CHECKSUMS=${sv.checksumsFile}`,
    `TESTBED_ACME_DIRECTORY=${sv.acme.directory}`,
    `TESTBED_ACME_CA=${sv.acme.caFile}`,
    `TESTBED_HOSTS="${f.hosts.map((h) => h.address).join(' ')}"`,
  ];
  await writeFile(join(s.runDir, 'env'), `${lines.join('\n')}\n`);
}

/**
 * A handle on a bed started by another process (e.g. `testbed up`); without an
 * id, the most recent detached bed. stop() on it removes the bed.
 */
export async function attachTestbed(id?: string): Promise<Testbed | undefined> {
  const ids = id ? [id] : (await listBedIds()).reverse();
  for (const candidate of ids) {
    const s = await loadState(candidate);
    if (!s || (!id && !s.detached)) continue;
    let f: BedFile;
    try {
      f = JSON.parse(await readFile(join(s.runDir, 'bed.json'), 'utf8')) as BedFile;
    } catch {
      continue; // still starting, or half-made
    }
    return makeBed(s, f.hosts, f.knownHostsFile, f.keyFile, servicesFrom(f.services));
  }
  return undefined;
}

export function makeBed(s: BedState, hosts: TestHost[], knownHostsFile: string, keyFile: string, sv: Services): Testbed {
  const recordOfRef = (ref: HostRef): HostRecord => {
    const h =
      typeof ref === 'number'
        ? s.hosts[ref]
        : s.hosts.find((x) => x.name === (typeof ref === 'string' ? ref : ref.name) || x.address === ref);
    if (!h) throw new Error(`no host ${typeof ref === 'object' ? ref.name : String(ref)} in bed ${s.id}`);
    return h;
  };
  let stopped = false;
  return {
    id: s.id,
    hosts,
    users: TEST_USERS,
    keyFile,
    knownHostsFile,
    bridgeAddress: s.bridgeAddress,
    mirrorUrl: sv.mirrorUrl,
    aptUrl: sv.aptUrl,
    checksumsFile: sv.checksumsFile,
    acme: sv.acme,
    dns: sv.dns,
    exec: (ref, cmd, o) => execIn(recordOfRef(ref), cmd, o),
    restart: async (ref) => {
      const h = recordOfRef(ref);
      await restartHost(s, h);
    },
    cut: async (ref, ms) => {
      const h = recordOfRef(ref);
      await setLink(h.veth, false);
      try {
        await sleep(ms);
      } finally {
        await setLink(h.veth, true);
      }
    },
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await cleanupBed((await loadState(s.id)) ?? s);
    },
  };
}

/**
 * Reboot: power the container off from inside (systemd stops its units as on a
 * real reboot), then boot the same overlay again with a new nspawn.
 */
async function restartHost(s: BedState, h: HostRecord): Promise<void> {
  await execIn(h, 'systemctl poweroff --no-block', { timeoutMs: 10_000 }).catch(() => undefined);
  const deadline = Date.now() + 30_000;
  while ((await netnsPids(h.netns)).length > 0 && Date.now() < deadline) await sleep(100);
  await killHost(h); // whatever did not stop in time
  h.nspawn = await bootHost(h, join(s.runDir, `${h.name}.console.log`));
  await saveState(s);
  await waitSsh(h.address, BOOT_TIMEOUT_MS);
  await waitBooted(h, BOOT_TIMEOUT_MS);
}
