/**
 * The single executable (`npm run build:binary`) beside `node bin/panel.js`:
 *   npm run bench:binary      (root; boots one testbed host)
 * its size, the start-up of commands that contact no host (`--help`,
 * `recipes`), and a local no-op: `panel install` on the host itself, on a host
 * it already converged (the full stack with a Pebble certificate), through
 * the one-liner as a user runs it. The testbed hosts have no Node, so the
 * local no-op has no `node bin/panel.js` row; bench/results/latest.md has the
 * same no-op over SSH. Writes bench/results/binary.md.
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';
import { releaseDir } from '../test/support/release.js';
import { startTestbed, type TestHost } from '../test/testbed/index.js';
import { PANEL_RELEASE_PATH, publishPanelRelease, standInChecksumsFile } from '../test/testbed/mirror.js';
import { describeMachine, loadNow } from './lib/machine.js';
import { measureStartup, type Startup } from './lib/startup.js';
import { fmtSeconds, spread, type Spread } from './lib/stats.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 10);
const log = (m: string): void => void process.stderr.write(`[bench:binary] ${m}\n`);

interface Timed {
  readonly wall: number;
  /** user + sys seconds of the run (panel and what it started): steadier than wall time on a busy machine. */
  readonly cpu: number;
}

async function localNoop(binary: string): Promise<{ first: Timed; noop: Spread; noopCpu: Spread }> {
  const release = binary.replace(/\/[^/]+$/, '');
  const bed = await startTestbed({ hosts: 1 });
  try {
    const h = bed.hosts[0] as TestHost;
    const domain = 'bench-local.panel.test';
    await bed.dns.add(domain, h.address);
    await publishPanelRelease(join(bed.checksumsFile, '..'), release);
    await bed.exec(h, 'cat > /root/STANDIN-SHA256SUMS', { input: readFileSync(standInChecksumsFile(bed.checksumsFile), 'utf8') });
    await bed.exec(h, 'cat > /root/pebble-ca.pem', { input: readFileSync(bed.acme.caFile, 'utf8') });
    const curl = await bed.exec(h, 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null', { timeoutMs: 300_000 });
    if (curl.code !== 0) throw new Error(curl.stderr);
    const args = `-d ${domain} -m ops@panel.test --mirror ${bed.mirrorUrl} --checksums /root/STANDIN-SHA256SUMS --acme-directory ${bed.acme.directory} --acme-ca /root/pebble-ca.pem`;
    // bash's `time` on the host: wall, user and sys seconds on the last line.
    const timed = async (cmd: string): Promise<Timed> => {
      const r = await bed.exec(h, `cd /root && TIMEFORMAT='%R %U %S'; time (${cmd} >/tmp/bench.out 2>&1) 2>&1 || { cat /tmp/bench.out; exit 1; }`, { timeoutMs: 900_000 });
      if (r.code !== 0) throw new Error(`${cmd}: ${r.stdout}${r.stderr}`);
      const [wall, user, sys] = (r.stdout.trim().split('\n').pop() ?? '').split(' ').map(Number) as [number, number, number];
      return { wall, cpu: user + sys };
    };
    log('first install through the one-liner');
    const first = await timed(`curl -fsSL ${bed.mirrorUrl}/${PANEL_RELEASE_PATH}/install.sh | bash -s -- ${args}`);
    const runs: Timed[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await timed(`panel install ${args}`));
    return { first, noop: spread(runs.map((t) => t.wall)), noopCpu: spread(runs.map((t) => t.cpu)) };
  } finally {
    await bed.stop();
  }
}

const row = (s: Startup): string => `| \`${s.command}\` | ${s.wall.median.toFixed(3)} s (${s.wall.min.toFixed(3)}–${s.wall.max.toFixed(3)}, n=${s.wall.n}) | ${s.cpu.toFixed(3)} s | ${(s.peakRssKb / 1024).toFixed(0)} MB |`;

const machine = describeMachine();
const binary = join(releaseDir(), 'panel-linux-amd64');
log(`start-up (load ${loadNow()})`);
const startup = [
  ...(await measureStartup(RUNS, ['--help', 'recipes'])).map((s) => ({ ...s, command: `node bin/panel.js ${s.command.replace(/^panel /, '')}` })),
  ...(await measureStartup(RUNS, ['--help', 'recipes'], [binary], 'panel-linux-amd64')),
];
const loadAfterStartup = loadNow();
log('local no-op on a testbed host');
const local = await localNoop(binary);
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const md = [
  '# The single executable beside `node bin/panel.js`',
  '',
  `Measured on ${machine.cores} cores (${machine.cpu}), ${machine.memoryGb} GiB, Linux ${machine.kernel}, Node ${machine.node}; ` +
    `load (1/5/15 min) ${machine.load} at the start, ${loadAfterStartup} after the start-up rows, ${loadNow()} at the end: ` +
    'a shared machine with other test runs going on, so wall times are high and spread; CPU is the steadier measure.',
  '',
  '| what | size |',
  '|---|---:|',
  `| \`dist/release/panel-linux-amd64\` (Node ${process.version.slice(1)} runtime + panel) | ${mb(statSync(binary).size)} |`,
  `| \`dist/release/panel-linux-arm64\` | ${mb(statSync(join(binary, '..', 'panel-linux-arm64')).size)} |`,
  '',
  '## Start-up (no host contacted)',
  '',
  '| command | wall: median (min–max, runs) | CPU (user+sys) | peak RSS |',
  '|---|---|---:|---:|',
  ...startup.map(row),
  '',
  '## Local mode on a testbed host (Debian 12, no Node), run on the host',
  '',
  '| run | wall | CPU (user+sys, median) |',
  '|---|---|---:|',
  `| first install through the one-liner (download, verify, full stack, Pebble certificate) | ${local.first.wall.toFixed(2)} s | ${local.first.cpu.toFixed(2)} s |`,
  `| local no-op: \`panel install -d … -m …\` again, 0 changes | ${fmtSeconds(local.noop)} | ${local.noopCpu.median.toFixed(2)} s |`,
  '',
].join('\n');
mkdirSync(join(packageRoot, 'bench', 'results'), { recursive: true });
writeFileSync(join(packageRoot, 'bench', 'results', 'binary.md'), md);
process.stdout.write(md);
