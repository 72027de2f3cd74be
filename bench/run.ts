/**
 * panel against Ansible on the same testbed hosts, in one run:
 *   npm run bench            (root; boots the testbed, installs what it needs)
 *
 * Two equal sets of fresh hosts, one per tool (each tool converges only its
 * own set, so neither sees the other's leftovers). Scenarios: first install
 * on 1 and on 5 fresh hosts, no-op re-runs on 1/5/10/20 hosts at concurrency
 * (forks) = host count, `plan` on a converged host (Ansible: --check),
 * `check --deep`. The table goes to stdout and bench/results/latest.md.
 *
 * Knobs (environment): BENCH_RUNS (no-op/plan/check runs, default 5),
 * BENCH_FIRST_RUNS (first-install runs, fresh hosts each, default 5),
 * BENCH_ANSIBLE_RUNS (Ansible no-op runs on 1 and 5 hosts, default 5),
 * BENCH_ANSIBLE_RUNS_LARGE (on 10 and 20 hosts, default 5),
 * BENCH_MAX_HOSTS (largest no-op scenario with Ansible, default 20),
 * BENCH_FLEET_HOSTS (panel-only no-op and `plan` on a fleet, default 50; the fleet
 * scenario also runs them on 20 hosts when the no-op rows stop below 20),
 * BENCH_SCENARIOS (comma list of first,noop,plan,fleet,profile; default all:
 * a targeted run of some, e.g. BENCH_SCENARIOS=fleet, is a reduced run).
 * BENCH_QUICK=1: a reduced run that proves every step works (2 panel runs,
 * 1 of everything else, no-op on 1 and 5 hosts) in a few minutes.
 *
 * Only a run with every knob at its default that runs to its end writes
 * bench/results/latest.md; a reduced run, or one that stopped early (a failed
 * step, Ctrl-C), writes bench/results/reduced.md (not committed), and its
 * header says which knobs were turned down or where it stopped. The full run
 * takes over an hour on a 2-core runner, most of it first installs on fresh
 * hosts (the table gives the time it took).
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/paths.js';
import { startTestbed, type Testbed, type TestHost } from '../test/testbed/index.js';
import { hostProfile, renderHostProfile } from './lib/host-profile.js';
import { mustSucceedAnsible, prepareAnsible, runAnsible, type AnsibleRun, type AnsibleSetup } from './lib/ansible.js';
import { describeMachine, loadNow } from './lib/machine.js';
import { bedFlags, mustSucceed, runPanel, type PanelRun } from './lib/panel.js';
import { cpuAt, hostCpuPerHost, readHostCpu, sampleHostCpu, sshFloor } from './lib/host-cpu.js';
import { summarizeProfile, type SelfTime } from './lib/profile.js';
import { measureStartup } from './lib/startup.js';
import { fmtKb, fmtSeconds, spread, type Spread } from './lib/stats.js';
import { perHost, readTraffic, type Traffic } from './lib/traffic.js';

const env = (k: string, d: number): number => {
  const v = Number(process.env[k] ?? d);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${k} must be a positive integer`);
  return v;
};
const QUICK = process.env['BENCH_QUICK'] === '1';
const DEFAULTS = { BENCH_RUNS: 5, BENCH_FIRST_RUNS: 5, BENCH_ANSIBLE_RUNS: 5, BENCH_ANSIBLE_RUNS_LARGE: 5, BENCH_MAX_HOSTS: 20, BENCH_FLEET_HOSTS: 50 } as const;
const QUICK_VALUES = { BENCH_RUNS: 2, BENCH_FIRST_RUNS: 1, BENCH_ANSIBLE_RUNS: 1, BENCH_ANSIBLE_RUNS_LARGE: 1, BENCH_MAX_HOSTS: 5, BENCH_FLEET_HOSTS: 10 } as const;
const ALL_SCENARIOS = ['first', 'noop', 'plan', 'fleet', 'profile'] as const;
const SCENARIOS = new Set((process.env['BENCH_SCENARIOS'] ?? ALL_SCENARIOS.join(',')).split(',').map((x) => x.trim()).filter(Boolean));
for (const x of SCENARIOS) if (!(ALL_SCENARIOS as readonly string[]).includes(x)) throw new Error(`BENCH_SCENARIOS: unknown scenario ${x} (${ALL_SCENARIOS.join(', ')})`);
const run = (x: (typeof ALL_SCENARIOS)[number]): boolean => SCENARIOS.has(x);
const knob = (k: keyof typeof DEFAULTS): number => env(k, QUICK ? QUICK_VALUES[k] : DEFAULTS[k]);
const RUNS = knob('BENCH_RUNS');
const FIRST_RUNS = knob('BENCH_FIRST_RUNS');
const ANSIBLE_RUNS = knob('BENCH_ANSIBLE_RUNS');
const ANSIBLE_RUNS_LARGE = knob('BENCH_ANSIBLE_RUNS_LARGE');
const MAX_HOSTS = knob('BENCH_MAX_HOSTS');
const FLEET_HOSTS = knob('BENCH_FLEET_HOSTS');
/** The knobs turned below their defaults, or scenarios left out: a reduced run, which never becomes latest.md. */
const REDUCED = [
  ...(Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]).filter((k) => knob(k) < DEFAULTS[k]).map((k) => `${k}=${knob(k)}`),
  ...(ALL_SCENARIOS.every(run) ? [] : [`BENCH_SCENARIOS=${[...SCENARIOS].join(',')}`]),
];
const NOOP_SIZES = [1, 5, 10, 20].filter((n) => n <= MAX_HOSTS);
/** What a reduced run left out, for its report's first line. */
function reducedWhat(): string {
  const left = ALL_SCENARIOS.filter((x) => !run(x));
  const fewer = (['BENCH_RUNS', 'BENCH_FIRST_RUNS', 'BENCH_ANSIBLE_RUNS', 'BENCH_ANSIBLE_RUNS_LARGE'] as const).filter((k) => knob(k) < DEFAULTS[k]);
  return [
    left.length > 0 ? `scenarios left out: ${left.join(', ')}` : '',
    fewer.length > 0 ? `fewer runs (${fewer.map((k) => `${k}=${knob(k)}`).join(', ')})` : '',
    run('noop') && MAX_HOSTS < DEFAULTS.BENCH_MAX_HOSTS ? `no-op rows beside Ansible up to ${MAX_HOSTS} hosts` : '',
    run('fleet') && FLEET_HOSTS < DEFAULTS.BENCH_FLEET_HOSTS ? `a fleet of ${FLEET_HOSTS}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}
/** Ansible's set; panel's is larger when the fleet rows run (panel only). */
/**
 * Spare hosts for Ansible: a playbook whose handlers restart faasd during its first start leaves some
 * hosts broken (see faasdDiagnosis), and the no-op rows need MAX_HOSTS that Ansible converged.
 */
const SPARE = run('noop') || run('plan') ? Math.ceil(MAX_HOSTS * 0.4) : 0;
const SET = Math.max(run('noop') || run('plan') ? MAX_HOSTS : 1, run('first') ? 6 * FIRST_RUNS : 1) + SPARE;
const SET_P = Math.max(SET, run('fleet') ? FLEET_HOSTS : 1);
/** The fleet rows: FLEET_HOSTS, and 20 hosts (panel only) when the no-op rows do not reach 20, so that its target is measured. */
const FLEET_SIZES = [...(run('noop') && NOOP_SIZES.includes(20) ? [] : [20].filter((n) => n < FLEET_HOSTS)), FLEET_HOSTS];
/** Fresh hosts panel converges at once before the timed rows. */
const CONVERGE_BATCH = 10;

const log = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

interface Side {
  readonly wall: Spread;
  readonly roundTripsPerHost: number;
  readonly traffic: Traffic;
  readonly changes: number;
  /** User + system CPU seconds of the tool's process and the children it waited for (median). */
  readonly cpu: Spread;
  /** panel only: transport wire bytes per host. */
  readonly wire?: Traffic;
  readonly peakRssKb?: number;
  /** CPU seconds per host on the host itself (its cgroup: sshd, shells, what they start), mean of the runs. */
  readonly hostCpu: number;
}

interface Row {
  readonly scenario: string;
  readonly hosts: number;
  readonly panel: Side;
  readonly ansible?: Side;
  readonly note?: string;
}

/** One measured panel run: wall time, per-host round trips and bytes. */
interface PanelSample {
  readonly run: PanelRun;
  readonly traffic: Traffic;
  readonly hostCpu: number;
}

async function panelOnce(bed: Testbed, hosts: readonly TestHost[], args: readonly string[], cwd: string, what: string, nodeArgs: readonly string[] = []): Promise<PanelSample> {
  const before = await readTraffic(bed, hosts);
  const cpuBefore = await readHostCpu(bed, hosts);
  const run = await runPanel([...args, ...bedFlags(bed, hosts), '--concurrency', String(hosts.length), '--json'], { cwd, nodeArgs });
  const hostCpu = hostCpuPerHost(cpuBefore, await readHostCpu(bed, hosts));
  const traffic = perHost(before, await readTraffic(bed, hosts));
  mustSucceed(what, run, hosts.length);
  return { run, traffic, hostCpu };
}

function panelSide(samples: readonly PanelSample[]): Side {
  const per = (f: (s: PanelSample) => number): number => samples.reduce((a, s) => a + f(s), 0) / samples.length;
  const hostsOf = (s: PanelSample): number => Math.max(1, s.run.hosts.length);
  return {
    wall: spread(samples.map((s) => s.run.seconds)),
    cpu: spread(samples.map((s) => s.run.cpuSeconds)),
    roundTripsPerHost: per((s) => s.run.hosts.reduce((a, h) => a + h.roundTrips, 0) / hostsOf(s)),
    traffic: { toHost: per((s) => s.traffic.toHost), fromHost: per((s) => s.traffic.fromHost) },
    wire: {
      toHost: per((s) => s.run.hosts.reduce((a, h) => a + (h.bytesSent ?? 0), 0) / hostsOf(s)),
      fromHost: per((s) => s.run.hosts.reduce((a, h) => a + (h.bytesReceived ?? 0), 0) / hostsOf(s)),
    },
    changes: Math.max(...samples.map((s) => s.run.hosts.reduce((a, h) => a + h.changed, 0))),
    peakRssKb: Math.max(...samples.map((s) => s.run.peakRssKb)),
    hostCpu: per((s) => s.hostCpu),
  };
}

interface AnsibleSample {
  readonly run: AnsibleRun;
  readonly traffic: Traffic;
  readonly hostCpu: number;
}

async function ansibleOnce(bed: Testbed, setup: AnsibleSetup, hosts: readonly TestHost[], what: string, extra: readonly string[] = []): Promise<AnsibleSample> {
  const before = await readTraffic(bed, hosts);
  const cpuBefore = await readHostCpu(bed, hosts);
  const run = await runAnsible(setup, hosts, extra);
  const hostCpu = hostCpuPerHost(cpuBefore, await readHostCpu(bed, hosts));
  const traffic = perHost(before, await readTraffic(bed, hosts));
  mustSucceedAnsible(what, run, hosts);
  return { run, traffic, hostCpu };
}

function ansibleSide(samples: readonly AnsibleSample[], hosts: number): Side {
  const per = (f: (s: AnsibleSample) => number): number => samples.reduce((a, s) => a + f(s), 0) / samples.length;
  return {
    wall: spread(samples.map((s) => s.run.seconds)),
    cpu: spread(samples.map((s) => s.run.cpuSeconds)),
    roundTripsPerHost: per((s) => [...s.run.sshCalls.values()].reduce((a, b) => a + b, 0) / hosts),
    traffic: { toHost: per((s) => s.traffic.toHost), fromHost: per((s) => s.traffic.fromHost) },
    changes: Math.max(...samples.map((s) => [...s.run.recap.values()].reduce((a, r) => a + r.changed, 0))),
    hostCpu: per((s) => s.hostCpu),
  };
}

/** The host and recipe events of a run, with when each reached the benchmark. */
function hostEvents(r: PanelRun): Array<{ t: number; type: string; recipe?: string }> {
  const out: Array<{ t: number; type: string; recipe?: string }> = [];
  for (const { t, text } of r.lines) {
    if (!text.startsWith('{')) continue;
    const e = JSON.parse(text) as { type: string; recipe?: string };
    if (e.type === 'recipe-start' || e.type === 'recipe-end' || e.type === 'host-start' || e.type === 'host-end') out.push({ t, ...e });
  }
  return out;
}

/** From faasd's recipe end to the host's end: the stack's own first start, which panel's verify waits for (wall s, host CPU s). */
function stackStartOf(r: PanelRun, samples: ReadonlyArray<readonly [number, number]>): { seconds: number; cpu: number } | undefined {
  const events = hostEvents(r);
  const from = events.filter((e) => e.type === 'recipe-end' && e.recipe === 'faasd').at(-1)?.t;
  const to = events.filter((e) => e.type === 'host-end').at(-1)?.t;
  if (from === undefined || to === undefined || samples.length < 2) return undefined;
  return { seconds: to - from, cpu: cpuAt(samples, to) - cpuAt(samples, from) };
}

/**
 * Where a 1-host first install spends its time: when each recipe's start and
 * end (and the host's end) reached the benchmark, from panel's NDJSON events.
 */
function firstInstallTimeline(r: PanelRun, samples: ReadonlyArray<readonly [number, number]>): string {
  const cpu = (t: number): string => (samples.length > 1 ? cpuAt(samples, t).toFixed(2) : '—');
  const rows = hostEvents(r).map((e) => `| ${e.type} | ${e.recipe ?? ''} | ${e.t.toFixed(2)} | ${cpu(e.t)} |`);
  return [
    '### Where a 1-host first install spends its time (its first run)',
    '',
    "When each event reached the benchmark, seconds since panel was spawned, and the host's CPU seconds by then (its cgroup, read every 0.1 s). " +
      "A recipe's time runs from its start to its end: its apply round trip and its checks (faasd's wait for its gateway included). " +
      "faasd's span is mostly the stack's own first start (the testbed's faasd stand-in pulling its images and starting its tasks), which Ansible's run waits for as well.",
    '',
    '| event | recipe | s | host CPU s |',
    '|---|---|---:|---:|',
    ...rows,
    `| (process exit) | | ${r.seconds.toFixed(2)} | ${cpu(r.seconds)} |`,
  ].join('\n');
}

/**
 * What a host's faasd says when a playbook's gateway check failed: its unit, its last journal lines, what listens.
 * Then its faasd is stopped: the host is set aside, and a faasd in a restart loop (every 10 s, preparing its
 * images again) loads the runner every later row is measured on (load 23 with eight such hosts, 2026-12-05).
 */
async function faasdDiagnosis(bed: Testbed, h: TestHost): Promise<string> {
  const r = await bed.exec(
    h,
    'systemctl status faasd faasd-provider --no-pager -n 0 2>&1 | head -20; journalctl -u faasd -n 40 --no-pager -o short-precise 2>&1; ss -ltn 2>&1 | head -20; systemctl stop faasd',
    { timeoutMs: 30_000 },
  );
  return `\n${r.stdout}${r.stderr}`;
}

async function installPython(bed: Testbed, hosts: readonly TestHost[]): Promise<void> {
  // Ansible's modules need python3 (and python3-apt for its apt module) on the host. Installed for every host (both
  // sets stay alike), outside the timings; the apt lists go again so that the
  // first install starts from a host that never ran `apt-get update`.
  const script =
    'export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-apt >/dev/null && ' +
    'rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/lib/apt/periodic/update-success-stamp && apt-get clean && ' +
    // Ansible's cache_valid_time reads the lists directory's mtime: make it as old as on a host that never updated.
    "touch -d '2000-01-01' /var/lib/apt/lists /var/lib/apt/lists/partial";
  for (let i = 0; i < hosts.length; i += 8) {
    await Promise.all(
      hosts.slice(i, i + 8).map(async (h) => {
        const r = await bed.exec(h, script, { timeoutMs: 600_000 });
        if (r.code !== 0) throw new Error(`${h.name}: installing python3 failed: ${r.stderr.slice(-1000)}`);
      }),
    );
  }
}

/** The CPU profile of one no-op on the fleet's largest size. */
interface FleetProfile extends ReturnType<typeof summarizeProfile> {
  readonly hosts: number;
}

/** The profile's areas that are CPU (idle is waiting for the hosts). */
const busyAreas = (p: FleetProfile): SelfTime[] => p.byPackage.filter((e) => e.what !== '(idle)');

/** The profile's busy ms, and each area's share of them. */
const busyShares = (p: FleetProfile): { busyMs: number; shares: { what: string; share: number }[] } => {
  const busy = busyAreas(p);
  const busyMs = busy.reduce((a, e) => a + e.ms, 0);
  return { busyMs, shares: busy.map((e) => ({ what: e.what, share: busyMs > 0 ? e.ms / busyMs : 0 })) };
};

function renderFleetProfile(p: FleetProfile): string {
  const { busyMs, shares } = busyShares(p);
  return [
    `### Where panel's own CPU goes on a ${p.hosts}-host no-op`,
    '',
    `One more no-op on the ${p.hosts} hosts, run with \`--cpu-prof\` (not counted in its row). Profile length ${p.totalMs.toFixed(0)} ms, busy samples ${busyMs.toFixed(0)} ms. ` +
      "A busy sample is time panel's thread was running **or waiting for a core**: on this runner the hosts' own processes share its 2 cores, so busy time is several times panel's CPU (its row), and only the shares below say where that CPU goes.",
    '',
    '| self time by package/area | share of the busy samples |',
    '|---|---:|',
    ...shares.map((e) => `| ${e.what} | ${(e.share * 100).toFixed(1)}% |`),
    '',
    '| top self-time functions | busy ms |',
    '|---|---:|',
    ...p.entries.filter((e) => !e.what.startsWith('(idle)')).map((e) => `| \`${e.what}\` | ${e.ms.toFixed(0)} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const began = Date.now();
  const machine = describeMachine();
  const work = mkdtempSync(join(tmpdir(), 'panel-bench-'));
  const rows: Row[] = [];
  log(`start-up timings (load ${loadNow()})`);
  // Node's own start beside panel's commands: the part of their time no change in panel can take away.
  const startup = [...(await measureStartup(RUNS * 2)), ...(await measureStartup(RUNS * 2, ['0'], [process.execPath, '-e'], 'node -e'))];

  log(`booting ${SET_P + SET} testbed hosts (${SET_P} for panel, ${SET} for Ansible)`);
  const t0 = Date.now();
  const bed = await startTestbed({ hosts: SET_P + SET, pebble: false, log: (m) => log(`testbed: ${m}`) });
  const bootSeconds = (Date.now() - t0) / 1000;
  let profileText = '';
  let firstText = '';
  let stackStart: { seconds: number; cpu: number } | undefined;
  let noopEvents: ReadonlyMap<string, number> | undefined;
  let hostScript: { scriptMs: number; cgroupMs: number } | undefined;
  let fleetProfile: FleetProfile | undefined;
  let stopped: string | undefined;
  let floor: number | undefined;
  // Ctrl-C still removes the bed (and the table shows what was measured).
  const onSigint = (): void => {
    stopped = 'interrupted';
    void bed.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  try {
    const P = bed.hosts.slice(0, SET_P);
    const A = bed.hosts.slice(SET_P, SET_P + SET);
    // Both sets alike; the fleet's extra panel hosts (beyond SET) never meet Ansible and go without.
    if (run('first') || run('noop') || run('plan')) {
      log('python3 on every host (for Ansible; not timed)');
      await installPython(bed, [...P.slice(0, SET), ...A]);
    }
    const setup = prepareAnsible(bed, A, join(work, 'ansible'));

    // First install: fresh hosts for every run, the tools alternating.
    const firstP: Record<1 | 5, PanelSample[]> = { 1: [], 5: [] };
    const firstA: Record<1 | 5, AnsibleSample[]> = { 1: [], 5: [] };
    const failedA: Record<1 | 5, string[]> = { 1: [], 5: [] };
    const brokenA = new Set<string>();
    let firstSamples: Array<[number, number]> = [];
    for (let r = 0; r < (run('first') ? FIRST_RUNS : 0); r++) {
      for (const n of [1, 5] as const) {
        const off = 6 * r + (n === 1 ? 0 : 1);
        log(`first install on ${n} host(s), run ${r + 1}/${FIRST_RUNS}: panel`);
        const once = (): Promise<PanelSample> => panelOnce(bed, P.slice(off, off + n), ['install', '--yes'], work, `panel first install ${n}`);
        if (r === 0 && n === 1) {
          // The first 1-host run's host CPU over time: the timeline below gives each recipe's share.
          const { result, samples } = await sampleHostCpu(bed, P[off]!, once);
          firstP[n].push(result);
          firstSamples = samples;
        } else firstP[n].push(await once());
        log(`first install on ${n} host(s), run ${r + 1}/${FIRST_RUNS}: Ansible`);
        try {
          firstA[n].push(await ansibleOnce(bed, setup, A.slice(off, off + n), `Ansible first install ${n}`));
        } catch (e) {
          // Fresh hosts cannot be had again: the run is left out of the median, said in the row, and its hosts' faasd looked at.
          const message = (e as Error).message;
          log(`Ansible first install ${n}, run ${r + 1} failed (left out of the median): ${message}`);
          const failed = /failed hosts: ([^\n]*)/.exec(message)?.[1]?.split(', ').filter(Boolean) ?? [];
          for (const h of A.slice(off, off + n).filter((x) => failed.includes(x.name))) log(`${h.name}: ${await faasdDiagnosis(bed, h)}`);
          failedA[n].push(`run ${r + 1}: ${failed.length > 0 ? failed.join(', ') : message.split('\n')[0]!}`);
          for (const name of failed) brokenA.add(name);
        }
      }
    }
    const firstRun = firstP[1][0]?.run;
    if (firstRun) {
      firstText = firstInstallTimeline(firstRun, firstSamples);
      stackStart = stackStartOf(firstRun, firstSamples);
    }
    for (const n of run('first') ? ([1, 5] as const) : []) {
      const failures = failedA[n].length > 0 ? `; Ansible failed in ${failedA[n].length} (${failedA[n].join('; ')}), left out` : '';
      rows.push({
        scenario: 'first install',
        hosts: n,
        panel: panelSide(firstP[n]),
        ...(firstA[n].length > 0 ? { ansible: ansibleSide(firstA[n], n) } : {}),
        note: `fresh hosts for every run (${FIRST_RUNS} runs${failures})`,
      });
    }

    log(`converging the rest of both sets (${SET_P} and ${SET} hosts; not timed)`);
    // In batches: a stack's first start (image pulls, tasks) on dozens of hosts at once, all sharing the runner's cores,
    // can outlast the gateway's wait; that is the testbed's limit, not a scenario the bench times.
    for (let i = 0; i < P.length; i += CONVERGE_BATCH) await panelOnce(bed, P.slice(i, i + CONVERGE_BATCH), ['install', '--yes'], work, 'panel converge all');
    // Ansible's hosts that a failed first install left broken (their faasd cannot start again) are not converged again,
    // and any host this converge cannot bring up is set aside too: the no-op rows use hosts Ansible converged.
    let good = A.filter((h) => !brokenA.has(h.name));
    if (run('noop') || run('plan')) {
      try {
        await ansibleOnce(bed, setup, good, 'Ansible converge all');
      } catch (e) {
        const message = (e as Error).message;
        const failed = /failed hosts: ([^\n]*)/.exec(message)?.[1]?.split(', ').filter(Boolean) ?? [];
        if (failed.length === 0) throw e;
        log(`Ansible converge all: ${failed.join(', ')} failed, set aside: ${message}`);
        for (const h of good.filter((x) => failed.includes(x.name))) log(`${h.name}: ${await faasdDiagnosis(bed, h)}`);
        for (const name of failed) brokenA.add(name);
        good = good.filter((h) => !brokenA.has(h.name));
      }
    }
    if (run('noop') || run('profile')) {
      log('host CPU of an SSH connection that runs `true` (the floor of any SSH tool)');
      floor = await sshFloor(bed, P[0]!);
    }
    if (good.length < MAX_HOSTS) log(`only ${good.length} of Ansible's hosts converged (${[...brokenA].join(', ')} failed): its larger no-op rows are left out`);
    const Ag = good;
    const setAside = brokenA.size > 0 ? `; Ansible's ${[...brokenA].join(', ')} set aside (failed to converge)` : '';

    for (const n of run('noop') ? NOOP_SIZES : []) {
      const ps: PanelSample[] = [];
      const as: AnsibleSample[] = [];
      const aRuns = n >= 10 ? ANSIBLE_RUNS_LARGE : ANSIBLE_RUNS;
      for (let r = 0; r < Math.max(RUNS, aRuns); r++) {
        if (r < RUNS) {
          log(`no-op on ${n} host(s), run ${r + 1}: panel`);
          ps.push(await panelOnce(bed, P.slice(0, n), ['install', '--yes'], work, `panel no-op ${n}`));
        }
        if (r < aRuns && n <= Ag.length) {
          log(`no-op on ${n} host(s), run ${r + 1}: Ansible`);
          as.push(await ansibleOnce(bed, setup, Ag.slice(0, n), `Ansible no-op ${n}`));
        }
      }
      const aNote = as.length === 0 ? `; Ansible not run: only ${Ag.length} of its hosts converged` : '';
      const note = `${setAside}${aNote}`.slice(2);
      rows.push({ scenario: 'no-op re-run', hosts: n, panel: panelSide(ps), ...(as.length > 0 ? { ansible: ansibleSide(as, n) } : {}), ...(note ? { note } : {}) });
      if (n === 1) {
        const last = ps[ps.length - 1]!.run;
        noopEvents = new Map([...last.firstEvent, ['(process exit)', last.seconds]]);
      }
    }

    // A fleet: panel only (Ansible's 20-host row already takes minutes).
    for (const size of run('fleet') ? FLEET_SIZES : []) {
      const fleet = P.slice(0, size);
      const noop: PanelSample[] = [];
      const plan: PanelSample[] = [];
      for (let r = 0; r < RUNS; r++) {
        log(`no-op on ${fleet.length} hosts (panel only), run ${r + 1}`);
        noop.push(await panelOnce(bed, fleet, ['install', '--yes'], work, `panel no-op ${fleet.length}`));
        log(`plan on ${fleet.length} hosts (panel only), run ${r + 1}`);
        plan.push(await panelOnce(bed, fleet, ['plan'], work, `panel plan ${fleet.length}`));
      }
      rows.push({ scenario: 'no-op re-run', hosts: fleet.length, panel: panelSide(noop), note: 'panel only' });
      rows.push({ scenario: '`plan`', hosts: fleet.length, panel: panelSide(plan), note: 'panel only' });
      if (size === FLEET_HOSTS) {
        // Where panel's own CPU goes when it drives a fleet: one more no-op, profiled (not in the row above).
        log(`CPU profile of a ${size}-host no-op run`);
        const dir = join(work, 'prof-fleet');
        mkdirSync(dir, { recursive: true });
        await panelOnce(bed, fleet, ['install', '--yes'], work, `panel no-op ${size} (profiled)`, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
        const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (file) fleetProfile = { hosts: size, ...summarizeProfile(join(dir, file), 12) };
      }
    }

    const planP: PanelSample[] = [];
    const planA: AnsibleSample[] = [];
    const deep: PanelSample[] = [];
    for (let r = 0; r < (run('plan') ? RUNS : 0); r++) {
      log(`plan / --check on a converged host, run ${r + 1}`);
      planP.push(await panelOnce(bed, P.slice(0, 1), ['plan'], work, 'panel plan'));
      if (r < ANSIBLE_RUNS) planA.push(await ansibleOnce(bed, setup, Ag.slice(0, 1), 'Ansible --check', ['--check']));
      log(`check --deep, run ${r + 1}`);
      deep.push(await panelOnce(bed, P.slice(0, 1), ['check', '--deep'], work, 'panel check --deep'));
    }
    if (run('plan')) {
      rows.push({ scenario: '`plan` (Ansible: `--check`)', hosts: 1, panel: panelSide(planP), ansible: ansibleSide(planA, 1) });
      rows.push({ scenario: '`check --deep`', hosts: 1, panel: panelSide(deep), note: 'no Ansible equivalent (rehashes every file)' });
    }

    log('CPU profile of a 1-host no-op run');
    const profDir = join(work, 'prof');
    mkdirSync(profDir, { recursive: true });
    if (run('profile')) await panelOnce(bed, P.slice(0, 1), ['install', '--yes'], work, 'panel no-op (profiled)', ['--cpu-prof', `--cpu-prof-dir=${profDir}`]);
    const prof = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (prof) {
      const s = summarizeProfile(join(profDir, prof), 15);
      profileText +=
        `Profile length ${s.totalMs.toFixed(0)} ms (from V8 start to exit; idle time is time spent waiting for the host).\n\n` +
        '| self time by package/area | ms | share |\n|---|---:|---:|\n' +
        s.byPackage.map((e) => `| ${e.what} | ${e.ms.toFixed(0)} | ${(e.share * 100).toFixed(1)}% |`).join('\n') +
        '\n\n| top self-time functions | ms | share |\n|---|---:|---:|\n' +
        s.entries.map((e) => `| \`${e.what}\` | ${e.ms.toFixed(0)} | ${(e.share * 100).toFixed(1)}% |`).join('\n');
    }
    if (run('profile')) {
      log("host CPU profile of a 1-host no-op (its planning script captured, then run on the host with bash's times)");
      const noop1 = rows.find((r) => r.scenario === 'no-op re-run' && r.hosts === 1);
      try {
        const hp = await hostProfile(bed, P[0]!, async () => {
          await panelOnce(bed, P.slice(0, 1), ['install', '--yes'], work, 'panel no-op (captured)');
        });
        profileText += `\n\n${renderHostProfile(hp, noop1?.panel.hostCpu)}`;
        hostScript = hp;
      } catch (e) {
        log(`host CPU profile failed: ${(e as Error).message}`);
        profileText += `\n\nThe host CPU profile failed: ${(e as Error).message.split('\n')[0]!}`;
      }
    }
  } catch (e) {
    // A failed scenario ends the run, but what was measured before it is still written out.
    stopped = (e as Error).message;
    log(`run stopped: ${stopped}`);
  } finally {
    process.off('SIGINT', onSigint);
    log('stopping the testbed');
    await bed.stop();
  }

  const minutes = (Date.now() - began) / 60_000;
  let md = render(machine, rows, startup, bootSeconds, [profileText, fleetProfile ? renderFleetProfile(fleetProfile) : '', firstText].filter(Boolean).join('\n\n'), minutes, { sshFloorSeconds: floor, noopEvents, hostScript, stackStart, fleetProfile });
  if (stopped) md += `\n**The run stopped early:** ${stopped.split('\n')[0]}\n`;
  const out = join(packageRoot, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  // A run that stopped early (a failure, Ctrl-C) measured only part: like a reduced run, it never replaces latest.md.
  const file = REDUCED.length > 0 || stopped !== undefined ? 'reduced.md' : 'latest.md';
  writeFileSync(join(out, file), md);
  process.stdout.write(md);
  log(`written to bench/results/${file} (${minutes.toFixed(1)} min)`);
  if (stopped) process.exitCode = 1;
}

const mb = (kb: number | undefined): string => (kb === undefined ? '—' : `${(kb / 1024).toFixed(0)} MB`);
const bytes = (t: Traffic | undefined): string => (t === undefined ? '—' : `${fmtKb(t.toHost)} / ${fmtKb(t.fromHost)}`);

function render(
  m: ReturnType<typeof describeMachine>,
  rows: readonly Row[],
  startup: Awaited<ReturnType<typeof measureStartup>>,
  bootSeconds: number,
  profileText: string,
  minutes: number,
  seen: {
    sshFloorSeconds: number | undefined;
    noopEvents: ReadonlyMap<string, number> | undefined;
    hostScript: { scriptMs: number; cgroupMs: number } | undefined;
    stackStart: { seconds: number; cpu: number } | undefined;
    fleetProfile: FleetProfile | undefined;
  },
): string {
  const { sshFloorSeconds } = seen;
  const find = (scenario: string, hosts: number): Row | undefined => rows.find((r) => r.scenario.startsWith(scenario) && r.hosts === hosts);
  const ratio = (r: Row | undefined): number | undefined => (r?.ansible ? r.ansible.wall.median / r.panel.wall.median : undefined);
  const fmtRatio = (x: number | undefined): string => (x === undefined ? '—' : `${x.toFixed(1)}×`);

  const main = [
    '| scenario | hosts | panel wall: median (min–max, runs) | Ansible wall: median (min–max, runs) | Ansible ÷ panel | CPU s (median): panel · Ansible | host CPU s / host: panel · Ansible | round trips / host: panel · Ansible | panel bytes / host, sent / received (transport) | bytes / host to / from host, eth0: panel · Ansible | panel peak RSS | changes: panel · Ansible | note |',
    '|---|---:|---|---|---:|---|---|---|---|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.hosts} | ${fmtSeconds(r.panel.wall)} | ${r.ansible ? fmtSeconds(r.ansible.wall) : '—'} | ${fmtRatio(ratio(r))} | ${r.panel.cpu.median.toFixed(2)} · ${r.ansible ? r.ansible.cpu.median.toFixed(2) : '—'} | ${r.panel.hostCpu.toFixed(3)} · ${r.ansible ? r.ansible.hostCpu.toFixed(3) : '—'} | ` +
        `${r.panel.roundTripsPerHost.toFixed(1)} · ${r.ansible ? r.ansible.roundTripsPerHost.toFixed(1) : '—'} | ${bytes(r.panel.wire)} | ` +
        `${bytes(r.panel.traffic)} · ${r.ansible ? bytes(r.ansible.traffic) : '—'} | ${mb(r.panel.peakRssKb)} | ${r.panel.changes} · ${r.ansible ? r.ansible.changes : '—'} | ${r.note ?? ''} |`,
    ),
  ].join('\n');

  const help = startup.find((s) => s.command === 'panel --help');
  const nodeStart = startup.find((s) => s.command === 'node -e 0');
  const noop1 = find('no-op', 1);
  const noop20 = find('no-op', 20);
  const fleetNoop = rows.find((r) => r.scenario === 'no-op re-run' && r.hosts === FLEET_HOSTS && r.hosts > 20);
  const fleetPlan = rows.find((r) => r.scenario === '`plan`' && r.hosts === FLEET_HOSTS);
  const plan = find('`plan`', 1);
  const deepCheck = find('`check --deep`', 1);
  const first = [find('first install', 1), find('first install', 5)];
  const bigNoops = rows.filter((r) => r.scenario === 'no-op re-run' && r.hosts >= 5 && r.ansible);
  const check = (ok: boolean | undefined): string => (ok === undefined ? 'not measured' : ok ? 'met' : '**missed**');
  const s = (r: Row | undefined): string => (r ? `${r.panel.wall.median.toFixed(2)} s` : '—');
  const trips = [noop1, plan, deepCheck].filter((r): r is Row => r !== undefined);
  // Why a missed target was missed, from what this run measured (the profiles below hold the detail).
  const ev = (t: string): number | undefined => seen.noopEvents?.get(t);
  const noop1Why = (): string => {
    const [up, info, exit] = [ev('host-start'), ev('host-info'), ev('(process exit)')];
    if (up === undefined || info === undefined || exit === undefined) return '';
    const bare = nodeStart === undefined ? '' : ` of ${nodeStart.wall.median.toFixed(2)} s on this machine (\`node -e 0\`)`;
    return `connected at ${up.toFixed(2)} s (Node's start${bare}, loading panel, the SSH handshake), the planning round trip ${(info - up).toFixed(2)} s (the host's script: its profile below), exit at ${exit.toFixed(2)} s`;
  };
  const hostCpuWhy = (): string =>
    [
      sshFloorSeconds === undefined ? '' : `${sshFloorSeconds.toFixed(3)} s is the SSH connection alone`,
      seen.hostScript === undefined ? '' : `the planning script ${(seen.hostScript.scriptMs / 1000).toFixed(3)} s and what it makes the host's own processes do ${(seen.hostScript.cgroupMs / 1000).toFixed(3)} s (profile below)`,
    ]
      .filter(Boolean)
      .join('; ');
  // On this testbed every host shares the runner's cores: their CPU, divided by the cores, is a floor no tool goes under.
  const sharedWhy = (r: Row | undefined): string =>
    r === undefined
      ? ''
      : `the ${r.hosts} hosts share this runner's ${m.cores} cores: ${r.hosts} × ${r.panel.hostCpu.toFixed(3)} s of host CPU ÷ ${m.cores} = ${((r.hosts * r.panel.hostCpu) / m.cores).toFixed(2)} s, before panel's own ${r.panel.cpu.median.toFixed(2)} s of CPU on the same cores`;
  const recipes = startup.find((x) => x.command === 'panel recipes');
  const fleetCpuWhy = (): string => {
    if (fleetNoop === undefined) return '';
    const fp = seen.fleetProfile;
    // The profile's largest areas as shares: its busy time includes waiting for a core, so only shares are used.
    const parts = fp === undefined ? '' : `; its profile's busy samples (below): ${busyShares(fp).shares.slice(0, 4).map((e) => `${e.what} ${(e.share * 100).toFixed(0)}%`).join(', ')}`;
    return (
      `${((fleetNoop.panel.cpu.median / fleetNoop.hosts) * 1000).toFixed(0)} ms a host${parts}` +
      (recipes === undefined ? '' : `, and ${recipes.cpu.toFixed(2)} s once for Node's start and loading panel (\`panel recipes\`)`)
    );
  };
  const firstWhy = (): string => {
    const sides = first.filter((r): r is Row => r?.ansible !== undefined);
    if (sides.length === 0) return '';
    const cpu = sides.map((r) => `${r.hosts}: ${r.panel.hostCpu.toFixed(1)} s · ${r.ansible!.hostCpu.toFixed(1)} s`).join(', ');
    const stack = seen.stackStart;
    return (
      `host CPU per host, panel · Ansible: ${cpu}; a host is busy through the whole install (its CPU keeps pace with the wall clock in the timeline below), so the wall ratio follows the CPU ratio` +
      (stack === undefined ? '' : `; ${stack.seconds.toFixed(1)} s (${stack.cpu.toFixed(1)} s of host CPU) of panel's 1-host install is the stack's own first start after faasd's recipe, which both tools wait for`)
    );
  };
  // [target, measured, met?, why it was missed]
  const targets: [string, string, boolean | undefined, string?][] = [
    ['no-op re-run, 1 host ≤ 0.5 s', s(noop1), noop1 && noop1.panel.wall.median <= 0.5, noop1Why()],
    [
      'host CPU per no-op, 1 host ≤ 0.1 s',
      (noop1 ? `${noop1.panel.hostCpu.toFixed(3)} s` : '—') +
        (sshFloorSeconds === undefined ? '' : `; an SSH connection that runs only \`true\` costs the host ${sshFloorSeconds.toFixed(3)} s by itself (below)`),
      noop1 && noop1.panel.hostCpu <= 0.1,
      hostCpuWhy(),
    ],
    [
      'round trips on a converged host: 1 (`install`, `plan`, `check`)',
      trips.map((r) => `${r === noop1 ? 'install (no-op)' : r === plan ? 'plan' : 'check --deep'}: ${r.panel.roundTripsPerHost.toFixed(1)}`).join(', ') || '—',
      trips.length ? trips.every((r) => r.panel.roundTripsPerHost <= 1) : undefined,
    ],
    ['no-op re-run, 20 hosts ≤ 3 s', s(noop20), noop20 && noop20.panel.wall.median <= 3, sharedWhy(noop20)],
    [`no-op re-run, ${FLEET_HOSTS} hosts ≤ 6 s`, s(fleetNoop), fleetNoop && fleetNoop.panel.wall.median <= 6, sharedWhy(fleetNoop)],
    [`panel's own CPU, no-op, ${FLEET_HOSTS} hosts ≤ 2 s`, fleetNoop ? `${fleetNoop.panel.cpu.median.toFixed(2)} s` : '—', fleetNoop && fleetNoop.panel.cpu.median <= 2, fleetCpuWhy()],
    [
      `peak RSS, ${FLEET_HOSTS} hosts ≤ 150 MB`,
      [fleetNoop, fleetPlan].map((r) => (r ? `${r.scenario.replace(/`/g, '')}: ${mb(r.panel.peakRssKb)}` : '—')).join(', '),
      fleetNoop?.panel.peakRssKb === undefined ? undefined : [fleetNoop, fleetPlan].every((r) => r === undefined || (r.panel.peakRssKb ?? 0) <= 150 * 1024),
    ],
    [
      '`panel --help` ≤ 0.15 s',
      help ? `${help.wall.median.toFixed(3)} s (CPU ${help.cpu.toFixed(3)} s)` : '—',
      help && help.wall.median <= 0.15,
      help === undefined || nodeStart === undefined
        ? ''
        : `Node's own start (\`node -e 0\`, no panel) takes ${nodeStart.wall.median.toFixed(3)} s on this machine: panel's part is ${(help.wall.median - nodeStart.wall.median).toFixed(3)} s (loading its bundle and the command-line parser)`,
    ],
    ['peak RSS, 1 host ≤ 80 MB', mb(noop1?.panel.peakRssKb), noop1?.panel.peakRssKb === undefined ? undefined : noop1.panel.peakRssKb <= 80 * 1024],
    ['≥ 20× faster than Ansible, no-op, 1 host', fmtRatio(ratio(noop1)), ratio(noop1) === undefined ? undefined : ratio(noop1)! >= 20],
    [
      '≥ 30× faster than Ansible, no-op, 5+ hosts',
      bigNoops.map((r) => `${r.hosts}: ${fmtRatio(ratio(r))}`).join(', ') || '—',
      bigNoops.length ? bigNoops.every((r) => (ratio(r) ?? 0) >= 30) : undefined,
    ],
    [
      '≥ 3× faster than Ansible, first install',
      first.map((r) => (r ? `${r.hosts}: ${fmtRatio(ratio(r))}` : '—')).join(', '),
      first.some((r) => r === undefined) ? undefined : first.every((r) => (ratio(r) ?? 0) >= 3),
      firstWhy(),
    ],
  ];

  return [
    '# panel vs Ansible on testbed hosts',
    '',
    `Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, in ${minutes.toFixed(1)} minutes.`,
    '',
    ...(REDUCED.length > 0
      ? [`**Reduced run** (${REDUCED.join(', ')}): not the full benchmark: ${reducedWhat()}.`, '']
      : []),
    `**Machine:** ${m.cores} cores (${m.cpu}), ${m.memoryGb} GB memory, kernel ${m.kernel}; Node ${m.node}; ${m.ansible}. ` +
      `Load average at the start ${m.load}, at the end ${loadNow()} — the runner is shared, so wall times carry other work's noise; CPU seconds are given where they help.`,
    '',
    `**Hosts:** testbed (systemd-nspawn Debian 12, sshd, local apt repository and artifact mirror; faasd is the testbed's stand-in), ${bootSeconds.toFixed(0)} s to boot ${SET_P + SET}. ` +
      'Each tool converges its own set of identical hosts. Recipes: the default set a user gets (the container stack: base, containerd, cni, bridge, faasd), ' +
      'with the testbed connection and mirror flags only (`--host … --key … --known-hosts … --mirror … --checksums … --json --concurrency N`). ' +
      'Ansible: `bench/ansible/stack.yml` (the same packages, files, units, sysctl, modules, archives, services and checks), ' +
      'pipelining, ControlPersist 60 s, forks = host count, python3 preinstalled on every host (not timed).',
    '',
    main,
    '',
    'Round trips: panel counts exec channels on its one connection per host (from its NDJSON recap, the status page\'s reads and writes included; connecting is not counted). ' +
      'A host panel has seen before (host info remembered in `.panel/host-info/`) is planned in one round trip; the no-op, `plan` and `check` rows are such runs, a first install is not. ' +
      'Ansible counts ssh/sftp/scp invocations per host (each is one exec on the ControlPersist master). ' +
      'Bytes: panel\'s transport counts the SSH socket both ways, handshake included; eth0 is the host\'s interface, the same measure for both tools ' +
      '(on a first install it includes the packages and artifacts the host downloads). Peak RSS: time(1) of the panel process. ' +
      'Host CPU: the host\'s own cgroup (usage_usec of cpu.stat, read on the runner before and after each run: every process in the host, sshd and its session included), mean per host; an idle host adds about 1 ms a second. ' +
      'Changes: largest number of changes any run reported (0 on a no-op means it really was one).' +
      (sshFloorSeconds === undefined
        ? ''
        : ` The floor: one connection by OpenSSH's client that runs \`true\` costs a host ${(sshFloorSeconds * 1000).toFixed(0)} ms of CPU (median of 10) — sshd's key exchange and authentication, ` +
          "the session's PAM stack (Debian's pam_motd runs run-parts and uname at every session), the journal's lines: what any tool that reaches a host over SSH pays before its own work."),
    '',
    '## Targets',
    '',
    '| target | measured | | why, where missed |',
    '|---|---|---|---|',
    ...targets.map(([t, v, ok, why]) => `| ${t} | ${v} | ${check(ok)} | ${ok === false ? (why ?? '') : ''} |`),
    '',
    '## Start-up (no host contacted)',
    '',
    '| command | wall: median (min–max, runs) | CPU (user+sys) | peak RSS |',
    '|---|---|---:|---:|',
    ...startup.map((s) => `| \`${s.command}\` | ${s.wall.median.toFixed(3)} s (${s.wall.min.toFixed(3)}–${s.wall.max.toFixed(3)}, n=${s.wall.n}) | ${s.cpu.toFixed(3)} s | ${mb(s.peakRssKb)} |`),
    '',
    '## Where a 1-host no-op run spends its time',
    '',
    'When each NDJSON event first reached the benchmark (seconds since panel was spawned; `host-start` comes after the SSH connection is up):',
    '',
    '| event | s |',
    '|---|---:|',
    [...(seen.noopEvents ?? [])].map(([type, t]) => `| ${type} | ${t.toFixed(3)} |`).join('\n'),
    '',
    profileText,
    '',
  ].join('\n');
}

await main();
