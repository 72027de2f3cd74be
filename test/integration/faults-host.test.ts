/**
 * Issue 14: faults of the host itself, on one testbed host (Debian 12, plain
 * profile) through the built CLI with only the testbed's connection flags, the
 * way a user runs a full install. NOTE: the faasd served by the mirror is the
 * testbed's STAND-IN (test/testbed/faasd-standin/main.ts).
 *
 * Covers, in order (each test leaves the host converged for the next):
 * - a restart of the host while `panel install` applies: the next run
 *   converges; after a restart of the converged host the services enabled at
 *   boot come back by themselves and `panel check` exits 0;
 * - dpkg killed while configuring a package (apt-get then refuses: "dpkg was
 *   interrupted"): plan warns, install runs `dpkg --configure -a` and goes on;
 *   with the dpkg lock held (a STAND-IN holder, the cloud-like profile's), the
 *   repair waits for it, or fails with one line after the timeout;
 * - the filesystem of a file panel rewrites is full: one error line naming host,
 *   recipe, file and "No space left on device"; the old file (content, inode)
 *   intact, no temp file left; once space is freed the next run converges;
 * - a service that fails to start (a user's drop-in panel does not own): the
 *   install error and `panel check`'s verify detail carry its journal lines.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { PRELUDE } from '../../src/resources/prelude.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { headlineArgs } from '../support/bed-args.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { HOLD_DPKG_LOCK } from '../testbed/profiles.js';

const NAME = 'faults.panel.test';
const SITE = '/etc/nginx/conf.d/panel.conf';
let bed: Testbed;
let host: TestHost;

before(async () => {
  bed = await startTestbed({ hosts: 1 });
  host = bed.hosts[0]!;
  await bed.dns.add(NAME, host.address);
});

after(async () => {
  await bed?.stop();
});

async function sh(cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function args(cmd: 'install' | 'plan' | 'check'): string[] {
  return headlineArgs(bed, host, cmd, NAME);
}

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-4000)}`;
const changeCount = (run: CliRun): number => events(run).filter((e) => e.type === 'change').length;
const warnings = (run: CliRun): string[] => events(run).filter((e) => e.type === 'warning').map((e) => `${String(e['recipe'])}: ${String(e['message'])}`);
/** The error of the run's host (host-end), as the recap and the terminal show it. */
const hostError = (run: CliRun): string => {
  const end = events(run).find((e) => e.type === 'host-end');
  return String((end?.['result'] as { error?: string } | undefined)?.error ?? '');
};

/** How errors name the host: `root@10.231.2.11:22` (as a pattern). */
const who = (): string => `root@${host.address.replace(/\./g, '\\.')}:22`;

const stateDir = tempDir('panel-faults-state-');

/**
 * `panel install` as a child whose NDJSON events are read as they come;
 * `onEvent` runs once per event (the test restarts the host from it).
 */
