/**
 * The container stack on a real (nspawn) host, through the CLI as a user
 * runs it, artifacts from the testbed's local mirror. NOTE: the faasd served
 * by the mirror is the testbed's STAND-IN (test/testbed/faasd-standin/main.ts), not
 * the real faasd; containerd and the CNI plugins are Debian's real binaries.
 *
 * Covers issue 4's "done when": plan changes nothing; fresh converge with all
 * verifies passing; second run 0 changes and no restarts (service start
 * timestamps); seven drifts found by `check` (exit 2) and repaired; a new
 * password generated and masked; checksum mismatch keeps the old binary.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { tempDir } from '../support/temp.js';
import { CONTAINERD_PREVIOUS, CONTAINERD_VERSION, standInChecksumsFile } from '../testbed/mirror.js';
import { FAASD_CE_NOTICE } from '../../recipes/faasd-license.js';
import { gatewayStartFailure, probeGateway } from '../support/gateway-container.js';
import { assertVerified } from '../support/verifies.js';

let bed: Testbed;
let host: TestHost;
const work = tempDir('panel-stack-it-');
/**
 * The host the suite runs on: Debian 12 as root, or (PANEL_STACK_HOST=ubuntu-26.04-like,
 * set by stack-uutils.test.ts) the Ubuntu-26.04-like host (uutils, sudo-rs) as deploy.
 */
const uutils = process.env.PANEL_STACK_HOST === 'ubuntu-26.04-like';
const user = uutils ? 'deploy' : 'root';

before(async () => {
  bed = await startTestbed(uutils ? { hosts: 1, pebble: false, profile: 'ubuntu-26.04-like' } : { hosts: 1, pebble: false });
  host = bed.hosts[0]!;
});

after(async () => {
  await bed?.stop();
});

function args(cmd: 'install' | 'plan' | 'check', extra: readonly string[] = []): string[] {
  return [
    cmd,
    ...hostArgs(bed, host, user),
    ...mirrorArgs(bed),
    '--recipes', 'faasd',
    '--json',
    ...(cmd === 'install' ? ['--yes'] : []),
    ...extra,
  ];
}

