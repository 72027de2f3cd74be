/**
 * Hostile input that panel accepts, on a real host, and the secrets grep.
 *
 * The injection table (test/unit/injection.test.ts) refuses every hostile
 * value before any connection, except values whose syntax is legal where
 * they come from; those must land as data wherever they go. One of each
 * sink, through each channel (flags, --set, fleet.yaml):
 *  - remote shell: the faasd admin password (shell, curl-config, template
 *    and nginx syntax) written as the secret file and read by the verify
 *    step's curl config;
 *  - systemd unit: a --proxy URL with `%` (systemd specifiers: `%h` would
 *    expand, `%40` would make systemd drop the whole assignment) and `{{…}}`
 *    (template syntax), in the faasd drop-ins;
 *  - nginx config: a domain in full-width letters (normalised to ASCII) and
 *    an extra route at the edge of the allowed characters;
 *  - JSON: a --registry-auth config.json holding shell and template syntax.
 * After each: no marker file, `nginx -t` and `systemd-analyze verify` pass,
 * each value is on the host exactly as given.
 *
 * The secrets grep: after a successful install, a failure before any
 * connection, a failure in the middle of applying on the host, and a
 * password change, no password appears in stdout, stderr (--json), the local
 * last-run file, or anything on the host: progress.json, access.log,
 * installErr.log (panel.sh's three progress files, kept by panel in
 * --progress-dir), state.json, the backups (/var/lib/panel/backups), the
 * status page (/var/www/panel-status/index.html and its data
 * status-page.json), nginx's and systemd's directories, /tmp. Each of these
 * is asserted to exist when it is searched, so the grep cannot pass on a
 * file that was never written. Secret files are 0600 root (faasd's basic-auth
 * files 0644 in a 0700 root directory, as upstream, and unreadable to other users).
 * NOTE: the faasd on the testbed mirror is the testbed's STAND-IN.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { standInChecksumsFile } from '../testbed/mirror.js';

let bed: Testbed;
let host: TestHost;
const state = tempDir('panel-hostile-state-');
const files = tempDir('panel-hostile-files-');

/** Shell, curl-config, template and nginx syntax in one password. */
const PASSWORD = 'Pw-hostile-7f3a$(touch /tmp/pwned)`touch /tmp/pwned2`\'";{{password}}}\\x';
/** The failed installs are given another password, the password change a third: none may appear. */
const PASSWORD2 = PASSWORD.replace('Pw-hostile-7f3a', 'Pw-hostile-failed-9c1e');
const PASSWORD3 = PASSWORD.replace('Pw-hostile-7f3a', 'Pw-hostile-changed-4b2d');

/**
 * What the grep looks for: the password's head, which has no character that
 * JSON or shell quoting would escape, so it is found raw, inside JSON
 * (progress.json, state.json, --json) and inside a quoted script alike; and
 * the same head in base64, the form in which panel's scripts carry a file's
 * bytes (a script echoed into a log or an error would show it).
 */
function needles(password: string): string[] {
  const head = password.slice(0, password.indexOf("'"));
  return [head, Buffer.from(head.slice(0, head.length - (head.length % 3))).toString('base64')];
}

/** The faasd admin password the host had before panel. */
const PRE_PANEL = 'pre-panel-admin-pw-0001';

/** Template syntax and systemd specifiers (`%h`, and `%40`: an `@` in a proxy password, percent-encoded). */
const PROXY = 'http://proxy.example:3128/p%40th/%h/{{password}}/(x)';
/** Full-width letters: IDN normalisation makes them app.example.com, the only form nginx sees. */
const DOMAIN = 'ＡＰＰ.Example.com';
/** Route path at the edge of what a location prefix may hold. */
const ROUTE = '/~a.b_c-d../';
/** A docker config.json (the registry credentials faasd uses) whose values are shell and template syntax. */
const REGISTRY_AUTH = `${JSON.stringify({ auths: { 'registry.example': { auth: '$(touch /tmp/pwned)`touch /tmp/pwned3`{{password}}"\'' } } })}\n`;

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false });
  host = bed.hosts[0]!;
  writeFileSync(join(files, 'registry-auth.json'), REGISTRY_AUTH);
  // An admin password from before panel (a hand-made faasd): panel keeps a backup of it for uninstall.
  await sh(`mkdir -p -m 0700 /var/lib/faasd/secrets && (umask 077; printf %s ${PRE_PANEL} > /var/lib/faasd/secrets/basic-auth-password)`);
});

after(async () => {
  await bed?.stop();
});

const RECIPES = 'faasd,nginx,status';

function install(password: string, extra: readonly string[] = []): Promise<CliRun> {
  return panel(['install', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', RECIPES, '-p', password, '--json', '--yes', ...extra], {
    env: { PANEL_STATE_DIR: state },
  });
}

