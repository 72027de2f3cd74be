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
import { DEFAULT_RELEASE, ensureBase, RELEASES, TEST_USERS, type Release, type TestUser } from './base.js';
import { cleanupBed } from './cleanup.js';
import { bootHost, execIn, killHost, mountOverlay, waitBooted, waitSsh, writeHostFiles } from './hosts.js';
import { ensureImages, registryHostFiles } from './images.js';
import { fingerprint, generateKey, knownHostsLine } from './keys.js';
import { raiseLimits } from './limits.js';
import { createBridge, createHostNet, flushNeighbour, netnsPids, setLink, subnetOf } from './net.js';
import { mirrorFaultControl, type MirrorFaultControl } from './mirror-faults.js';
import { mustBash, sleep, type RunResult } from './run.js';
import { ensureProfile, PROFILES, profileHostFiles, releasesOf, type Profile } from './profiles.js';
import { APT_PORTS, servicesFrom, startServices, type AcmeInfo, type DnsControl, type ServicesInfo, type Services } from './services.js';
import type { PebbleOptions } from './pebble.js';
import { listBedIds, loadState, saveState, type BedState, type HostRecord } from './state.js';

export type { Release, TestUser } from './base.js';
export type { Profile } from './profiles.js';
export { BOOT_LOCK_SECONDS } from './profiles.js';
export type { AcmeInfo, DnsControl } from './services.js';
export type { MirrorFault, MirrorFaultControl, MirrorRequest } from './mirror-faults.js';

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
  /** Debian release: bookworm (12) or trixie (13). */
  readonly release: Release;
  /** What the host has beyond the bare base (profiles.ts). */
  readonly profile: Profile;
}

