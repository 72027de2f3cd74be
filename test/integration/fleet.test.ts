/**
 * Issue 6 (fleets) on six testbed hosts, through the CLI with an inventory:
 * --limit by host and by group, a fleet with one host unreachable and one
 * with a broken apt source, --retry-failed, the NDJSON stream against the
 * table, and Ctrl-C in the middle of a fleet apply.
 *
 * The tests share one bed and run in order: each one starts from the state
 * the previous one left (the limit test converges some hosts, the failure
 * test the rest, the interrupt test re-breaks them all).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';

let bed: Testbed;
let cwd: string;
/** canary spans both halves so a group limit is not just "the first N hosts". */
const GROUPS = { web: ['host1', 'host2', 'host3'], db: ['host4', 'host5', 'host6'], canary: ['host3', 'host6'] } as const;
/** Broken in the failure test: host2's apt source, host5's sshd. */
const APT_BROKEN = 'host2';
const SSH_DOWN = 'host5';

interface RecapRow {
  readonly host: string;
  readonly status: string;
  readonly ok: number;
  readonly changed: number;
  readonly failed: number;
  readonly rebootRequired: boolean;
}

interface HostResultJson {
  readonly host: string;
  readonly status: string;
  readonly ok: number;
  readonly changed: number;
  readonly failed: number;
  readonly failedChecks: number;
  readonly rebootRequired: boolean;
  readonly error?: string;
}

before(async () => {
  bed = await startTestbed({ hosts: 6, pebble: false });
  cwd = mkdtempSync(join(tmpdir(), 'panel-fleet-'));
  const hostLines = bed.hosts.flatMap((h) => [`  ${h.name}:`, `    address: ${h.address}`]);
  // artifacts: false keeps the demo recipe to local resources and the apt
  // repository, so a fleet run takes seconds and apt is the only network use.
  const yaml = [
    'defaults:',
    `  key: ${bed.keyFile}`,
    `  knownHosts: ${bed.knownHostsFile}`,
    '  recipes: [demo]',
    '  params:',
    '    demo: { artifacts: false }',
    'groups:',
    ...Object.entries(GROUPS).flatMap(([g, hs]) => [`  ${g}:`, `    hosts: [${hs.join(', ')}]`]),
    'hosts:',
    ...hostLines,
  ].join('\n');
  writeFileSync(join(cwd, 'fleet.yaml'), yaml + '\n');
});