async function sh(cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function changes(run: CliRun): Array<{ target: string; reason: string; diff?: string; resource: string }> {
  return events(run)
    .filter((e) => e.type === 'change')
    .map((e) => e['change'] as { target: string; reason: string; diff?: string; resource: string });
}

/** Verifies of --recipes faasd (with its dependencies) that must run and pass on every install. */
const STACK_VERIFIES = ['IPv4 forwarding is on', 'containerd is active', 'CNI plugins are executable', 'faasd-provider and faasd are active'];

/** faasd CE's licence line, as the run said it (one warning event per run at most). */
function licenceLines(run: CliRun): unknown[] {
  return events(run).filter((e) => e.type === 'warning' && e['message'] === FAASD_CE_NOTICE);
}

/** The host's exec channels in this run, from its host-end event. */
function roundTrips(run: CliRun): number {
  const end = events(run).find((e) => e.type === 'host-end');
  assert.ok(end, explain(run));
  return (end['result'] as { roundTrips: number }).roundTrips;
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

/** Every path with size, mode and mtime, outside the kernel's and the logs' trees. */
const SNAPSHOT = String.raw`find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp -o -path /var/log -o -path /var/lib/systemd -o -path /root/.ssh \) -prune -o -printf '%p %s %m %T@\n' | LC_ALL=C sort`;

/** When each service last started: the restart oracle, independent of panel's own report. */
const STARTS = 'systemctl show -p ActiveEnterTimestampMonotonic -p MainPID containerd faasd-provider faasd';

test('plan on a fresh host lists every change with a reason and changes nothing', async () => {
  const before = await sh(SNAPSHOT);
  const run = await panel(args('plan'));
  assert.notEqual(run.code, 1, explain(run));
  const after = await sh(SNAPSHOT);
  const b = new Set(before.split('\n'));
  const differ = after.split('\n').filter((l) => !b.has(l));
  assert.deepEqual(differ, [], 'plan changed the file tree');
  const cs = changes(run);
  for (const c of cs) assert.ok(c.reason.length > 0, `${c.target} has no reason`);
  const targets = cs.map((c) => c.target).join('\n');
  for (const want of ['/etc/cni/net.d/10-openfaas.conflist', '/usr/local/bin/faasd', 'openfaas0', 'containerd', 'faasd-provider']) {
    assert.ok(targets.includes(want), `plan does not mention ${want}:\n${targets}`);
  }
  const conflist = cs.find((c) => c.target === '/etc/cni/net.d/10-openfaas.conflist');
  assert.match(conflist?.diff ?? '', /openfaas-cni-bridge/);
  assert.equal(licenceLines(run).length, 1, `faasd CE's licence line is not in the plan:\n${explain(run)}`);
});

test('a fresh host converges and every verify passes', async () => {
  const licence = join(work, 'openfaas_license');
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwYW5lbC1zdGFjay10ZXN0In0.bGljZW5jZS1zaWduYXR1cmU';
  writeFileSync(licence, `${jwt}\n`);
  const run = await panel(args('install', ['--openfaas-license', licence]), { timeoutMs: 900_000 });
  assert.equal(run.code, 0, explain(run));
  assertVerified(run, STACK_VERIFIES, { explain: explain(run) });
  // The first install says faasd CE's licence in one line; the Edge licence lands as a 0600 secret, never shown.
  assert.equal(licenceLines(run).length, 1, explain(run));
  assert.equal((await sh('stat -c %a:%U /var/lib/faasd/secrets/openfaas_license')).trim(), '600:root');
  assert.equal((await sh('cat /var/lib/faasd/secrets/openfaas_license')).trim(), jwt);
  assert.ok(!run.stdout.includes(jwt.slice(20)) && !run.stderr.includes(jwt.slice(20)), 'the licence was printed');
  assert.equal(await sh(`grep -rlF ${jwt.slice(20)} /var/lib/panel || true`), '', 'the licence reached a progress file or log');
  // No sum for faasd is pinned or given: it was verified against its release's faasd.sha256.
  const faasd = events(run).find((e) => e.type === 'artifact' && (e['artifact'] as { name: string }).name === 'faasd');
  assert.equal((faasd?.['artifact'] as { source?: string } | undefined)?.source, 'release-asset', explain(run));
  assert.match(await sh('/usr/local/bin/ctr version'), /Server:/);
  assert.match(await sh('ip -o addr show dev openfaas0'), /inet 10\.62\.0\.1\/16/);
  // Upstream's modes: the gateway's non-root user reads the files through its bind mounts.
  assert.equal((await sh('stat -c %a /var/lib/faasd/secrets /var/lib/faasd/secrets/basic-auth-password')).trim(), '700\n644');
  assert.equal((await sh('sysctl -n net.ipv4.conf.all.forwarding')).trim(), '1');
  // Root-owned (nats and prometheus run as nobody, as upstream's installer makes them), never
  // group/world-writable, whoever ran it (sudo-rs keeps deploy's umask 002).
  const loose = await sh(String.raw`find /etc/cni /opt/cni /var/lib/faasd /var/lib/faasd-provider /usr/local/bin /etc/systemd/system /lib/systemd/system/faasd.service /lib/systemd/system/faasd-provider.service /etc/sysctl.d /var/lib/panel /var/cache/panel \( -perm -g+w -o -perm -o+w -o ! -user root \) ! -type l ! -path /var/lib/faasd/nats ! -path /var/lib/faasd/prometheus -printf '%m %u %p\n'`);
  assert.equal(loose, '', 'files panel wrote with loose modes or owners');
  if (user !== 'root') assert.equal(await sh(`find /home/${user} -newer /etc/hostname ! -path '/home/${user}/.ssh*' ! -path /home/${user}`), '', 'panel wrote into the user\'s home');
  const password = (await sh('cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  assert.equal(password.length, 63);
  assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), 'the generated password was printed');
});

test('the second run reports 0 changes and restarts nothing', async () => {
  const starts = await sh(STARTS);
  const run = await panel(args('install'));
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run).map((c) => `${c.resource} ${c.reason}`), []);
  assert.equal(await sh(STARTS), starts, 'a service was restarted');
  assert.deepEqual(licenceLines(run), [], 'the licence line is for the first install, not every run');
  // Host info (remembered from the first run, confirmed), facts, every check, the
  // status page's saved data (none here) and the progress record in one round trip;
  // all passed and nothing changed, so no verify round trip and nothing after it.
  // The count includes the status page's own reads and writes (there are none).
  assert.equal(roundTrips(run), 1);
  assertVerified(run, STACK_VERIFIES, { explain: explain(run) });
  const progress = JSON.parse(await sh('cat /var/lib/panel/progress.json')) as unknown;
  assert.deepEqual(progress, { code: 0, message: 'success', data: { installType: 'checked', progress: 100 } }, 'the record of a run with nothing to do');
});

