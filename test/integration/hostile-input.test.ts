/**
 * Hostile input that panel accepts, on a real host: the one value the
 * injection table (test/unit/injection.test.ts) lets through is the faasd
 * admin password, which may hold any character. It must land as data: no
 * command it spells runs, nginx and panel's units stay valid. Then the
 * secrets grep: after a successful and after a failed install, the password
 * appears in nothing panel writes or prints, and secret files are 0600 root.
 * NOTE: the faasd on the testbed mirror is the testbed's STAND-IN.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

let bed: Testbed;
let host: TestHost;
const state = tempDir('panel-hostile-state-');

/** Shell, curl-config, template and nginx syntax in one password. */
const PASSWORD = 'Pw-hostile-7f3a$(touch /tmp/pwned)`touch /tmp/pwned2`\'";{{password}}}\\x';
/**
 * What the grep looks for: the password's head, which has no character that
 * JSON or shell quoting would escape, so it is found raw, inside JSON
 * (progress.json, state.json, --json) and inside a quoted script alike.
 */
const NEEDLE = PASSWORD.slice(0, PASSWORD.indexOf("'"));
/** The failed install is given another password: neither may appear. */
const PASSWORD2 = PASSWORD.replace('Pw-hostile-7f3a', 'Pw-hostile-failed-9c1e');
const NEEDLE2 = PASSWORD2.slice(0, PASSWORD2.indexOf("'"));

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false });
  host = bed.hosts[0]!;
});

after(async () => {
  await bed?.stop();
});

function install(password: string, extra: readonly string[] = []): Promise<CliRun> {
  return panel(['install', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', 'faasd,nginx,status', '-p', password, '--json', '--yes', ...extra], {
    env: { PANEL_STATE_DIR: state },
  });
}

async function sh(cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return bed.exec(host, cmd);
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

/** Every place a run writes or prints, searched for the password (the host side with grep -F). */
async function assertPasswordNowhere(run: CliRun, when: string, NEEDLE: string): Promise<void> {
  assert.ok(!run.stdout.includes(NEEDLE), `${when}: password in stdout (--json)`);
  assert.ok(!run.stderr.includes(NEEDLE), `${when}: password in stderr`);
  assert.ok(readdirSync(state).includes('last-run.json'), `${when}: the local last-run file was searched`);
  // Every file below the state directory (host-info/ holds one file per host).
  for (const f of readdirSync(state, { recursive: true, encoding: 'utf8' })) {
    if (statSync(join(state, f)).isDirectory()) continue;
    assert.ok(!readFileSync(join(state, f), 'utf8').includes(NEEDLE), `${when}: password in the local ${f}`);
  }
  // progress.json, access.log, installErr.log, state.json, backups: everything under /var/lib/panel; the status page wherever nginx serves it.
  const where = '/var/lib/panel /var/www /usr/share/nginx /etc/nginx /etc/systemd/system /tmp';
  const hit = await sh(`printf '%s' '${NEEDLE}' > /root/.pw-needle && grep -rlF -f /root/.pw-needle ${where} 2>/dev/null; rm -f /root/.pw-needle`);
  assert.equal(hit.stdout.trim(), '', `${when}: password found on the host in: ${hit.stdout}`);
  const listed = await sh('ls -R /var/lib/panel');
  assert.match(listed.stdout, /progress\.json/, `${when}: the progress files were searched (${listed.stdout})`);
}

test('a password full of shell, template and nginx syntax is data: nothing runs, nginx -t and systemd-analyze verify pass, it is where it belongs', async () => {
  const run = await install(PASSWORD);
  assert.equal(run.code, 0, explain(run));
  const marker = await sh('ls /tmp/pwned* 2>/dev/null; true');
  assert.equal(marker.stdout.trim(), '', 'no marker file: no command in the password ran');
  const nginx = await sh('nginx -t');
  assert.equal(nginx.code, 0, nginx.stderr);
  const verify = await sh('systemd-analyze verify containerd.service faasd-provider.service faasd.service 2>&1');
  assert.equal(verify.code, 0, verify.stdout);
  // The secret holds exactly the password (no shell expansion, no template rendering), 0600 root.
  const secret = await sh('cat /var/lib/faasd/secrets/basic-auth-password');
  assert.equal(secret.stdout, PASSWORD);
  const mode = await sh('stat -c "%a %U %G" /var/lib/faasd/secrets/basic-auth-password /var/lib/faasd/secrets/basic-auth-user');
  assert.equal(mode.stdout.trim(), '600 root root\n600 root root');
  await assertPasswordNowhere(run, 'after a successful install', NEEDLE);
});

test('after a failed install the password appears nowhere either', async () => {
  // A faasd release the mirror does not have: the run fails before it applies anything.
  const run = await install(PASSWORD2, ['--set', 'faasd.version=0.0.1']);
  assert.equal(run.code, 1, explain(run));
  for (const needle of [NEEDLE, NEEDLE2]) await assertPasswordNowhere(run, 'after a failed install', needle);
  const marker = await sh('ls /tmp/pwned* 2>/dev/null; true');
  assert.equal(marker.stdout.trim(), '');
});