after(async () => {
  await bed?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

function host(name: string): TestHost {
  const h = bed.hosts.find((x) => x.name === name);
  assert.ok(h, `testbed host ${name}`);
  return h;
}

const fleet = (cmd: string, ...args: string[]): Promise<CliRun> => panel([cmd, '-i', 'fleet.yaml', ...args], { cwd });

/**
 * Every path, size, mtime and mode under the places panel (or a visit by
 * panel: progress.json, the stat cache) would write. Hashed so a difference
 * anywhere shows; stable on an idle host (checked by the first test).
 */
async function tree(name: string): Promise<string> {
  const r = await bed.exec(host(name), `find /etc /opt /usr /var/lib/panel /var/lib/panel-demo /var/lib/dpkg -xdev -printf '%p %s %T@ %m\\n' 2>/dev/null | sort | sha256sum`);
  return r.stdout.trim();
}

async function converged(name: string): Promise<boolean> {
  const r = await bed.exec(host(name), 'systemctl is-active panel-demo.service && hello && ip -br addr show demo0');
  return r.code === 0 && /Hello, world!/.test(r.stdout) && /10\.99\.0\.1\/24/.test(r.stdout);
}

function recapEvent(run: CliRun): HostResultJson[] {
  const recaps = events(run).filter((e) => e.type === 'recap');
  assert.equal(recaps.length, 1, 'exactly one recap object');
  return (recaps[0] as unknown as { hosts: HostResultJson[] }).hosts;
}

/** Hosts that started (host-start events), in order of appearance. */
function started(run: CliRun): string[] {
  return events(run).filter((e) => e.type === 'host-start').map((e) => String(e.host));
}

/** The recap table printed on stdout without --json. */
function tableOf(stdout: string): RecapRow[] {
  const lines = stdout.split('\n');
  const head = lines.findIndex((l) => /^host\s+status\s+ok\s+\S/.test(l));
  assert.ok(head >= 0, `a recap table on stdout:\n${stdout}`);
  const rows: RecapRow[] = [];
  for (const l of lines.slice(head + 2)) {
    if (l.trim() === '') break;
    const c = l.trim().split(/\s+/);
    assert.equal(c.length, 7, `7 columns: ${l}`);
    rows.push({ host: c[0]!, status: c[1]!, ok: Number(c[2]), changed: Number(c[3]), failed: Number(c[4]), rebootRequired: c[5] === 'yes' });
  }
  return rows;
}

function asRows(hosts: readonly HostResultJson[], mode: 'install' | 'check'): RecapRow[] {
  return hosts.map((h) => ({
    host: h.host,
    status: h.status,
    ok: h.ok,
    changed: mode === 'check' ? h.changed + h.failedChecks : h.changed,
    failed: h.failed,
    rebootRequired: h.rebootRequired,
  }));
}

test('--limit by host and by group: only those hosts are visited, the others\' file trees are untouched', async () => {
  const names = bed.hosts.map((h) => h.name);
  const before0 = new Map(await Promise.all(names.map(async (n) => [n, await tree(n)] as const)));
  // The snapshot is only meaningful if an idle host's tree does not move by itself.
  assert.equal(await tree('host3'), before0.get('host3'), 'an idle host\'s tree is stable');

  const logins = async (): Promise<number> =>
    Number((await bed.exec(host('host1'), 'journalctl -q -u ssh.service --no-pager | grep -c "Accepted publickey" || true')).stdout.trim());
  const loginsBefore = await logins();
  const one = await fleet('install', '--limit', 'host1', '--json');
  assert.equal(one.code, 0, one.stderr + one.stdout);
  // Facts, apply and verify all went over a single SSH connection.
  assert.equal(await logins(), loginsBefore + 1, 'one SSH login for the whole run');
  assert.deepEqual(started(one), ['host1']);
  assert.deepEqual(recapEvent(one).map((h) => [h.host, h.status]), [['host1', 'changed']]);
  assert.ok(await converged('host1'), 'host1 converged');
  for (const n of names.filter((n) => n !== 'host1')) {
    assert.equal(await tree(n), before0.get(n), `${n} untouched by --limit host1`);
    assert.ok(!(await converged(n)), `${n} not converged`);
  }

  const before1 = new Map(await Promise.all(names.map(async (n) => [n, await tree(n)] as const)));
  const group = await fleet('install', '--limit', 'canary', '--json');
  assert.equal(group.code, 0, group.stderr + group.stdout);
  assert.deepEqual([...started(group)].sort(), [...GROUPS.canary]);
  for (const n of GROUPS.canary) assert.ok(await converged(n), `${n} converged`);
  for (const n of names.filter((n) => !(GROUPS.canary as readonly string[]).includes(n))) {
    // host1 included: converged but not visited, so not even progress.json moved.
    assert.equal(await tree(n), before1.get(n), `${n} untouched by --limit canary`);
  }

  // A host and a group together; an unknown name is an input error before any connection.
  const mixed = await fleet('plan', '--limit', 'host2,canary', '--json');
  assert.equal(mixed.code, 0, mixed.stderr);
  assert.deepEqual([...started(mixed)].sort(), ['host2', 'host3', 'host6']);
  const unknown = await fleet('install', '--limit', 'nosuch');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /nosuch/);
  assert.equal(unknown.stdout, '');
});

test('one host unreachable, one with a broken apt source: the others converge, both failures named with their cause, exit 1; --retry-failed converges exactly those two', async () => {
  const aptList = '/etc/apt/sources.list.d/panel-testbed.list';
  const goodSource = (await bed.exec(host(APT_BROKEN), `cat ${aptList}`)).stdout;
  assert.match(goodSource, /^deb /m, 'the testbed apt source is where we expect it');
  // A port nothing listens on, and no cached package lists: apt cannot find `hello`.
  const broke = await bed.exec(host(APT_BROKEN), `sed -i 's#http://[^ ]*/#http://${bed.bridgeAddress}:9/#' ${aptList} && rm -rf /var/lib/apt/lists/*_* && apt-get -q install -s hello`);
  assert.notEqual(broke.code, 0, 'apt is really broken on host2');
  const down = await bed.exec(host(SSH_DOWN), 'systemctl stop ssh.socket ssh.service; systemctl is-active ssh.service');
  assert.equal(down.stdout.trim(), 'inactive');

  // The table, as a person at a terminal would read it.
  const plain = await fleet('install');
  assert.equal(plain.code, 1, plain.stdout + plain.stderr);
  const rows = tableOf(plain.stdout);
  assert.deepEqual(rows.map((r) => r.host), bed.hosts.map((h) => h.name), 'one row per host, inventory order');
  for (const r of rows) {
    if (r.host === APT_BROKEN || r.host === SSH_DOWN) assert.deepEqual([r.status, r.failed], ['failed', 1], `${r.host} failed`);
    else assert.ok(r.status === 'ok' || r.status === 'changed', `${r.host}: ${r.status}`);
  }
  assert.match(plain.stdout, /^6 hosts: 3 ok, 1 changed, 2 failed$/m, 'host1, host3, host6 were converged by the limit test; host4 changes');
  // Cause, by inventory name: the unreachable host's connection error, the apt error's own output.
  assert.match(plain.stdout, new RegExp(`^${SSH_DOWN}: root@${host(SSH_DOWN).address.replace(/\./g, '\\.')}:22: .*refused`, 'm'));
  assert.match(plain.stdout, new RegExp(`^${APT_BROKEN}: demo: apt:.*hello.*failed`, 'm'));
  assert.match(plain.stdout, /Unable to locate package hello/);
  for (const n of ['host1', 'host3', 'host4', 'host6']) assert.ok(await converged(n), `${n} converged despite the two failures`);
  assert.ok(!(await converged(APT_BROKEN)), 'host2 not converged');

  const last = JSON.parse(readFileSync(join(cwd, '.panel', 'last-run.json'), 'utf8')) as { hosts: HostResultJson[] };
  assert.deepEqual(last.hosts.filter((h) => h.status === 'failed').map((h) => h.host), [APT_BROKEN, SSH_DOWN]);

  // The same failing fleet as NDJSON: one object per line, host on every event but the recap.
  const json = await fleet('install', '--json');
  assert.equal(json.code, 1);
  assert.equal(json.stderr, '', 'nothing but NDJSON, and nothing on stderr');
  const lines = json.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 6);
  for (const [i, l] of lines.entries()) {
    const e = JSON.parse(l) as Record<string, unknown>;
    if (i === lines.length - 1) assert.equal(e['type'], 'recap', 'the recap is the last line');
    else assert.ok(typeof e['host'] === 'string' && bed.hosts.some((h) => h.name === e['host']), `event ${i} (${String(e['type'])}) names its host`);
  }
  const recap = recapEvent(json);
  const byHost = new Map(recap.map((h) => [h.host, h]));
  assert.match(byHost.get(SSH_DOWN)?.error ?? '', /^host5: root@.*refused/);
  assert.match(byHost.get(APT_BROKEN)?.error ?? '', /^host2: demo: apt:.*Unable to locate package hello/s);
  for (const n of ['host1', 'host3', 'host4', 'host6']) assert.equal(byHost.get(n)?.status, 'ok', `${n} already converged`);
  // Every host-end agrees with the recap.
  for (const e of events(json).filter((x) => x.type === 'host-end')) {
    assert.deepEqual((e as unknown as { result: HostResultJson }).result, byHost.get(String(e.host)));
  }

  // Fix both, retry exactly the two that failed.
  await bed.exec(host(APT_BROKEN), `cat > ${aptList}`, { input: goodSource });
  const up = await bed.exec(host(SSH_DOWN), 'systemctl start ssh.service && systemctl is-active ssh.service');
  assert.equal(up.stdout.trim(), 'active', up.stderr);
  const treesOfOthers = new Map(await Promise.all(['host1', 'host3', 'host4', 'host6'].map(async (n) => [n, await tree(n)] as const)));

  const retry = await fleet('install', '--retry-failed', '--json');
  assert.equal(retry.code, 0, retry.stdout + retry.stderr);
  assert.deepEqual([...started(retry)].sort(), [APT_BROKEN, SSH_DOWN]);
  assert.deepEqual(recapEvent(retry).map((h) => [h.host, h.status]), [[APT_BROKEN, 'changed'], [SSH_DOWN, 'changed']]);
  for (const n of [APT_BROKEN, SSH_DOWN]) assert.ok(await converged(n), `${n} converged on retry`);
  for (const [n, t] of treesOfOthers) assert.equal(await tree(n), t, `${n} not visited by --retry-failed`);

  const again = await fleet('install', '--retry-failed');
  assert.equal(again.code, 0);
  assert.match(again.stderr, /no host failed last time/);
});