function streamedInstall(onEvent: (e: Record<string, unknown> & { type: string }) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, 'bin', 'panel.js'), ...args('install')], {
      cwd: packageRoot,
      env: { ...process.env, CI: 'true', PANEL_STATE_DIR: stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      pending += d.toString();
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line.trim() !== '') onEvent(JSON.parse(line) as Record<string, unknown> & { type: string });
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 600_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const UNITS = ['containerd', 'faasd-provider', 'faasd', 'nginx'];

test('a restart in the middle of an install: the next run converges; after a restart, enabled services come back and check exits 0', async () => {
  let restarting: Promise<void> | undefined;
  const first = await streamedInstall((e) => {
    // containerd's recipe unpacks binaries and writes units: well inside the apply.
    if (!restarting && e.type === 'recipe-start' && e['recipe'] === 'containerd') restarting = bed.restart(host);
  });
  assert.ok(restarting, `the install never reached containerd: ${explain(first)}`);
  await restarting;
  assert.notEqual(first.code, 0, `an install whose host restarted under it reported success: ${explain(first)}`);

  const again = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(again.code, 0, explain(again));
  const third = await panel(args('install'));
  assert.equal(third.code, 0, explain(third));
  assert.equal(changeCount(third), 0, explain(third));

  await bed.restart(host);
  // Nobody starts them: what is enabled at boot must come up on its own.
  let active = '';
  for (let i = 0; i < 60; i++) {
    active = (await bed.exec(host, `systemctl is-active ${UNITS.join(' ')}`)).stdout;
    if (/^(active\n){4}$/.test(active)) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(active, 'active\n'.repeat(4), `after a restart: ${UNITS.join(' ')} = ${active.replace(/\n/g, ' ')}`);
  // faasd is active before its gateway task answers (it starts the compose services as tasks after
  // it comes up, as upstream's does): `check` tries once, so it is asked once the gateway is back.
  // A gateway that never comes back still fails the check below.
  await bed.exec(host, "for i in $(seq 120); do [ \"$(curl -s -o /dev/null -m 2 -w '%{http_code}' http://127.0.0.1:8080/healthz)\" = 200 ] && break; sleep 0.5; done");
  const check = await panel(args('check'));
  assert.equal(check.code, 0, explain(check));
});

/** A package whose postinst waits while /run/panel-fault-hold exists: dpkg is killed there, as a power cut would. */
const STAGE_INTERRUPTED_DPKG = [
  'set -e',
  'd=$(mktemp -d); mkdir "$d/DEBIAN"',
  `printf 'Package: panel-fault-slow\\nVersion: 1\\nArchitecture: all\\nMaintainer: panel tests <t@panel.test>\\nDescription: test package whose postinst waits\\n' > "$d/DEBIAN/control"`,
  // It touches /run/panel-fault-configured when it goes on: when dpkg --configure ran it.
  `printf '#!/bin/sh\\nwhile [ -e /run/panel-fault-hold ]; do sleep 0.2; done\\ntouch /run/panel-fault-configured\\nexit 0\\n' > "$d/DEBIAN/postinst"`,
  'chmod 755 "$d/DEBIAN/postinst"',
  'dpkg-deb --build "$d" /root/panel-fault-slow.deb >/dev/null; rm -rf "$d"',
  'dpkg -r bridge-utils >/dev/null 2>&1',
  'touch /run/panel-fault-hold',
  '(setsid dpkg -i /root/panel-fault-slow.deb >/dev/null 2>&1 &)',
  // The pattern is anchored: unanchored, it would match this very script's command line.
  `for i in $(seq 100); do pgrep -f '^/bin/sh /var/lib/dpkg/info/panel-fault-slow.postinst' >/dev/null && break; sleep 0.1; done`,
  'kill -9 $(pgrep -x dpkg) $(pgrep -f "^/bin/sh /var/lib/dpkg/info/panel-fault-slow.postinst")',
  'rm -f /run/panel-fault-hold /root/panel-fault-slow.deb',
].join('\n');

test('dpkg interrupted mid-configure: plan warns, install runs dpkg --configure -a and goes on', async () => {
  await sh(STAGE_INTERRUPTED_DPKG);
  // The state a killed dpkg leaves, checked rather than assumed.
  assert.match(await sh('dpkg --audit'), /half configured[\s\S]*panel-fault-slow/);
  const refused = await bed.exec(host, 'apt-get -y install bridge-utils');
  assert.match(refused.stdout + refused.stderr, /dpkg was interrupted, you must manually run 'dpkg --configure -a'/);

  const plan = await panel(args('plan'));
  assert.ok(
    warnings(plan).some((w) => w === 'base: dpkg was interrupted (panel-fault-slow not configured): apt steps run "dpkg --configure -a" first'),
    `no warning in ${JSON.stringify(warnings(plan))}`,
  );
  const run = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(run.code, 0, explain(run));
  assert.equal(await sh('dpkg --audit'), '');
  assert.equal(await sh('ls -A /var/lib/dpkg/updates'), '');
  assert.match(await sh("dpkg-query -W -f='${Status}' bridge-utils panel-fault-slow"), /^install ok installedinstall ok installed$/);
  await sh('dpkg -r panel-fault-slow >/dev/null');
});

test('dpkg interrupted while another process holds its lock: the repair waits for it, and fails with one clear line after the timeout', async () => {
  // Through the prelude, as cloud-host.test.ts does for the plain lock wait:
  // the CLI has no flag for the 10-minute timeout.
  const apt = async (wait: number): Promise<{ code: number; stderr: string }> => {
    const r = await bed.exec(host, 'bash -s', { input: `${PRELUDE}\nPANEL_MODE=apply PANEL_APT_WAIT=${wait}\npanel_apt_install bridge-utils\n`, timeoutMs: 120_000 });
    return { code: r.code, stderr: r.stderr };
  };
  const hold = (seconds: number): Promise<string> =>
    sh(`(setsid /root/hold-dpkg-lock ${seconds} >/dev/null 2>&1 &); for i in $(seq 50); do p=$(pgrep -x hold-dpkg-lock) && grep -q " $p " /proc/locks && break; sleep 0.1; done`);
  // The holder touches /run/panel-fault-released just before it lets go (still holding the lock).
  const RELEASED = "open(my $released, '>', '/run/panel-fault-released') or die; close $released;\n";
  await sh(`cat > /root/hold-dpkg-lock <<'PERL'\n${HOLD_DPKG_LOCK}${RELEASED}PERL\nchmod 755 /root/hold-dpkg-lock; rm -f /run/panel-fault-released /run/panel-fault-configured`);
  await sh(STAGE_INTERRUPTED_DPKG);
  try {
    await hold(60);
    const locked = await apt(2);
    assert.equal(locked.code, 1, locked.stderr);
    assert.match(locked.stderr, /^panel: dpkg --configure -a: the dpkg lock is still held after 2 s by hold-dpkg-lock \(pid \d+\): let it finish \(or stop it\), then run panel again$/m);
    assert.match(await sh('dpkg --audit'), /panel-fault-slow/);
    await sh('pkill -x hold-dpkg-lock; while pgrep -x hold-dpkg-lock >/dev/null; do sleep 0.1; done');

    await hold(4);
    const waited = await apt(60);
    assert.equal(waited.code, 0, waited.stderr);
    // An ordering, not a time: dpkg --configure -a ran the postinst after the holder let go.
    const [released, configured] = (await sh('stat -c %.9Y /run/panel-fault-released /run/panel-fault-configured')).trim().split('\n').map(Number);
    assert.ok(released !== undefined && configured !== undefined && configured > released, `the repair did not wait for the lock (released ${released}, configured ${configured})`);
    assert.match(waited.stderr, /^panel: dpkg was interrupted \(panel-fault-slow\); running dpkg --configure -a$/m);
    assert.equal(await sh('dpkg --audit'), '');
    assert.match(await sh("dpkg-query -W -f='${Status}' bridge-utils"), /^install ok installed$/);
  } finally {
    await sh('pkill -x hold-dpkg-lock || true; rm -f /root/hold-dpkg-lock; dpkg -r panel-fault-slow >/dev/null 2>&1 || true');
  }
});

test('the disk of a file panel rewrites is full: one clear error line, the old file intact, no temp file; converges once freed', async () => {
  // A small filesystem of its own over the site's directory, holding what was there, then filled.
  await sh(
    `set -e; cp -a /etc/nginx/conf.d /root/conf.d.saved; mount -t tmpfs -o size=256k panel-fault /etc/nginx/conf.d; cp -a /root/conf.d.saved/. /etc/nginx/conf.d/; ` +
      `echo '# a line panel does not want' >> ${SITE}; dd if=/dev/zero of=/etc/nginx/conf.d/.fill bs=4k 2>/dev/null || true`,
  );
  try {
    const before = await sh(`stat -c '%i %s' ${SITE}; sha256sum < ${SITE}`);
    const run = await panel(args('install'));
    assert.equal(run.code, 1, explain(run));
    const error = hostError(run);
    const lines = error.split('\n').filter((l) => /No space left on device/.test(l));
    assert.equal(lines.length, 1, `error: ${error}\n${explain(run)}`);
    assert.match(lines[0]!, new RegExp(`^${who()}: nginx: .*${SITE.replace(/\./g, '\\.')}.*No space left on device$`));
    assert.equal(await sh(`stat -c '%i %s' ${SITE}; sha256sum < ${SITE}`), before);
    assert.equal(await sh(`ls -A /etc/nginx/conf.d | grep -c '^\\.panel-' || true`), '0\n');
    assert.equal((await bed.exec(host, 'systemctl is-active nginx')).stdout, 'active\n');

    await sh('rm /etc/nginx/conf.d/.fill');
    const freed = await panel(args('install'));
    assert.equal(freed.code, 0, explain(freed));
    assert.doesNotMatch(await sh(`cat ${SITE}`), /a line panel does not want/);
    const again = await panel(args('install'));
    assert.equal(changeCount(again), 0, explain(again));
  } finally {
    await sh('umount /etc/nginx/conf.d; rm -rf /root/conf.d.saved; systemctl reload nginx');
  }
});

test('a service that fails to start: the install error and the check carry the last lines of its journal', async () => {
  const dropIn = '/etc/systemd/system/nginx.service.d/zz-user.conf';
  await sh(
    `mkdir -p ${dropIn.replace(/\/[^/]+$/, '')} && printf '[Service]\\nExecStartPre=/bin/sh -c "echo panel-fault: a drop-in of the user refuses to start >&2; exit 1"\\n' > ${dropIn} && ` +
      'systemctl daemon-reload && systemctl stop nginx',
  );
  try {
    const run = await panel(args('install'));
    assert.equal(run.code, 1, explain(run));
    const error = hostError(run);
    assert.match(error, new RegExp(`^${who()}: nginx: service:nginx: start nginx\\.service .*failed \\(exit 1\\)`, 'm'));
    assert.match(error, /^panel: nginx\.service is failed; last lines of its journal \(journalctl -u nginx\.service -n 20\):$/m);
    assert.match(error, /^ {2}.*panel-fault: a drop-in of the user refuses to start$/m);

    // The unit is now failed, as after a boot where it could not start: check says why.
    const check = await panel(args('check'));
    assert.notEqual(check.code, 0, explain(check));
    const verify = events(check).find((e) => e.type === 'verify' && e['check'] === 'nginx is active' && e['ok'] === false);
    assert.ok(verify, explain(check));
    assert.match(String(verify['detail']), /^panel: nginx is failed; last lines of its journal \(journalctl -u nginx -n 20\):$/m);
    assert.match(String(verify['detail']), /^ {2}.*panel-fault: a drop-in of the user refuses to start$/m);
  } finally {
    await sh(`rm -rf ${dropIn.replace(/\/[^/]+$/, '')} && systemctl daemon-reload`);
  }
  const fixed = await panel(args('install'));
  assert.equal(fixed.code, 0, explain(fixed));
  assert.equal((await bed.exec(host, 'systemctl is-active nginx')).stdout, 'active\n');
});
