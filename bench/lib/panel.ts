/** panel as a child process, with the flags a user types for testbed hosts. */
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import type { Testbed, TestHost } from '../../test/testbed/index.js';
import { runTimed, type ChildRun } from './child.js';

export interface PanelHostResult {
  readonly host: string;
  readonly status: string;
  readonly changed: number;
  readonly roundTrips: number;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  readonly error?: string;
}

export interface PanelRun extends ChildRun {
  readonly hosts: readonly PanelHostResult[];
  /** First arrival of each NDJSON event type, seconds since spawn. */
  readonly firstEvent: ReadonlyMap<string, number>;
}

/** The testbed's connection and mirror flags: nothing that turns a default off. */
export function bedFlags(bed: Testbed, hosts: readonly TestHost[]): string[] {
  return [
    ...hosts.flatMap((h) => ['--host', `root@${h.address}`]),
    '--key', bed.keyFile,
    '--known-hosts', bed.knownHostsFile,
    '--mirror', bed.mirrorUrl,
    '--checksums', bed.checksumsFile,
  ];
}

export async function runPanel(args: readonly string[], opts: { cwd: string; nodeArgs?: readonly string[] }): Promise<PanelRun> {
  const r = await runTimed(process.execPath, [...(opts.nodeArgs ?? []), join(packageRoot, 'bin', 'panel.js'), ...args], {
    cwd: opts.cwd,
    env: { ...process.env, CI: 'true' },
  });
  const firstEvent = new Map<string, number>();
  let hosts: PanelHostResult[] = [];
  for (const { t, text } of r.lines) {
    if (!text.startsWith('{')) continue;
    const e = JSON.parse(text) as { type: string; hosts?: PanelHostResult[] };
    if (!firstEvent.has(e.type)) firstEvent.set(e.type, t);
    if (e.type === 'recap') hosts = e.hosts ?? [];
  }
  return { ...r, hosts, firstEvent };
}

/** Throw with the host's error when any host failed: a failed run is not a measurement. */
export function mustSucceed(what: string, r: PanelRun, expectHosts: number): void {
  const bad = r.hosts.filter((h) => h.status === 'failed' || h.status === 'interrupted');
  if (r.hosts.length !== expectHosts || bad.length > 0 || (r.code !== 0 && r.code !== 2)) {
    throw new Error(`${what}: exit ${r.code}; ${bad.map((h) => h.error).join('; ') || r.stderr.slice(-2000)}`);
  }
}
