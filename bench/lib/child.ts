/**
 * Run a command the way a user would, under GNU time: wall time measured
 * here, peak RSS and CPU from time(1), stdout lines with their arrival time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ChildRun {
  readonly code: number;
  readonly seconds: number;
  /** Peak resident set of the command's own process (time(1) %M). */
  readonly peakRssKb: number;
  readonly cpuSeconds: number;
  /** stdout lines, each with seconds since the spawn. */
  readonly lines: readonly { readonly t: number; readonly text: string }[];
  readonly stderr: string;
}

export const TIME_BIN = '/usr/bin/time';

export function runTimed(cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<ChildRun> {
  const dir = mkdtempSync(join(tmpdir(), 'panel-bench-time-'));
  const out = join(dir, 'time');
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(TIME_BIN, ['-f', '%U %S %M', '-o', out, cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: { t: number; text: string }[] = [];
    let partial = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      const t = (performance.now() - t0) / 1000;
      const parts = (partial + d.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const text of parts) lines.push({ t, text });
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 1_800_000);
    child.on('error', reject);
    child.on('close', (code) => {
      const seconds = (performance.now() - t0) / 1000;
      clearTimeout(timer);
      if (partial) lines.push({ t: seconds, text: partial });
      let user = 0;
      let sys = 0;
      let rss = 0;
      try {
        // time(1) may print "Command exited with non-zero status N" first; the numbers are the last line.
        const last = readFileSync(out, 'utf8').trim().split('\n').pop() ?? '';
        [user, sys, rss] = last.split(' ').map(Number) as [number, number, number];
      } catch {
        /* no time output: leave zeros */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? 1, seconds, peakRssKb: rss, cpuSeconds: user + sys, lines, stderr });
    });
  });
}
