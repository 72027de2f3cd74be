/**
 * Issue 12 on testbed hosts, in a real browser (Debian's chromium, headless,
 * driven by playwright-core). One bed of three hosts, Pebble as the CA with
 * a short certificate lifetime.
 *
 * NOTE: code-server here is the testbed's STAND-IN
 * (test/testbed/code-server-standin.c: HTTP, a WebSocket echo, code-server's
 * Origin-vs-Host check), packed in code-server's release tarball layout; the
 * faasd behind nginx is the faasd stand-in (a supervisor running real
 * containerd tasks from the bed registry's STAND-IN images; the function the
 * UI test deploys is the test image). Everything else is real: the
 * recipe's tarball handling, user, unit, argon2 config, nginx, Pebble.
 *
 *  - /codeserver/: chromium loads the page and its WebSocket echoes through
 *    nginx; a foreign Origin gets 403; the process runs as `code-server`;
 *    tarball layout, unit, config (argon2 hash verifying the password) and
 *    the nginx location (`nginx -t`) as installed;
 *  - /panel/: 401 without credentials; with them chromium shows the domain,
 *    each recipe with its version, the certificate's expiry (screenshot kept in
 *    test-artifacts/ or $PANEL_TEST_ARTIFACTS); during an install its progress advances with no
 *    reload;
 *  - `check` exits 2 once the certificate has less than half its (short) lifetime left, and
 *    `renew -i fleet.yaml` over three hosts renews all three.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { after, before, test } from 'node:test';
import { verifyPassword as verifySync } from '../../src/codeserver/argon2.js';
import { chromium, type BrowserContext } from 'playwright-core';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { FUNCTION_IMAGE } from '../support/gateway-container.js';
import { hostArgs, mirrorArgs, mirrorDir } from '../support/bed-args.js';
import { CONTAINERD_VERSION } from '../testbed/mirror.js';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../support/temp.js';
import { archive } from '../../src/resources/index.js';
import { PRELUDE } from '../../src/resources/prelude.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

const LIFETIME = 120; // seconds: renewal is due after 60 s (half, as for every lifetime under 10 days)
const IDE = 'ide.panel.test';
const OTHERS = ['b.panel.test', 'c.panel.test'];
const PASSWORD = 'browser-test-admin-password';
const CS_VERSION = '4.139.1';

let bed: Testbed;
let h1: TestHost;
let root: string;
let browser: BrowserContext;
const work = tempDir('panel-browser-it-');
// The ACME account key and .panel/ (trusted sums) go to the scratch directory; the password only through the environment.
const env = { XDG_CONFIG_HOME: work, PANEL_PASSWORD: PASSWORD };

before(async () => {
  bed = await startTestbed({ hosts: 3, pebble: { certValiditySeconds: LIFETIME } });
  h1 = bed.hosts[0]!;
  await bed.dns.add(IDE, h1.address);
  for (const [i, n] of OTHERS.entries()) await bed.dns.add(n, bed.hosts[i + 1]!.address);
  root = await bed.acme.rootCaPem();
  writeFileSync(
    join(work, 'fleet.yaml'),
    [
      'defaults:',
      `  key: ${bed.keyFile}`,
      `  knownHosts: ${bed.knownHostsFile}`,
      '  email: ops@panel.test',
      `  acme: { directory: ${bed.acme.directory}, caFile: ${bed.acme.caFile} }`,
      'hosts:',
      ...bed.hosts.flatMap((h, i) => [`  ${h.name}:`, `    address: ${h.address}`, `    domains: [${i === 0 ? IDE : OTHERS[i - 1]}]`]),
    ].join('\n') + '\n',
  );
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await bed?.stop();
});

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-4000)}`;
}

function applied(run: CliRun): Array<{ resource: string; reason: string }> {
  return events(run)
    .filter((e) => e.type === 'change' && e['status'] === 'applied')
    .map((e) => e['change'] as { resource: string; reason: string });
}

function args(cmd: string, host: TestHost, name: string, recipes: string, extra: readonly string[] = []): string[] {
  return [
    cmd,
    ...hostArgs(bed, host),
    ...mirrorArgs(bed),
    '-d', name,
    '-m', 'ops@panel.test',
    '--acme-directory', bed.acme.directory,
    '--acme-ca', bed.acme.caFile,
    '--recipes', recipes,
    '--json',
    ...(cmd === 'install' ? ['--yes'] : []),
    ...extra,
  ];
}

const IDE_RECIPES = 'faasd,certificate,status,code-server';
const CS_REL = `coder/code-server/releases/download/v${CS_VERSION}/code-server-${CS_VERSION}-linux-amd64.tar.gz`;

function codeServerSum(run: CliRun): { sha256: string; source: string; path: string } {
  const a = events(run).find((e) => e.type === 'artifact' && (e['artifact'] as { name: string }).name === 'code-server');
  assert.ok(a, `no code-server artifact event\n${explain(run)}`);
  return a['artifact'] as { sha256: string; source: string; path: string };
}

async function sh(host: TestHost, cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

interface Answer {
  status: number;
  body: string;
  cert: PeerCertificate;
  location?: string;
}

/** `verify: false` only to read what an expired certificate is (before its renewal). */
function https(host: TestHost, name: string, path: string, headers: Record<string, string> = {}, verify = true, send?: { method: string; body: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: host.address, port: 443, path, method: send?.method ?? 'GET', servername: name, headers: { host: name, ...headers }, ca: root, agent: false, rejectUnauthorized: verify }, (res) => {
      // Read now: the socket is detached by the end of an answer to an upgrade request.
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, cert, ...(res.headers.location ? { location: res.headers.location } : {}) }));
    });
    req.on('error', reject);
    req.end(send?.body);
  });
}