export interface StartOptions {
  hosts: number;
  /** IPv6 on each host (one value for all, or per host). Default true. */
  ipv6?: boolean | boolean[];
  /**
   * Host profile (one for all, or per host): 'plain' (default), 'cloud-like'
   * (Ubuntu 22.04/24.04 cloud host traits), 'ubuntu-26.04-like' (uutils + sudo-rs,
   * on trixie). See profiles.ts.
   */
  profile?: Profile | Profile[];
  /** Debian release (one for all, or per host). Default: bookworm, or the profile's only release. */
  release?: Release | Release[];
  /** Start Pebble + challtestsrv. Default true. */
  pebble?: boolean | PebbleOptions;
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
  /** The bookworm hosts' only apt source (flat repository, `[trusted=yes]`). */
  readonly aptUrl: string;
  /** Each served release's apt repository (a host's only source is its release's). */
  readonly aptUrls: Partial<Record<Release, string>>;
  /** sha256sum format, paths relative to mirrorUrl. */
  readonly checksumsFile: string;
  readonly acme: AcmeInfo;
  readonly dns: DnsControl;
  /** TEST-ONLY: make a mirror path answer 404/500 (n times), slowly, or with other bytes; its request log (mirror-faults.ts). */
  readonly mirrorFaults: MirrorFaultControl;
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

interface HostSpec {
  ipv6: boolean;
  release: Release;
  profile: Profile;
}

/** Each host's ipv6/release/profile from the options, checked before anything is made. */
function hostSpecs(opts: StartOptions): HostSpec[] {
  const pick = <T>(v: T | T[] | undefined, i: number): T | undefined => (Array.isArray(v) ? v[i] : v);
  const specs: HostSpec[] = [];
  for (let i = 0; i < opts.hosts; i++) {
    const profile = pick(opts.profile, i) ?? 'plain';
    if (!PROFILES.includes(profile)) throw new Error(`host${i + 1}: unknown profile ${String(profile)} (${PROFILES.join(', ')})`);
    const fits = releasesOf(profile);
    const release = pick(opts.release, i) ?? (fits.includes(DEFAULT_RELEASE) ? DEFAULT_RELEASE : fits[0] ?? DEFAULT_RELEASE);
    if (!RELEASES.includes(release)) throw new Error(`host${i + 1}: unknown release ${String(release)} (${RELEASES.join(', ')})`);
    if (!fits.includes(release)) throw new Error(`host${i + 1}: profile ${profile} runs on ${fits.join(' or ')}, not ${release}`);
    specs.push({ ipv6: pick(opts.ipv6, i) ?? true, release, profile });
  }
  return specs;
}

/** The overlay lower dirs of every distinct release/profile pair (built once, cached). */
async function lowersOf(specs: HostSpec[], log: (m: string) => void): Promise<Map<string, { lower: string; base: string }>> {
  const out = new Map<string, { lower: string; base: string }>();
  const keys = [...new Set(specs.map((h) => `${h.release}/${h.profile}`))];
  await Promise.all(
    keys.map(async (k) => {
      const [release, profile] = k.split('/') as [Release, Profile];
      const base = await ensureBase(log, release);
      out.set(k, { lower: await ensureProfile(profile, release, base, log), base });
    }),
  );
  return out;
}

function hostRecord(s: BedState, index: number, lower: string, spec: HostSpec): HostRecord {
  const { ipv6 } = spec;
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
    release: spec.release,
    profile: spec.profile,
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
  const specs = hostSpecs(opts);
  await raiseLimits();
  const [lowers] = await Promise.all([lowersOf(specs, log), ensureImages(log)]);
  const s = await claimBed(opts.detached ?? false, log);
  log(`bed ${s.id} on ${s.subnet}`);
  try {
    return await build(s, specs, lowers, opts, log);
  } catch (e) {
    // Keep the consoles and service logs for the post-mortem; the rest goes.
    const keep = `/tmp/panel-testbed-failed-${s.id}-${Date.now()}`;
    await mustBash(`mkdir -p "$K" && cp "$R"/*.log "$K"/ 2>/dev/null || true`, { env: { ...process.env, K: keep, R: s.runDir } }).catch(() => undefined);
    await cleanupBed(s).catch(() => undefined);
    if (e instanceof Error) e.message += ` (logs kept in ${keep})`;
    throw e;
  }
}

async function build(
  s: BedState,
  specs: HostSpec[],
  lowers: Map<string, { lower: string; base: string }>,
  opts: StartOptions,
  log: (m: string) => void,
): Promise<Testbed> {
  s.bridge = s.id;
  await saveState(s);
  await createBridge(s.bridge, s.slot);
  const client = await generateKey(join(s.runDir, 'id_ed25519'), `panel-testbed ${s.id}`);

  // Services (apt repo, mirror, Pebble) start while the hosts boot.
  const servicesP = startServices(s, opts.pebble ?? true, log, [...new Set(specs.map((h) => h.release))]);
  servicesP.catch(() => undefined); // awaited below; a failed host boot must not leave it unhandled

  const layersOf = (spec: HostSpec): { lower: string; base: string } => {
    const l = lowers.get(`${spec.release}/${spec.profile}`);
    if (!l) throw new Error(`no root for ${spec.release}/${spec.profile}`);
    return l;
  };
  specs.forEach((spec, i) => s.hosts.push(hostRecord(s, i + 1, layersOf(spec).lower, spec)));
  await saveState(s);

  const hostKeys = await Promise.all(
    s.hosts.map(async (h, i) => {
      const spec = specs[i] as HostSpec;
      const key = await generateKey(join(s.runDir, `${h.name}_host_ed25519_key`), `root@${h.name}`);
      await createHostNet({ ...h, bridge: s.id });
      await mountOverlay(h);
      const registry = await registryHostFiles(layersOf(spec).lower, (await ensureImages(log)).caPem, s.bridgeAddress);
      await writeHostFiles(
        h,
        {
          hostKeyPrivate: await readFile(key.privateFile, 'utf8'),
          hostKeyPublic: key.publicLine,
          clientPublicLine: client.publicLine,
          aptSourceLine: `deb [trusted=yes] http://${s.bridgeAddress}:${APT_PORTS[spec.release]}/ ./`,
          extra: { ...registry.files, ...profileHostFiles(spec.profile, { bridgeAddress: s.bridgeAddress }) },
          hostsLines: registry.hostsLines,
        },
        TEST_USERS,
        layersOf(spec).base,
      );
      h.nspawn = await bootHost(h, join(s.runDir, `${h.name}.console.log`));
      return key;
    }),
  );
  await saveState(s);
  // Hosts booting together queue for the kernel's mount and cgroup locks: each
  // host's cgroups unit (cgroups.ts) mounts and unmounts every v1 controller,
  // about 0.4 s alone, so 80 hosts at once (the benchmark's bed) took over 60 s.
  const bootTimeout = BOOT_TIMEOUT_MS + s.hosts.length * 1000;
  await Promise.all(s.hosts.map((h) => waitSsh(h.address, bootTimeout)));
  const states = await Promise.all(s.hosts.map((h) => waitBooted(h, bootTimeout)));
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
      release: h.release ?? DEFAULT_RELEASE,
      profile: h.profile ?? 'plain',
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
    aptUrls: sv.aptUrls,
    checksumsFile: sv.checksumsFile,
    acme: sv.acme,
    dns: sv.dns,
    mirrorFaults: mirrorFaultControl(s.runDir),
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
        // The runner's neighbour entry for the host went FAILED during the cut and
        // would answer the next connection with EHOSTUNREACH until it expires: the
        // cut ends when the host is reachable again, as a real link coming back.
        await flushNeighbour(h.address);
        await waitSsh(h.address, 30_000);
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