test('the NDJSON recap equals the table: same hosts, statuses and counts (check on a fleet with drift and a failure)', async () => {
  // A mix of results that stays put between two read-only runs: host3
  // drifts (config edited, service stopped), host6 is unreachable.
  await bed.exec(host('host3'), `echo 'tampered = yes' >> /etc/panel-demo.conf && systemctl stop panel-demo.service`);
  await bed.exec(host('host6'), 'systemctl stop ssh.socket ssh.service');
  try {
    const json = await fleet('check', '--json');
    const plain = await fleet('check');
    assert.equal(json.code, 1, 'a failed host makes check exit 1');
    assert.equal(plain.code, 1);
    const table = tableOf(plain.stdout);
    const recap = recapEvent(json);
    assert.deepEqual(asRows(recap, 'check'), table);
    assert.deepEqual(
      table.map((r) => r.status),
      ['ok', 'ok', 'drift', 'ok', 'ok', 'failed'],
    );
    assert.ok(table[2]!.changed >= 2, 'host3: the file and the stopped service at least');
    // The errors printed under the table are the recap's errors.
    for (const h of recap.filter((x) => x.error)) assert.ok(plain.stdout.includes(h.error!), `table shows ${h.host}'s error`);
  } finally {
    await bed.exec(host('host6'), 'systemctl start ssh.service');
  }
  const repair = await fleet('install', '--limit', 'host3');
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
});