const ADMIN = { Authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };

/** The status page's date format. */
function utc(d: string): string {
  return new Date(d).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

let firstCert: PeerCertificate;

test('install: code-server (stand-in) with a sum trusted on first use, the status page, certificates on three hosts', async () => {
  const [ide, ...others] = await Promise.all([
    panel(args('install', h1, IDE, IDE_RECIPES, ['--trust-artifact', 'code-server']), { env, cwd: work }),
    ...OTHERS.map((n, i) => panel(args('install', bed.hosts[i + 1]!, n, 'certificate'), { env, cwd: work })),
  ]);
  assert.equal(ide!.code, 0, explain(ide!));
  for (const o of others) assert.equal(o.code, 0, explain(o));
  // Where the sum came from is an artifact event, as for every other artifact; the record is on this machine and on the host.
  const sum = codeServerSum(ide!);
  assert.deepEqual([sum.source, sum.path], ['trusted-on-first-use', CS_REL]);
  assert.equal(readFileSync(join(work, '.panel', 'trusted-artifacts.sha256'), 'utf8'), `${sum.sha256}  ${CS_REL}\n`);
  assert.ok(applied(ide!).some((c) => c.resource.startsWith('archive:/usr/local/lib/code-server-')));
  const state = JSON.parse(await sh(h1, 'cat /var/lib/panel/state.json')) as { artifacts: Record<string, { sha256: string; source: string }> };
  assert.deepEqual([state.artifacts[CS_REL]?.sha256, state.artifacts[CS_REL]?.source], [sum.sha256, 'trusted-on-first-use']);
  // Without --trust-artifact (and no --checksums line) the same host is refused before any change, naming both ways.
  const refused = await panel(args('plan', h1, IDE, IDE_RECIPES), { env, cwd: work });
  assert.equal(refused.code, 1, explain(refused));
  assert.match(refused.stdout + refused.stderr, /code-server 4\.139\.1 \(amd64\): upstream publishes no sha256 for it.*--trust-artifact code-server/);
  firstCert = (await https(h1, IDE, '/')).cert;
});

test('code-server as installed: tarball layout, unprivileged user on 127.0.0.1, unit, argon2 config, nginx location', async () => {
  assert.match(await sh(h1, `/usr/local/lib/code-server-${CS_VERSION}/bin/code-server --version`), /stand-in/);
  assert.match(await sh(h1, 'systemctl show -p User --value code-server'), /^code-server\s*$/);
  assert.match(await sh(h1, 'ps -o user= -p "$(systemctl show -p MainPID --value code-server)"'), /^code-server\s*$/);
  assert.match(await sh(h1, 'getent passwd code-server'), /:\/var\/lib\/code-server:\/usr\/sbin\/nologin$/m);
  const listen = await sh(h1, "ss -Hltn 'sport = :5000'");
  assert.match(listen, /127\.0\.0\.1:5000/);
  assert.doesNotMatch(listen, /0\.0\.0\.0:5000|\*:5000/);

  const cfgPath = '/var/lib/code-server/.config/code-server/config.yaml';
  assert.equal((await sh(h1, `stat -c '%U %a' ${cfgPath}`)).trim(), 'code-server 600');
  const cfg = await sh(h1, `cat ${cfgPath}`);
  assert.doesNotMatch(cfg, /^password:/m);
  assert.ok(!cfg.includes(PASSWORD));
  const hash = /^hashed-password: "([^"]+)"$/m.exec(cfg)?.[1];
  assert.match(hash ?? '', /^\$argon2id\$/);
  assert.ok(verifySync(hash!, PASSWORD), 'the hash verifies against the admin password');

  await sh(h1, 'nginx -t 2>&1');
  const site = await sh(h1, 'cat /etc/nginx/conf.d/panel.conf');
  const loc = /location \/codeserver\/ \{[^}]*\}/.exec(site)?.[0] ?? '';
  assert.match(loc, /proxy_pass http:\/\/127\.0\.0\.1:5000\/;/);
  assert.match(loc, /proxy_set_header Host \$http_host;/);
  assert.match(loc, /proxy_set_header Accept-Encoding gzip;/);

  // code-server's Origin check, through nginx: a foreign page cannot open the socket.
  const ws = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
  assert.equal((await https(h1, IDE, '/codeserver/echo', { ...ws, Origin: 'https://evil.test' })).status, 403);
});

