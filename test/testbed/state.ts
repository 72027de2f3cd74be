/**
 * What a bed made, written down before it is made: every bridge, veth, netns,
 * overlay mount and process is recorded in /run/panel-testbed/<bed-id>/state.json,
 * so stop(), `testbed down` and the next startTestbed can remove the leftovers of
 * a run that crashed half-way.
 */
import { mkdir, readFile, writeFile, rename, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Release } from './base.js';
import type { ProcRecord } from './procs.js';
import type { Profile } from './profiles.js';

export const RUN_ROOT = process.env.PANEL_TESTBED_RUN ?? '/run/panel-testbed';
/** Overlay upper dirs go on disk: hosts install ~100 MB of binaries each. */
export const DATA_ROOT = process.env.PANEL_TESTBED_DATA ?? '/var/tmp/panel-testbed';

export interface HostRecord {
  index: number;
  name: string;
  netns: string;
  veth: string;
  machine: string;
  address: string;
  address6?: string;
  ipv6: boolean;
  /** overlay: lower (`<profile layer>:<base root>` or the base root), upper, work, merged */
  lower: string;
  /** Absent in beds recorded before releases and profiles existed. */
  release?: Release;
  profile?: Profile;
  upper: string;
  work: string;
  merged: string;
  nspawn?: ProcRecord;
}

export interface BedState {
  id: string;
  slot: number;
  /** The process that owns the bed; a bed whose owner died is a leftover. */
  owner: ProcRecord;
  /** Started by `testbed up`: outlives its owner until `testbed down`. */
  detached: boolean;
  /** The checkout that started it: `testbed down` without an id removes only its own beds. */
  checkout?: string;
  createdAt: string;
  bridge?: string;
  bridgeAddress: string;
  subnet: string;
  hosts: HostRecord[];
  procs: ProcRecord[];
  runDir: string;
  dataDir: string;
}

export function bedIdOf(slot: number): string {
  return `ptb${slot}`;
}

export function runDirOf(id: string): string {
  return join(RUN_ROOT, id);
}

export async function saveState(s: BedState): Promise<void> {
  const file = join(s.runDir, 'state.json');
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(s, null, 2));
  await rename(tmp, file);
}

export async function loadState(id: string): Promise<BedState | undefined> {
  try {
    return JSON.parse(await readFile(join(runDirOf(id), 'state.json'), 'utf8')) as BedState;
  } catch {
    return undefined;
  }
}

/** Ids of every bed directory under RUN_ROOT, including half-made ones. */
export async function listBedIds(): Promise<string[]> {
  await mkdir(RUN_ROOT, { recursive: true });
  return (await readdir(RUN_ROOT)).filter((e) => /^ptb\d+$/.test(e)).sort();
}

export async function removeBedDirs(id: string): Promise<void> {
  await rm(runDirOf(id), { recursive: true, force: true });
  await rm(join(DATA_ROOT, id), { recursive: true, force: true });
}
