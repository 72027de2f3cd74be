/** Start-up cost of commands that touch no host, with hyperfine (or a plain loop without it). */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { runTimed } from './child.js';
import { spread, type Spread } from './stats.js';

export interface Startup {
  readonly command: string;
  readonly wall: Spread;
  /** Mean user + system CPU seconds: less sensitive to a busy machine than wall time. */
  readonly cpu: number;
  readonly peakRssKb: number;
}

/**
 * `self`: how panel is started, node with bin/panel.js (the default) or the
 * single executable (`npm run build:binary`); the commands' names say which
 * when `label` is given.
 */
export async function measureStartup(runs: number, commands: readonly string[] = ['--help', 'recipes', 'schema'], self: readonly string[] = [process.execPath, join(packageRoot, 'bin', 'panel.js')], label?: string): Promise<Startup[]> {
  const [exe, ...pre] = self as [string, ...string[]];
  const name = (c: string): string => (label === undefined ? `panel ${c}` : `${label} ${c}`);
  const out: Startup[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'panel-bench-startup-'));
  for (const c of commands) {
    const rss = (await runTimed(exe, [...pre, c], { cwd: dir })).peakRssKb;
    try {
      const json = join(dir, 'hf.json');
      execFileSync('hyperfine', ['-N', '-w', '2', '-r', String(runs), '--export-json', json, [...self, c].join(' ')], { stdio: 'ignore', cwd: dir });
      const r = (JSON.parse(readFileSync(json, 'utf8')) as { results: { times: number[]; user: number; system: number }[] }).results[0]!;
      out.push({ command: name(c), wall: spread(r.times), cpu: r.user + r.system, peakRssKb: rss });
    } catch {
      const times: number[] = [];
      let cpu = 0;
      for (let i = 0; i < runs; i++) {
        const r = await runTimed(exe, [...pre, c], { cwd: dir });
        times.push(r.seconds);
        cpu += r.cpuSeconds;
      }
      out.push({ command: name(c), wall: spread(times), cpu: cpu / runs, peakRssKb: rss });
    }
  }
  return out;
}