test('the OpenFaaS UI: its own requests, resolved against https://DOMAIN/ui/, reach the gateway\'s /system/ and /function/', async () => {
  // What the UI's script calls (openfaas/faas 0.27.12 gateway/assets/script/bootstrap.js): lines 72 and 270
  // "../system/namespaces"; 215 and 568 buildNamespaceAwareURL("/system/functions", ns); 100
  // buildNamespaceAwareURL("/system/function/" + name, ns); 127 POST "../function/" + name. The browser
  // resolves them against the page's address; buildNamespaceAwareURL is upstream's (line 598).
  const ui = `https://${IDE}/ui/`;
  const nsAware = (path: string, ns: string): string => `${path.startsWith('/') ? `..${path}` : `../${path}`}${ns ? `?namespace=${ns}` : ''}`;
  const at = (rel: string): string => {
    const u = new URL(rel, ui);
    assert.equal(u.host, IDE);
    return u.pathname + u.search;
  };
  // The page itself: the gateway's UI behind the gateway's own basic auth.
  assert.equal((await https(h1, IDE, at(''))).status, 401);
  const page = await https(h1, IDE, at(''), ADMIN);
  assert.equal(page.status, 200);
  assert.match(page.body, /OpenFaaS Portal/);
  // The gateway's JSON answers, from the provider (faasd's handlers: namespaces.go, read.go, replicas.go).
  const namespaces = await https(h1, IDE, at('../system/namespaces'), ADMIN);
  assert.deepEqual([namespaces.status, JSON.parse(namespaces.body)], [200, ['openfaas-fn']]);
  const none = await https(h1, IDE, at(nsAware('/system/function/figlet', '')), ADMIN);
  assert.equal(none.status, 404, 'no function yet, so no status');
  // The UI's deploy (its "Deploy New Function" POSTs "../system/functions"): a real function task,
  // the bed registry's test function, started by the provider.
  const deploy = await https(h1, IDE, at('../system/functions'), { ...ADMIN, 'Content-Type': 'application/json' }, true, {
    method: 'POST',
    body: JSON.stringify({ service: 'figlet', image: FUNCTION_IMAGE, envVars: { fn_name: 'figlet' } }),
  });
  assert.equal(deploy.status, 200, deploy.body);
  for (const ns of ['', 'openfaas-fn']) {
    const list = await https(h1, IDE, at(nsAware('/system/functions', ns)), ADMIN);
    assert.equal(list.status, 200, list.body);
    assert.deepEqual((JSON.parse(list.body) as Array<{ name: string; image: string }>).map((f) => [f.name, f.image]), [['figlet', FUNCTION_IMAGE]]);
    const status = await https(h1, IDE, at(nsAware('/system/function/figlet', ns)), ADMIN);
    assert.equal(status.status, 200, status.body);
    assert.deepEqual((({ name, namespace }: { name: string; namespace: string }) => [name, namespace])(JSON.parse(status.body) as { name: string; namespace: string }), ['figlet', 'openfaas-fn']);
  }
  // A namespace faasd does not know is refused, as validNamespace does.
  assert.equal((await https(h1, IDE, at(nsAware('/system/functions', 'no-such-ns')), ADMIN)).status, 400);
  assert.equal((await https(h1, IDE, at('../system/namespaces'))).status, 401, 'the gateway asks for its own credentials');
  // The function's own answer, from its task (uid 100: the test image's user) at its task's
  // CNI address on openfaas0; it starts listening a moment after its task does.
  await sh(h1, 'for i in $(seq 100); do curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/function/figlet && break; sleep 0.2; done');
  const ownAnswer = /^function figlet from \S+ uid 100\naddress 10\.62\.\d+\.\d+\n$/;
  const invoke = await https(h1, IDE, at('../function/figlet'), { ...ADMIN, 'Content-Type': 'text/plain' }, true, { method: 'POST', body: 'hi' });
  assert.equal(invoke.status, 200, invoke.body);
  assert.match(invoke.body, ownAnswer);
  // A function answers at /function/NAME and at /NAME; panel.sh's /faasd/ goes to the UI.
  for (const path of ['/function/figlet', '/figlet']) assert.match((await https(h1, IDE, path)).body, ownAnswer, path);
  const faasd = await https(h1, IDE, '/faasd/');
  assert.deepEqual([faasd.status, faasd.location], [301, `https://${IDE}/ui/`]);
  // The gateway's /healthz (unauthenticated, as upstream's) is that one path; below it, functions.
  const healthz = await https(h1, IDE, '/healthz');
  assert.equal(healthz.status, 200, healthz.body);
  assert.doesNotMatch(healthz.body, /^function /);
  assert.equal((await https(h1, IDE, '/healthz/x')).status, 404, 'no function named healthz: the gateway says so');
});

