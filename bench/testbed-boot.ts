/**
 * Boot 10 hosts from the cached base and print where the time goes.
 *   npx tsx bench/testbed-boot.ts [N]
 * The first run also builds the caches (reported separately, not counted as boot).
 */
import { ensureBase } from '../test/testbed/base.js';
import { ensureMirror } from '../test/testbed/mirror.js';
import { ensurePackages } from '../test/testbed/packages.js';
import { startTestbed } from '../test/testbed/index.js';

const n = Number(process.argv[2] ?? '10');
const rows: [string, number][] = [];
const t0 = Date.now();
const mark = (phase: string, since: number): number => {
  const now = Date.now();
  rows.push([phase, (now - since) / 1000]);
  return now;
};

let t = Date.now();
await ensureMirror(await ensurePackages(await ensureBase()));
t = mark('caches (warm: lookup only)', t);
const phases: [string, number][] = [];
const bed = await startTestbed({
  hosts: n,
  log: (m) => phases.push([m, (Date.now() - t) / 1000]),
});
const bootEnd = Date.now();
t = mark(`startTestbed: ${n} hosts booted, sshd up, systemd running, services up`, t);
const states = await Promise.all(bed.hosts.map((h) => bed.exec(h, 'systemctl is-system-running')));
const running = states.filter((s) => s.stdout.trim() === 'running').length;
t = mark(`check: ${running}/${n} hosts 'running'`, t);
await bed.stop();
mark('stop (everything removed)', t);
rows.push(['total', (Date.now() - t0) / 1000]);

const width = Math.max(...rows.map(([p]) => p.length));
console.log(`${'phase'.padEnd(width)}  seconds`);
console.log(`${'-'.repeat(width)}  -------`);
for (const [p, s] of rows) console.log(`${p.padEnd(width)}  ${s.toFixed(2).padStart(7)}`);
console.log('\nmilestones inside startTestbed (seconds since it began):');
for (const [m, s] of phases) console.log(`  ${s.toFixed(2).padStart(6)}  ${m}`);
const boot = rows[1]?.[1] ?? 0;
console.log(`\n${n} hosts from the cached base in ${boot.toFixed(2)} s (target: under 15 s) — ${boot < 15 ? 'OK' : 'SLOW'}`);
void bootEnd;