test('a converged host: plan and check take one round trip; without the remembered host info, two', async () => {
  const plan = await panel(args('plan'));
  assert.equal(plan.code, 0, explain(plan));
  assert.deepEqual(changes(plan), []);
  assert.equal(roundTrips(plan), 1, 'plan: host info and facts together');
  const check = await panel(args('check'));
  assert.equal(check.code, 0, explain(check));
  assert.equal(roundTrips(check), 1, 'check: host info, facts and checks together');
  assert.ok(events(check).some((e) => e.type === 'verify'), 'check still reports its checks');
  // A machine that never ran panel against this host: host info first, then the rest.
  const fresh = tempDir('panel-stack-state-');
  const cold = await panel(args('plan'), { env: { PANEL_STATE_DIR: fresh } });
  assert.equal(cold.code, 0, explain(cold));
  assert.equal(roundTrips(cold), 2);
  const coldCheck = await panel(args('check'), { env: { PANEL_STATE_DIR: fresh } });
  assert.equal(roundTrips(coldCheck), 1, 'the plan before it left the host info');
});

test('seven drifts: check finds each (exit 2), install repairs them, a third run is clean', async () => {
  const oldPassword = (await sh('cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  await sh(
    [
      'rm -f /etc/cni/net.d/10-openfaas.conflist',
      'systemctl stop containerd',
      "sed -i 's/^RestartSec=10s/RestartSec=30s/' /lib/systemd/system/faasd.service",
      // Corrupt the binary (same size, so only its content betrays it); it is running, so swap in a copy.
      'cp -p /usr/local/bin/faasd /usr/local/bin/.faasd.bad && printf XXXX | dd of=/usr/local/bin/.faasd.bad bs=1 seek=4096 conv=notrunc status=none && mv -f /usr/local/bin/.faasd.bad /usr/local/bin/faasd',
      'ip link del openfaas0',
      'sysctl -qw net.ipv4.conf.all.forwarding=0',
      'rm -f /var/lib/faasd/secrets/basic-auth-password',
    ].join(' && '),
  );

  const check = await panel(args('check', ['--deep']));
  assert.equal(check.code, 2, explain(check));
  const found = changes(check).map((c) => `${c.resource} ${c.target}`).join('\n');
  for (const drift of [
    '10-openfaas.conflist',
    'service:containerd',
    'faasd.service',
    '/usr/local/bin/faasd',
    'openfaas0',
    'net.ipv4.conf.all.forwarding',
    'basic-auth-password',
  ]) {
    assert.ok(found.includes(drift), `check did not report ${drift}:\n${found}`);
  }

  const fix = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(fix.code, 0, explain(fix));
  assertVerified(fix, STACK_VERIFIES, { explain: explain(fix) });
  const newPassword = (await sh('cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  assert.equal(newPassword.length, 63);
  assert.notEqual(newPassword, oldPassword);
  assert.ok(changes(fix).some((c) => c.target.includes('basic-auth-password')), 'the new password is not reported as a change');
  assert.ok(!fix.stdout.includes(newPassword) && !fix.stderr.includes(newPassword), 'the new password was printed');

  const third = await panel(args('install'));
  assert.equal(third.code, 0, explain(third));
  assert.deepEqual(changes(third).map((c) => `${c.resource} ${c.reason}`), []);
});

test('a service masked and stopped, no unit file changed: install unmasks, enables and starts it; the next run is clean', async () => {
  // systemd holds a masked unit as masked until it reloads: with no unit file written in the run, only the unmask can say so.
  await sh('systemctl stop faasd-provider && systemctl mask faasd-provider');
  const fix = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(fix.code, 0, explain(fix));
  assert.ok(changes(fix).some((c) => c.resource === 'service:faasd-provider'), explain(fix));
  assert.equal((await sh('systemctl is-enabled faasd-provider; systemctl is-active faasd-provider')).trim(), 'enabled\nactive');
  const again = await panel(args('install'));
  assert.equal(again.code, 0, explain(again));
  assert.deepEqual(changes(again).map((c) => `${c.resource} ${c.reason}`), []);
});

test('a checksum mismatch fails with expected and actual sums and keeps the previous binary', async () => {
  const sums = readFileSync(bed.checksumsFile, 'utf8');
  const wrong = 'e'.repeat(64);
  const bad = join(work, 'SHA256SUMS.bad');
  // The mirror now "serves" a faasd that is not the one we pinned: an upgrade gone wrong.
  writeFileSync(bad, sums.replace(/^[0-9a-f]{64}(\s+\*?\.?\/?openfaas\/faasd\/releases\/download\/[^/]+\/faasd)$/m, `${wrong}$1`));
  const before = await sh('sha256sum /usr/local/bin/faasd');
  const starts = await sh(STARTS);
  // --checksums itself: the whole SHA256SUMS, faasd's line altered, instead of the stand-ins' file.
  const a = args('install').map((x) => (x === standInChecksumsFile(bed.checksumsFile) ? bad : x));
  const run = await panel(a);
  assert.equal(run.code, 1, explain(run));
  const text = run.stdout + run.stderr;
  assert.match(text, /openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd/);
  assert.ok(text.includes(wrong), 'expected sum not named');
  assert.ok(text.includes(before.split(' ')[0]!), 'actual sum not named');
  assert.equal(await sh('sha256sum /usr/local/bin/faasd'), before);
  assert.equal(await sh(STARTS), starts);
});

test('real containers: the gateway image runs as its non-root user on panel\'s secrets and CNI network; 0600 secrets make it panic; install repairs them', async () => {
  const exec = (cmd: string, o?: { timeoutMs?: number }): ReturnType<Testbed['exec']> => bed.exec(host, cmd, o);
  // Pulled by containerd from ghcr.io (the bed's registry, reached by name over verified TLS).
  const up = await probeGateway(exec, 'panel-probe-gw');
  assert.notEqual(up.uid, 0, `the gateway runs as root: ${up.log}`);
  assert.equal(up.uid, 100, 'the image user app');
  // gateway → provider at faasd-provider (10.62.0.1):8081 over openfaas0, as faasd's containers reach it.
  assert.equal(up.healthz, '200', up.log);

  // What panel wrote before this issue: 0600 root. The gateway's non-root user cannot read
  // them through the bind mounts and the gateway dies at start with upstream's message.
  await sh('chmod 0600 /var/lib/faasd/secrets/basic-auth-user /var/lib/faasd/secrets/basic-auth-password');
  const down = await gatewayStartFailure(exec, 'panel-probe-gw-0600');
  assert.equal(down.code, 2, down.output);
  assert.match(down.output, /unable to load \/run\/secrets\/basic-auth-user/);
  assert.match(down.output, /^panic: /m);
  // faasd itself starts the gateway task again on those secrets: the check fails, and panel's
  // output carries the gateway's own words from its task's journal (faasd collect's tag).
  await sh("systemctl restart faasd && for i in $(seq 150); do ctr -n openfaas tasks ls | grep -q '^gateway .*STOPPED' && break; sleep 0.2; done");
  const failed = await panel(args('check'));
  assert.notEqual(failed.code, 0, explain(failed));
  assert.match(failed.stdout, /"check":"gateway \/healthz is 200","ok":false,"detail":"[^"]*unable to load \/run\/secrets\/basic-auth-user/);

  // The next install repairs the modes (and only them), and the gateway starts again.
  const run = await panel(args('install'));
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(
    changes(run).filter((c) => c.target.startsWith('/var/lib/faasd/secrets/')).map((c) => `${c.target} ${c.reason}`).sort(),
    ['/var/lib/faasd/secrets/basic-auth-password mode 0600 → 0644', '/var/lib/faasd/secrets/basic-auth-user mode 0600 → 0644'],
  );
  const password = (await sh('cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  assert.ok(!run.stdout.includes(password) && !run.stderr.includes(password), 'the password was printed');
  assert.equal((await probeGateway(exec, 'panel-probe-gw2')).healthz, '200');
  // faasd's own gateway task was restarted on the repaired secrets and answers.
  assert.equal((await sh("curl -sS -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:8080/healthz")).trim(), '200');
  // Still unreadable for the host's other users: the 0700 directory.
  const peek = await bed.exec(host, 'su nosudo -s /bin/sh -c "cat /var/lib/faasd/secrets/basic-auth-password"');
  assert.notEqual(peek.code, 0);
  assert.match(peek.stderr + peek.stdout, /Permission denied/);
});

/**
 * The other CNI line (faasd's own pin, v0.9.1), then the in-place upgrade a host
 * running containerd 1.7.27 gets from the next install. NOTE: the testbed's
 * tarballs carry Debian's binaries under both names (see test/testbed/mirror.ts),
 * so this checks panel's side — the plan naming the upgrade, the files replaced,
 * containerd restarted, the stack's services and checks still good, README/LICENSE
 * never in /opt/cni/bin — not upstream's binaries. containerd 2.3 (--set containerd.version=2.3.4)
 * cannot run here (Debian has no containerd 2.x or runc 1.4).
 */
test('CNI v0.9.1 and v1.9.1 both converge; a host on containerd 1.7.27 is upgraded in place, the plan saying so', async () => {
  const old = await panel(args('install', ['--set', `containerd.version=${CONTAINERD_PREVIOUS}`, '--set', 'cni.version=0.9.1']), { timeoutMs: 900_000 });
  assert.equal(old.code, 0, explain(old));
  assertVerified(old, STACK_VERIFIES, { explain: explain(old) });
  assert.ok(changes(old).some((c) => c.target === `containerd-${CONTAINERD_PREVIOUS}-linux-amd64.tar.gz → /usr/local`), explain(old));

  const plan = await panel(args('plan'));
  assert.notEqual(plan.code, 1, explain(plan));
  const planned = changes(plan);
  const upgrade = planned.find((c) => c.target === `containerd-${CONTAINERD_VERSION}-linux-amd64.tar.gz → /usr/local`);
  assert.equal(upgrade?.reason, `upgrade from v${CONTAINERD_PREVIOUS}`, JSON.stringify(planned, null, 1));
  assert.equal(planned.find((c) => c.target.startsWith('cni-plugins-linux-amd64-v1.9.1.tgz'))?.reason, 'upgrade from v0.9.1', JSON.stringify(planned, null, 1));

  const started = 'systemctl show -p ActiveEnterTimestampMonotonic containerd';
  const before = await sh(started);
  const run = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(run.code, 0, explain(run));
  assertVerified(run, STACK_VERIFIES, { explain: explain(run) });
  assert.notEqual(await sh(started), before, 'containerd was not restarted onto the new binaries');
  assert.equal((await sh('systemctl is-active containerd faasd-provider faasd')).trim(), 'active\nactive\nactive');
  assert.equal(await sh('ls /opt/cni/bin | grep -E "^(README|LICENSE)" || true'), '', 'documents installed as plugins');
  const again = await panel(args('install'));
  assert.deepEqual(changes(again).map((c) => `${c.resource} ${c.reason}`), []);
});