test('code-server\'s terminal: the service\'s SHELL is a real shell that runs as the service user; the account still refuses logins', async () => {
  const environment = await sh(h1, 'systemctl show -p Environment --value code-server');
  const shell = /(?:^| )SHELL=(\S+)/.exec(environment)?.[1];
  assert.equal(shell, '/bin/bash', environment);
  // That shell, started as the service user, runs a command.
  assert.equal(await sh(h1, `setpriv --reuid=code-server --regid=code-server --init-groups ${shell} -c 'id -un; echo ran'`), 'code-server\nran\n');
  // The stand-in starts $SHELL as the IDE's terminal does, and logged the SHELL it was given.
  assert.equal(await sh(h1, 'curl -s http://127.0.0.1:5000/terminal'), 'shell=/bin/bash exit=0\nterminal: code-server\n');
  assert.match(await sh(h1, 'journalctl -u code-server -b --no-pager -o cat'), /terminal shell SHELL=\/bin\/bash/);
  // The account's own shell is still nologin: what systemd would have put in $SHELL, and what SSH would start.
  assert.match(await sh(h1, 'getent passwd code-server'), /:\/usr\/sbin\/nologin$/m);
  const login = await bed.exec(h1, "setpriv --reuid=code-server --regid=code-server --init-groups \"$(getent passwd code-server | cut -d: -f7)\" -c 'id -un'");
  assert.notEqual(login.code, 0);
  assert.match(login.stdout + login.stderr, /not available/);
  // Uploads to the IDE have their own limit.
  assert.match(/location \/codeserver\/ \{[^}]*\}/.exec(await sh(h1, 'cat /etc/nginx/conf.d/panel.conf'))?.[0] ?? '', /client_max_body_size 1g;/);
});

