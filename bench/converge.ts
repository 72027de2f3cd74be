/**
 * Converge benchmark on testbed hosts: for 1 and 5 hosts, a fresh install and
 * a converged re-run of the demo recipe, through the CLI as users run it.
 * Prints a table: wall time, round trips and bytes per host (from the NDJSON
 * recap), and the CLI's peak RSS (from /usr/bin/time, when installed).
 * Run: npm run build && npx tsx bench/converge.ts
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';
import { startTestbed, type Testbed } from '../test/testbed/index.js';

interface Sample {
  readonly hosts: number;
  readonly phase: string;
  readonly seconds: number;
  readonly roundTripsPerHost: number;
  readonly changes: number;
  readonly peakRssMb: number | undefined;
}

async function runCli(args: string[]): Promise<{ stdout: string; seconds: number; rssKb: number | undefined }> {
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const rssFile = join(mkdtempSync(join(tmpdir(), 'bench-')), 'rss');
  const cmd = timeBin ? timeBin : process.execPath;
  const argv = timeBin ? ['-f', '%M', '-o', rssFile, process.execPath, join(packageRoot, 'bin/panel.js'), ...args] : [join(packageRoot, 'bin/panel.js'), ...args];
  const t0 = performance.now();
  const stdout = await new Promise<string>((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CI: 'true' } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
  const seconds = (performance.now() - t0) / 1000;
  const rssKb = timeBin && existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) : undefined;
  return { stdout, seconds, rssKb };
}

async function measure(bed: Testbed, n: number, phase: string): Promise<Sample> {
  const hostArgs = bed.hosts.slice(0, n).flatMap((h) => ['--host', `root@${h.address}`]);
  const r = await runCli(['install', ...hostArgs, '--key', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--recipes', 'demo', '--mirror', bed.mirrorUrl, '--checksums', bed.checksumsFile, '--json']);
  const recap = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; hosts?: Array<{ roundTrips: number; changed: number; status: string }> })
    .find((e) => e.type === 'recap');
  const hosts = recap?.hosts ?? [];
  const failed = hosts.filter((h) => h.status === 'failed');
  if (failed.length) throw new Error(`bench run failed on ${failed.length} host(s)`);
  return {
    hosts: n,
    phase,
    seconds: r.seconds,
    roundTripsPerHost: hosts.reduce((s, h) => s + h.roundTrips, 0) / Math.max(1, hosts.length),
    changes: hosts.reduce((s, h) => s + h.changed, 0),
    peakRssMb: r.rssKb === undefined ? undefined : r.rssKb / 1024,
  };
}

const samples: Sample[] = [];
for (const n of [1, 5]) {
  const bed = await startTestbed({ hosts: n, pebble: false });
  try {
    samples.push(await measure(bed, n, 'fresh install'));
    samples.push(await measure(bed, n, 'converged re-run'));
  } finally {
    await bed.stop();
  }
}

const header = ['hosts', 'phase', 'wall s', 'round trips/host', 'changes', 'peak RSS MB'];
const rows = samples.map((s) => [String(s.hosts), s.phase, s.seconds.toFixed(2), s.roundTripsPerHost.toFixed(1), String(s.changes), s.peakRssMb === undefined ? 'n/a' : s.peakRssMb.toFixed(0)]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
console.log('\n(round trips include the SSH connection\'s sudo probe where used; the design target is a handful per converged host)');
