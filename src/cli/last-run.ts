/** `.panel/last-run.json`: the previous run's per-host results, for `--retry-failed`. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostResult, Mode } from '../engine/events.js';

export interface LastRun {
  readonly mode: Mode;
  readonly finishedAt: string;
  readonly hosts: readonly HostResult[];
}

/**
 * `.panel/` in the current directory, or $PANEL_STATE_DIR when set (tests
 * use their own, so a test run never touches a checkout's record).
 */
export function stateDir(cwd = process.cwd(), env: Readonly<Record<string, string | undefined>> = process.env): string {
  const fromEnv = env['PANEL_STATE_DIR'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(cwd, '.panel');
}

export function lastRunPath(cwd = process.cwd()): string {
  return join(stateDir(cwd), 'last-run.json');
}

export function saveLastRun(run: LastRun, cwd = process.cwd()): void {
  const path = lastRunPath(cwd);
  mkdirSync(stateDir(cwd), { recursive: true });
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