const CS_DIR = `/usr/local/lib/code-server-${CS_VERSION}`;

test('code-server\'s tarball as installed: every entry of the real layout (empty dirs, symlinks, modes), one tree record', async () => {
  // The tarball the bed generated (code-server's layout and size class), listed here on the runner.
  const tarball = join(mirrorDir(bed), CS_REL);
  const listed = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter((l) => l.includes('/') && !/^[^/]+\/$/.test(l));
  assert.ok(listed.length > 20_000, `${listed.length} entries`);
  const onHost = Number(await sh(h1, `find ${CS_DIR} -mindepth 1 | wc -l`));
  assert.equal(onHost, listed.length, 'every entry of the tarball, nothing else');
  assert.deepEqual((await sh(h1, `stat -c '%a %F' ${CS_DIR}/lib/node ${CS_DIR}/bin/code-server ${CS_DIR}/lib/vscode/node_modules/pkg-0001/bin/cli.js ${CS_DIR}/lib/vscode/node_modules/pkg-0001/package.json ${CS_DIR}`)).trim().split('\n'), [
    '755 regular file', '755 regular file', '755 regular file', '644 regular file', '755 directory',
  ]);
  assert.ok(Number(await sh(h1, `find ${CS_DIR} -type d -empty | wc -l`)) >= 100, 'empty directories kept');
  assert.equal(Number(await sh(h1, `find ${CS_DIR} -type l | wc -l`)), 1000, 'symlinks kept');
  assert.equal(await sh(h1, `find -L ${CS_DIR} -type l | wc -l`), '0\n', 'and they resolve');
  // The extraction's temp and swap directories sit beside it: <dir>.panel-new.*, .panel-old.*, .panel-before
  // (/usr/local/lib/panel-testbed is the testbed's own, not panel's).
  assert.equal(await sh(h1, "ls -A /usr/local/lib | grep -c '\\.panel-' || true"), '0\n', 'no temp directory left');
  const state = JSON.parse(await sh(h1, 'cat /var/lib/panel/state.json')) as { records: Record<string, { tree?: { entries: number } }> };
  const ids = Object.keys(state.records);
  assert.deepEqual(ids.filter((id) => id.startsWith(`${CS_DIR}/`)), [], 'no record per file');
  const rec = state.records[`archive:${CS_DIR}:code-server-${CS_VERSION}-linux-amd64.tar.gz`];
  assert.equal(rec?.tree?.entries, listed.length);
  assert.ok(Number(await sh(h1, 'stat -c %s /var/lib/panel/state.json')) < 64 * 1024, 'the host record stays small');
});

async function openBrowser(): Promise<BrowserContext> {
  browser ??= await chromium.launchPersistentContext(mkdtempSync(join(work, 'chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--host-resolver-rules=MAP ${IDE} ${h1.address}`,
    ],
    // Chromium has no way to take Pebble's root without an NSS database; TLS itself is checked with node above.
    ignoreHTTPSErrors: true,
    httpCredentials: { username: 'admin', password: PASSWORD },
    viewport: { width: 390, height: 844 }, // a phone
  });
  return browser;
}

