/** `.panel/last-run.json`: the previous run's per-host results, for `--retry-failed`. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostResult, Mode } from '../engine/events.js';

export interface LastRun {
  readonly mode: Mode;
  readonly finishedAt: string;
  readonly hosts: readonly HostResult[];
}

export function lastRunPath(cwd = process.cwd()): string {
  return join(cwd, '.panel', 'last-run.json');
}

export function saveLastRun(run: LastRun, cwd = process.cwd()): void {
  const path = lastRunPath(cwd);
  mkdirSync(join(cwd, '.panel'), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(run, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}

/** Host names that failed or were interrupted last time; an error string when there is no usable record. */
export function failedLastTime(cwd = process.cwd()): string[] | { error: string } {
  let text: string;
  try {
    text = readFileSync(lastRunPath(cwd), 'utf8');
  } catch {
    return { error: `--retry-failed: no previous run recorded (${lastRunPath(cwd)})` };
  }
  try {
    const run = JSON.parse(text) as LastRun;
    return run.hosts.filter((h) => h.status === 'failed' || h.status === 'interrupted').map((h) => h.host);
  } catch {
    return { error: `--retry-failed: ${lastRunPath(cwd)} is not valid JSON` };
  }
}
