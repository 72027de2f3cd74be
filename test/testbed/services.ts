/**
 * The runner-side services of a bed, all bound to its bridge address: the apt
 * repository (:8091), the artifact mirror (:8090), the OCI registry (:443,
 * images.ts) and, unless disabled, Pebble.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_RELEASE, ensureBase, type Release } from './base.js';
import { bedMirror, ensureMirror, packageRoot } from './mirror.js';
import { ensureImages, startRegistry } from './images.js';
import { ensurePackages } from './packages.js';
import { challtestsrv, pebbleManagement, startPebble, type PebbleOptions } from './pebble.js';
import { spawnDetached, waitPort, type ProcRecord } from './procs.js';
import { saveState, type BedState } from './state.js';

export const APT_PORT = 8091;
export const MIRROR_PORT = 8090;
/** Each Debian release's hosts get their own apt repository (built from that release's packages). */
export const APT_PORTS: Record<Release, number> = { bookworm: APT_PORT, trixie: 8092 };

const self = fileURLToPath(import.meta.url);
const here = dirname(self);
/** Run from test/ with tsx or from dist/test/ after tsc: start the sibling server file. */
const SERVER_ARGV =
  extname(self) === '.ts'
    ? [process.execPath, '--import', 'tsx', join(here, 'static-server.ts')]
    : [process.execPath, join(here, 'static-server.js')];

export interface AcmeInfo {
  /** `https://<bridge>:14000/dir` */
  readonly directory: string;
  /** PEM file to trust for Pebble's API (not the issuing root). */
  readonly caFile: string;
  /** Pebble's issuing root (changes every Pebble start), from :15000/roots/0. */
  rootCaPem(): Promise<string>;
}

export interface DnsControl {
  /** Make `name` resolve (for Pebble) to address (A, or AAAA for an IPv6 address). */
  add(name: string, address: string): Promise<void>;
  remove(name: string): Promise<void>;
}

export interface Services {
  info: ServicesInfo;
  mirrorUrl: string;
  aptUrl: string;
  /** The apt repository of each release the bed serves. */
  aptUrls: Partial<Record<Release, string>>;
  checksumsFile: string;
  acme: AcmeInfo;
  dns: DnsControl;
}

const fqdn = (name: string): string => (name.endsWith('.') ? name : `${name}.`);

export async function startServices(
  s: BedState,
  pebble: boolean | PebbleOptions,
  log: (m: string) => void,
  releases: readonly Release[] = [DEFAULT_RELEASE],
): Promise<Services> {
  const addr = s.bridgeAddress;
  const record = async (p: ProcRecord): Promise<void> => {
    s.procs.push(p);
    await saveState(s);
  };
  const pebbleP = pebble === false ? undefined : startPebble(s.runDir, addr, pebble === true ? {} : pebble, record);
  pebbleP?.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
  // The mirror always repackages the default release's binaries.
  const pkgs = await ensurePackages(await ensureBase(log), log);
  const mirror = await bedMirror(await ensureMirror(pkgs, log), s.runDir);
  const served: Release[] = [...new Set([DEFAULT_RELEASE, ...releases])];
  const repos = await Promise.all(
    served.map(async (r) =>
      r === DEFAULT_RELEASE ? pkgs.repoDir : (await ensurePackages(await ensureBase(log, r), log, r)).repoDir,
    ),
  );
  const server = await spawnDetached(
    [
      ...SERVER_ARGV,
      ...served.map((r, i) => `${addr}:${APT_PORTS[r]}=${repos[i] ?? ''}`),
      // The test-only fault switch reads and logs beside the tree, never inside it (mirror-faults.ts).
      `${addr}:${MIRROR_PORT}=${mirror.root}+faults=${s.runDir}`,
    ],
    join(s.runDir, 'http.log'),
    'static-server',
    process.env,
    packageRoot,
  );
  await record(server);
  // The OCI registry with the stand-in images, on :443 under the registries' names (images.ts).
  await startRegistry(await ensureImages(log), s.runDir, addr, record);
  const ph = pebbleP ? await pebbleP : undefined;
  for (const r of served) await waitPort(addr, APT_PORTS[r], 20_000, server);
  await waitPort(addr, MIRROR_PORT, 20_000, server);
  log(`services up: apt :${APT_PORT}, mirror :${MIRROR_PORT}${ph ? ', pebble :14000' : ''}`);

  return servicesFrom({
    bridgeAddress: addr,
    releases: served,
    checksumsFile: mirror.checksumsFile,
    acmeDirectory: ph?.directory,
    acmeCaFile: ph?.caFile,
  });
}

/** The plain facts a bed's services are described by (saved for `attachTestbed`). */
export interface ServicesInfo {
  bridgeAddress: string;
  /** Releases whose apt repository is served (absent in beds started before releases existed). */
  releases?: Release[];
  checksumsFile: string;
  acmeDirectory: string | undefined;
  acmeCaFile: string | undefined;
}

export function servicesFrom(info: ServicesInfo): Services {
  const addr = info.bridgeAddress;
  const { acmeDirectory, acmeCaFile } = info;
  const noPebble = (): never => {
    throw new Error('this testbed was started with pebble: false');
  };
  const withPebble = acmeDirectory !== undefined && acmeCaFile !== undefined;
  const acme: AcmeInfo = withPebble
    ? {
        directory: acmeDirectory,
        caFile: acmeCaFile,
        rootCaPem: async () => pebbleManagement(addr, '/roots/0', await readFile(acmeCaFile, 'utf8')),
      }
    : { directory: '', caFile: '', rootCaPem: async () => noPebble() };
  const dns: DnsControl = {
    add: async (name, address) => {
      if (!withPebble) noPebble();
      const v6 = address.includes(':');
      await challtestsrv(addr, v6 ? '/add-aaaa' : '/add-a', { host: fqdn(name), addresses: [address] });
    },
    remove: async (name) => {
      if (!withPebble) noPebble();
      await challtestsrv(addr, '/clear-a', { host: fqdn(name) });
      await challtestsrv(addr, '/clear-aaaa', { host: fqdn(name) });
    },
  };
  return {
    info,
    mirrorUrl: `http://${addr}:${MIRROR_PORT}`,
    aptUrl: `http://${addr}:${APT_PORT}`,
    aptUrls: Object.fromEntries((info.releases ?? [DEFAULT_RELEASE]).map((r) => [r, `http://${addr}:${APT_PORTS[r]}`])),
    checksumsFile: info.checksumsFile,
    acme,
    dns,
  };
}