test('chromium: /codeserver/ loads and its WebSocket echoes through nginx', async () => {
  const page = await (await openBrowser()).newPage();
  const res = await page.goto(`https://${IDE}/codeserver/`);
  assert.equal(res?.status(), 200);
  await page.waitForFunction(() => document.getElementById('ws')?.textContent?.startsWith('echo:'), undefined, { timeout: 15_000 });
  assert.equal(await page.textContent('#ws'), 'echo: echo through nginx');
  await page.close();
});

test('/panel/: 401 without credentials; chromium shows the domain, recipes with versions and the certificate expiry', async (t) => {
  assert.equal((await https(h1, IDE, '/panel/')).status, 401);
  assert.equal((await https(h1, IDE, '/panel/progress.json')).status, 401);
  const auth = { Authorization: `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}` };
  assert.equal((await https(h1, IDE, '/panel/', { Authorization: `Basic ${Buffer.from('admin:wrong-password').toString('base64')}` })).status, 401);
  const progress = await https(h1, IDE, '/panel/progress.json', auth);
  assert.equal(progress.status, 200);
  assert.equal((JSON.parse(progress.body) as { data: { installType: string } }).data.installType, 'done');

  const page = await (await openBrowser()).newPage();
  const res = await page.goto(`https://${IDE}/panel/`);
  assert.equal(res?.status(), 200);
  assert.equal(await page.textContent('#domain'), IDE);
  const versions = Object.fromEntries(
    await page.$$eval('#recipes tr[data-recipe]', (rows) => rows.map((r) => [r.getAttribute('data-recipe'), r.querySelector('.version')?.textContent])),
  ) as Record<string, string>;
  for (const id of ['base', 'containerd', 'cni', 'bridge', 'faasd', 'nginx', 'certificate', 'status', 'code-server']) assert.ok(id in versions, `${id} listed: ${JSON.stringify(versions)}`);
  assert.equal(versions['faasd'], '0.19.7');
  assert.equal(versions['code-server'], CS_VERSION);
  assert.equal(versions['containerd'], CONTAINERD_VERSION);
  assert.equal(await page.textContent('#cert-expires'), utc(firstCert.valid_to));
  assert.match((await page.textContent('#cert-names')) ?? '', new RegExp(IDE.replace(/\./g, '\\.')));
  assert.match((await page.textContent('#recipes')) ?? '', /trusted-on-first-use/);
  // Kept after the run (the temp dir is not): test-artifacts/ in the checkout (git-ignored), or $PANEL_TEST_ARTIFACTS.
  const keep = process.env['PANEL_TEST_ARTIFACTS'] ?? join(packageRoot, 'test-artifacts');
  mkdirSync(keep, { recursive: true });
  const shot = join(keep, 'panel-status.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 5000);
  t.diagnostic(`screenshot: ${shot}`);
  await page.close();
});

let dueAt = 0;

test('check exits 2 once the certificate has less than half its (short) lifetime left', async () => {
  const from = Date.parse(firstCert.valid_from);
  const to = Date.parse(firstCert.valid_to);
  dueAt = from + (to - from) / 2; // under 10 days: renewed at half its lifetime left
  const wait = dueAt - Date.now() + 2_000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const run = await panel(args('check', h1, IDE, IDE_RECIPES, ['--trust-artifact', 'code-server']), { env, cwd: work });
  assert.equal(run.code, 2, explain(run));
  const planned = events(run).filter((e) => e.type === 'change').map((e) => (e['change'] as { resource: string; reason: string }));
  const cert = planned.find((c) => c.resource === `certificate:${IDE}`);
  assert.match(cert?.reason ?? '', /less than half of its lifetime left/);
});

test('during an install the status page shows the progress advancing, without a reload', async (t) => {
  const page = await (await openBrowser()).newPage();
  await page.goto(`https://${IDE}/panel/`);
  await page.waitForFunction(() => document.getElementById('live-step')?.textContent === 'done', undefined, { timeout: 10_000 });
  await page.evaluate(() => {
    const w = window as unknown as { panelSteps: string[]; sameDocument: boolean };
    w.sameDocument = true;
    w.panelSteps = [];
    const step = document.getElementById('live-step')!;
    const pct = document.getElementById('live-percent')!;
    new MutationObserver(() => w.panelSteps.push(`${step.textContent} ${pct.textContent}`)).observe(document.getElementById('live')!, { subtree: true, childList: true, characterData: true });
  });
  // A new port for code-server changes the site and code-server; the due certificate is renewed in between.
  const recorded = readFileSync(join(work, '.panel', 'trusted-artifacts.sha256'), 'utf8');
  const run = await panel(args('install', h1, IDE, IDE_RECIPES, ['--set', 'code-server.port=5001', '--trust-artifact', 'code-server']), { env, cwd: work });
  assert.equal(run.code, 0, explain(run));
  // A later run uses the record; nothing is trusted again.
  assert.equal(codeServerSum(run).source, 'trusted-on-first-use');
  assert.equal(readFileSync(join(work, '.panel', 'trusted-artifacts.sha256'), 'utf8'), recorded);
  await page.waitForFunction(() => (window as unknown as { panelSteps: string[] }).panelSteps.at(-1) === 'done 100%', undefined, { timeout: 10_000 });
  const seen = await page.evaluate(() => {
    const w = window as unknown as { panelSteps: string[]; sameDocument?: boolean };
    return { panelSteps: w.panelSteps, sameDocument: w.sameDocument };
  });
  t.diagnostic(`progress seen: ${JSON.stringify(seen.panelSteps)}`);
  assert.equal(seen.sameDocument, true, 'the page was not reloaded');
  const during = seen.panelSteps.filter((s) => s !== 'done 100%');
  assert.ok(during.length > 0, `progress seen: ${JSON.stringify(seen.panelSteps)}`);
  assert.ok(during.every((s) => /^(nginx|certificate|status|code-server|base|containerd|cni|bridge|faasd) \d+%$/.test(s)), JSON.stringify(seen.panelSteps));
  // The page itself was rewritten by this run: it shows the renewed certificate.
  const renewed = (await https(h1, IDE, '/')).cert;
  assert.notEqual(renewed.serialNumber, firstCert.serialNumber);
  await page.reload();
  assert.equal(await page.textContent('#cert-expires'), utc(renewed.valid_to));
  await page.close();
});

test('renew -i fleet.yaml renews the certificates of all three hosts', async () => {
  const before = await Promise.all(bed.hosts.map((h, i) => https(h, i === 0 ? IDE : OTHERS[i - 1]!, '/', {}, false)));
  // Wait until host1's renewed certificate is due too (the others are expired by then).
  const c = before[0]!.cert;
  const due = Date.parse(c.valid_from) + (Date.parse(c.valid_to) - Date.parse(c.valid_from)) / 2;
  const wait = due - Date.now() + 2_000;
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  const run = await panel(['renew', '-i', 'fleet.yaml', '--json'], { env, cwd: work });
  assert.equal(run.code, 0, explain(run));
  const renewed = events(run).filter((e) => e.type === 'change' && e['status'] === 'applied').map((e) => `${e['host'] as string} ${(e['change'] as { resource: string }).resource}`).sort();
  assert.deepEqual(renewed, bed.hosts.map((h, i) => `${h.name} certificate:${i === 0 ? IDE : OTHERS[i - 1]}`).sort());
  const after_ = await Promise.all(bed.hosts.map((h, i) => https(h, i === 0 ? IDE : OTHERS[i - 1]!, '/')));
  after_.forEach((a, i) => assert.notEqual(a.cert.serialNumber, before[i]!.cert.serialNumber, `${bed.hosts[i]!.name} serves a new certificate`));
  assert.ok(existsSync(join(work, '.panel', 'last-run.json')));
  // The renewal updated host1's status page: the new expiry, the install's recipes kept.
  const page = await https(h1, IDE, '/panel/', ADMIN);
  assert.match(page.body, new RegExp(`<td id="cert-expires">${utc(after_[0]!.cert.valid_to)}</td>`));
  assert.match(page.body, /data-recipe="code-server"/);
});

// The args of the last install above (code-server moved to port 5001).
const LAST = (): string[] => args('install', h1, IDE, IDE_RECIPES, ['--set', 'code-server.port=5001', '--trust-artifact', 'code-server']);

test('a no-op over the ~25k-file tree stays cheap; a damaged tree or a lib/node that cannot run is extracted again', async () => {
  // The tree's facts, as the engine batches them into the one facts round trip: the digest matches the
  // record (nothing to do), for a fixed number of processes, not one (or more) per file (counted in the
  // host's PID namespace without forking: `read` is a builtin).
  const tarball = archive({ url: `https://github.com/${CS_REL}`, sha256: 'a'.repeat(64), into: CS_DIR, strip: 1, ownDir: true, members: ['bin/code-server', 'lib/node'] });
  const counted = await bed.exec(h1, 'bash -s', {
    input: `export PANEL_MODE=facts\n${PRELUDE}\nread -r __a < /proc/sys/kernel/ns_last_pid\n${tarball.facts()}\nread -r __b < /proc/sys/kernel/ns_last_pid\necho "forks=$((__b - __a))"\n`,
  });
  assert.equal(counted.code, 0, counted.stderr);
  const forks = Number(/^forks=(\d+)$/m.exec(counted.stdout)?.[1]);
  const facts = tarball.parse({ stdout: counted.stdout.replace(/^forks=.*\n/m, ''), code: 0 });
  const state = JSON.parse(await sh(h1, 'cat /var/lib/panel/state.json')) as { records: Record<string, { tree?: { digest: string; entries: number } }> };
  assert.deepEqual(facts.tree, { digest: state.records[tarball.key]?.tree?.digest, entries: state.records[tarball.key]?.tree?.entries });
  assert.deepEqual([...(facts.runnable ?? [])].sort(), ['bin/code-server', 'lib/node']);
  console.log(`the facts of ${CS_DIR} (${facts.tree?.entries} entries): ${forks} processes on the host`);
  assert.ok(forks < 50, `${forks} processes for the facts of one tree`);

  // Damage of every kind the digest must see, and a bundled runtime that cannot run: extracted again, and the service restarted.
  await sh(h1, `cd ${CS_DIR} && chmod -x lib/node && rmdir lib/vscode/extensions/empty-ext/media && rm lib/vscode/node_modules/.bin/pkg-0500 && echo x >> lib/vscode/node_modules/pkg-0700/package.json`);
  const repair = await panel(LAST(), { env, cwd: work });
  assert.equal(repair.code, 0, explain(repair));
  const change = applied(repair).find((c) => c.resource === tarball.key);
  assert.match(change?.reason ?? '', /^tree differs from the extraction \(\d+ entries now, \d+ extracted\), lib\/node: missing or not executable$/, explain(repair));
  assert.equal(await sh(h1, `stat -c %a ${CS_DIR}/lib/node; test -d ${CS_DIR}/lib/vscode/extensions/empty-ext/media && readlink ${CS_DIR}/lib/vscode/node_modules/.bin/pkg-0500`), '755\n../pkg-0500/bin/cli.js\n');
  assert.match(await sh(h1, 'systemctl is-active code-server'), /^active/);
});

test('uninstall of code-server removes its tree exactly: nothing of it left, nothing else touched', async () => {
  const others = await sh(h1, `ls -A /usr/local/lib | grep -vx code-server-${CS_VERSION} || true`);
  const run = await panel(['uninstall', ...hostArgs(bed, h1), '--recipes', 'code-server', '--json', '--yes'], { env, cwd: work });
  assert.equal(run.code, 0, explain(run));
  assert.equal(await sh(h1, 'ls -A /usr/local/lib'), others);
  const state = JSON.parse(await sh(h1, 'cat /var/lib/panel/state.json')) as { records: Record<string, { recipe: string }> };
  assert.deepEqual(Object.entries(state.records).filter(([, r]) => r.recipe === 'code-server').map(([id]) => id), []);
});