/** Files a resource writes first and renames (or extracts into) later; none may survive a run. */
const LEFTOVERS = `find / -xdev \\( -name '.panel-tmp.*' -o -name '.panel-extract.*' -o -name '.statcache.*' -o -name '.fetch.*' -o -name '.record.*' \\) -print 2>/dev/null`;

/** On this marker's appearance a host is inside dpkg, i.e. in the middle of an apply round trip. */
const IN_APPLY = '/run/panel-test-in-apply';
const SLOW_DPKG = '/etc/apt/apt.conf.d/99panel-test-slow';

test('Ctrl-C mid-apply: hosts in flight finish their step, the rest are marked interrupted, nothing half-written; --retry-failed picks them up', async () => {
  // Real work for every host again (package, files, service), plus the base
  // recipe before demo, so a host can be stopped between two recipes.
  await Promise.all(
    bed.hosts.map((h) => bed.exec(h, 'systemctl stop panel-demo.service; apt-get -q -y remove hello >/dev/null; rm -rf /opt/panel-demo /etc/panel-demo.conf')),
  );
  // On the two hosts that start first (--concurrency 2), dpkg announces
  // itself and then takes its time: the interrupt lands mid-apply for sure.
  for (const n of ['host1', 'host2']) {
    await bed.exec(host(n), `rm -f ${IN_APPLY}; echo 'DPkg::Pre-Invoke { "touch ${IN_APPLY}; sleep 4"; };' > ${SLOW_DPKG}`);
  }
  const idle = ['host3', 'host4', 'host5', 'host6'];
  const idleTrees = new Map(await Promise.all(idle.map(async (n) => [n, await tree(n)] as const)));
  const recipes = ['--recipes', 'base,demo'];

  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'panel.js'), 'install', '-i', 'fleet.yaml', '--concurrency', '2', ...recipes], {
    cwd,
    env: { ...process.env, CI: 'true' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const inApply = await Promise.all(['host1', 'host2'].map(async (n) => (await bed.exec(host(n), `test -e ${IN_APPLY}`)).code === 0));
      if (inApply.every(Boolean)) break;
      assert.ok(Date.now() < deadline, `both hosts reached dpkg:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGINT');
    const code = await closed;
    assert.notEqual(code, 0, 'an interrupted run exits non-zero');
  } finally {
    clearTimeout(timer);
    for (const n of ['host1', 'host2']) await bed.exec(host(n), `rm -f ${SLOW_DPKG} ${IN_APPLY}`);
  }
  assert.match(stderr, /interrupted — finishing the current step/);

  const rows = tableOf(stdout);
  assert.deepEqual(rows.map((r) => [r.host, r.status]), bed.hosts.map((h) => [h.name, 'interrupted']), `every host interrupted:\n${stdout}`);
  assert.match(stdout, /^6 hosts: 6 interrupted$/m);
  for (const n of ['host1', 'host2']) {
    // Mid-apply: base's apt step (the one running) finished, the step after it in base never started, demo neither.
    assert.match(stdout, new RegExp(`^${n}: interrupted in recipe base after install [^(]*runc[^(]* \\(not installed\\) \\(not started: .+\\)$`, 'm'));
    assert.ok(rows.find((r) => r.host === n)!.changed > 0, `${n} reports the changes it did apply`);
    const state = await bed.exec(host(n), 'runc --version && dpkg --audit && test ! -e /etc/sysctl.d/99-panel.conf && test ! -e /opt/panel-demo && ! systemctl is-active panel-demo.service');
    assert.equal(state.code, 0, `${n}: base complete, dpkg consistent, demo untouched: ${state.stdout}${state.stderr}`);
    assert.equal(state.stdout.includes('runc version'), true);
  }
  for (const n of idle) {
    assert.match(stdout, new RegExp(`^${n}: interrupted before connecting$`, 'm'));
    assert.equal(await tree(n), idleTrees.get(n), `${n} not touched`);
  }
  for (const h of bed.hosts) {
    const left = await bed.exec(h, LEFTOVERS);
    assert.equal(left.stdout, '', `${h.name}: no temporary files left`);
  }

  const retry = await fleet('install', '--retry-failed', '--json', ...recipes);
  assert.equal(retry.code, 0, retry.stdout + retry.stderr);
  assert.deepEqual([...started(retry)].sort(), bed.hosts.map((h) => h.name));
  for (const h of bed.hosts) assert.ok(await converged(h.name), `${h.name} converged after the retry`);
  assert.deepEqual(recapEvent(retry).map((r) => r.status), bed.hosts.map(() => 'changed'));
  assert.ok(existsSync(join(cwd, '.panel', 'last-run.json')));
});
