/** Runs the built CLI (`bin/panel.js` → dist) as a user would, capturing both streams. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from './temp.js';

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let state: string | undefined;
/** One state directory per test process, removed when it exits. */
function stateDir(): string {
  state ??= tempDir('panel-state-');
  return state;
}

let config: string | undefined;
/**
 * One configuration directory per test process (the ACME account key and the
 * certificates kept after issue live there): each test file is an operator
 * machine of its own. Shared, a certificate kept by one bed's Pebble would be
 * installed on another bed's host, since every bed's CA has the same URL.
 */
function configDir(): string {
  config ??= tempDir('panel-config-');
  return config;
}

export function panel(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, 'bin', 'panel.js'), ...args], {
      cwd: opts.cwd ?? packageRoot,
      // Run from the checkout, the CLI must not overwrite the checkout's own .panel/last-run.json.
      env: { ...process.env, CI: 'true', XDG_CONFIG_HOME: configDir(), ...(opts.cwd === undefined ? { PANEL_STATE_DIR: stateDir() } : {}), ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** Parsed NDJSON events of a `--json` run. */
export function events(run: CliRun): Array<Record<string, unknown> & { type: string }> {
  return run.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
}