async function sh(cmd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return bed.exec(host, cmd);
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

/** Where a run leaves files on the host: everything in this list must exist before the grep is trusted. */
const ON_HOST = [
  '/var/lib/panel/progress.json',
  '/var/lib/panel/access.log',
  '/var/lib/panel/state.json',
  '/var/lib/panel/status-page.json',
  '/var/www/panel-status/index.html',
];

/** Every place a run writes or prints, searched for the password (the host side with grep -F). */
async function assertPasswordNowhere(run: CliRun, when: string, password: string, mustExist: readonly string[] = ON_HOST): Promise<void> {
  assert.ok(readdirSync(state).includes('last-run.json'), `${when}: the local last-run file was searched`);
  const present = await sh(`for f in ${mustExist.join(' ')}; do [ -s "$f" ] || echo "$f"; done`);
  assert.equal(present.stdout, '', `${when}: files to search are missing on the host`);
  for (const needle of needles(password)) {
    assert.ok(!run.stdout.includes(needle), `${when}: password (${needle.slice(0, 12)}…) in stdout (--json)`);
    assert.ok(!run.stderr.includes(needle), `${when}: password (${needle.slice(0, 12)}…) in stderr`);
    // Every file below the state directory (host-info/ holds one file per host).
    for (const f of readdirSync(state, { recursive: true, encoding: 'utf8' })) {
      if (statSync(join(state, f)).isDirectory()) continue;
      assert.ok(!readFileSync(join(state, f), 'utf8').includes(needle), `${when}: password in the local ${f}`);
    }
    // progress.json, access.log, installErr.log, state.json, backups, status-page.json: under /var/lib/panel; the status page under /var/www.
    const where = '/var/lib/panel /var/www /usr/share/nginx /etc/nginx /etc/systemd/system /lib/systemd/system /tmp';
    const hit = await sh(`printf '%s' '${needle}' > /root/.pw-needle && grep -rlF -f /root/.pw-needle ${where} 2>/dev/null; rm -f /root/.pw-needle`);
    assert.equal(hit.stdout.trim(), '', `${when}: password (${needle.slice(0, 12)}…) found on the host in: ${hit.stdout}`);
  }
}

async function assertNoMarker(): Promise<void> {
  const marker = await sh('ls /tmp/pwned* 2>/dev/null; true');
  assert.equal(marker.stdout.trim(), '', 'no marker file: no command in the input ran');
}

/** Nothing a hostile value spells ran, and panel's nginx site and units are valid. */
async function assertInertAndValid(): Promise<void> {
  await assertNoMarker();
  const nginx = await sh('nginx -t');
  assert.equal(nginx.code, 0, nginx.stderr);
  const verify = await sh('systemd-analyze verify containerd.service faasd-provider.service faasd.service 2>&1');
  assert.equal(verify.code, 0, verify.stdout);
}

/** Each accepted value is on the host exactly as given (or as normalised), nowhere interpreted. */
async function assertValuesLanded(password: string): Promise<void> {
  const secret = await sh('cat /var/lib/faasd/secrets/basic-auth-password');
  assert.equal(secret.stdout, password, 'the secret holds exactly the password: no shell expansion, no template rendering');
  for (const unit of ['faasd', 'faasd-provider']) {
    // systemd's own reading of the drop-in: a `%` specifier it resolved, or an assignment it dropped, shows here.
    // (systemctl show double-quotes an assignment holding characters such as `{` or `(`.)
    const env = await sh(`systemctl show -p Environment --value ${unit}`);
    for (const name of ['HTTP_PROXY', 'https_proxy']) {
      const assignment = new RegExp(`(?:^|[\\s"])${name}=${PROXY.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:["\\s]|$)`);
      assert.match(env.stdout, assignment, `${unit}: ${name} is the URL as given; systemd sees: ${env.stdout}`);
    }
  }
  const site = await sh('cat /etc/nginx/conf.d/panel.conf');
  assert.match(site.stdout, /^\s*server_name app\.example\.com;$/m, 'the full-width domain reaches nginx in ASCII');
  assert.ok(site.stdout.includes(`location ${ROUTE} {`), 'the extra route is in the site as given');
  const auth = await sh('cat /var/lib/faasd/.docker/config.json');
  assert.equal(auth.stdout, REGISTRY_AUTH, 'the registry credentials are on the host byte for byte');
}

async function assertSecretModes(): Promise<void> {
  const secrets = await sh('stat -c "%n %a %U %G" /var/lib/faasd/secrets/* /var/lib/faasd/.docker/config.json');
  const lines = secrets.stdout.trim().split('\n');
  assert.equal(lines.length, 3, secrets.stdout);
  // faasd's basic-auth files are 0644 as upstream writes them (the gateway container's
  // non-root user reads them through a bind mount); config.json is read by faasd as root.
  for (const l of lines) {
    const want = l.startsWith('/var/lib/faasd/secrets/') ? / 644 root root$/ : / 600 root root$/;
    assert.match(l, want, `secret file mode or owner wrong: ${l}`);
  }
  // What keeps the other users of the host out is the 0700 directory.
  const peek = await sh('su nosudo -s /bin/sh -c "cat /var/lib/faasd/secrets/basic-auth-password" 2>&1; echo "exit=$?"');
  assert.match(peek.stdout, /Permission denied[\s\S]*exit=1/, `an unprivileged user read the faasd password: ${peek.stdout.length} bytes`);
  const dirs = await sh('stat -c "%n %a %U" /var/lib/faasd/secrets /var/lib/faasd/.docker /var/lib/panel/backups');
  for (const l of dirs.stdout.trim().split('\n')) assert.match(l, / 700 root$/, `directory holding secrets not 0700 root: ${l}`);
}

// The site here has no certificate recipe: it renders its routes (where the hostile values land) only as
// the explicit HTTP-only site, nginx.insecureHttp; without it port 80 serves a 503 page and nothing else.
const FLAGS = ['--proxy', PROXY, '-d', DOMAIN, '--set', `nginx.extraRoutes=[{"path":"${ROUTE}","port":5000}]`, '--set', 'nginx.insecureHttp=true', '--registry-auth', join(files, 'registry-auth.json')];

test('through flags and --set: hostile values are data in the shell, units, nginx and JSON; nginx -t and systemd-analyze verify pass; secrets unreadable to other users', async () => {
  const run = await install(PASSWORD, FLAGS);
  await assertNoMarker(); // first: whatever else went wrong, did a command in the input run?
  assert.equal(run.code, 0, explain(run));
  await assertInertAndValid();
  await assertValuesLanded(PASSWORD);
  await assertSecretModes();
  await assertPasswordNowhere(run, 'after a successful install', PASSWORD);
});

test('after a failed install (refused before connecting) the password appears nowhere either', async () => {
  // A faasd release the mirror does not have: the run fails before it applies anything.
  const run = await install(PASSWORD2, [...FLAGS, '--set', 'faasd.version=0.0.1']);
  assert.equal(run.code, 1, explain(run));
  for (const pw of [PASSWORD, PASSWORD2]) await assertPasswordNowhere(run, 'after a failed install', pw);
  await assertInertAndValid();
});

test('after an install that fails on the host mid-apply (installErr.log written) the password appears nowhere', async () => {
  // The compose file's path is a directory: the faasd recipe fails after its
  // secret was written (a new password, so the old one is replaced).
  await sh('rm -f /var/lib/faasd/docker-compose.yaml && mkdir /var/lib/faasd/docker-compose.yaml');
  try {
    const run = await install(PASSWORD2, FLAGS);
    assert.equal(run.code, 1, explain(run));
    const err = await sh('cat /var/lib/panel/installErr.log; cat /var/lib/panel/progress.json');
    assert.match(err.stdout, /\[faasd\].*docker-compose\.yaml/, `installErr.log names the failure: ${err.stdout}`);
    assert.match(err.stdout, /"code":1/, 'progress.json says the run failed');
    const secret = await sh('cat /var/lib/faasd/secrets/basic-auth-password');
    assert.equal(secret.stdout, PASSWORD2, 'the new password was written before the failure');
    for (const pw of [PASSWORD, PASSWORD2]) await assertPasswordNowhere(run, 'after a failure on the host', pw, [...ON_HOST, '/var/lib/panel/installErr.log']);
  } finally {
    await sh('rmdir /var/lib/faasd/docker-compose.yaml');
  }
});

test('through fleet.yaml: a password change leaves no password in backups or anywhere, values land as data', async () => {
  const fleet = join(files, 'fleet.yaml');
  writeFileSync(
    fleet,
    [
      'hosts:',
      '  target:',
      `    address: ${host.address}`,
      `    key: ${host.keyFile}`,
      `    knownHosts: ${bed.knownHostsFile}`,
      `    domains: [${JSON.stringify(DOMAIN)}]`,
      `    recipes: [${RECIPES}]`,
      `    mirror: ${bed.mirrorUrl}`,
      `    checksums: ${standInChecksumsFile(bed.checksumsFile)}`,
      `    proxy: ${JSON.stringify(PROXY)}`,
      `    registryAuth: ${join(files, 'registry-auth.json')}`,
      '    password: { env: PANEL_HOSTILE_PW }',
      '    params:',
      `      nginx: { extraRoutes: [{ path: ${JSON.stringify(ROUTE)}, port: 5000 }], insecureHttp: true }`,
      '',
    ].join('\n'),
  );
  const run = await panel(['install', '-i', fleet, '--json', '--yes'], { env: { PANEL_STATE_DIR: state, PANEL_HOSTILE_PW: PASSWORD3 } });
  assert.equal(run.code, 0, explain(run));
  await assertInertAndValid();
  await assertValuesLanded(PASSWORD3);
  await assertSecretModes();
  // The backups must hold something, or searching them proves nothing: the one
  // secret backup is the password from before panel (uninstall puts it back), 0600 root.
  const backups = await sh('cd /var/lib/panel/backups && for f in *basic-auth-password*; do stat -c "%a %U %G" "$f"; cat "$f"; echo; done');
  assert.equal(backups.stdout, `600 root root\n${PRE_PANEL}\n`, 'one backup of the secret: the pre-panel version');
  for (const pw of [PASSWORD, PASSWORD2, PASSWORD3]) await assertPasswordNowhere(run, 'after a password change', pw);
});
