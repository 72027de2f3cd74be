import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultAccountKeyFile, loadOrCreateAccountKey } from '../../src/acme/account.js';
import { CertificateResource } from '../../src/acme/certificate.js';
import { type CertInfo, orderReason, parseCertificate, renewalTime } from '../../src/acme/cert-info.js';
import { err, ok } from '../../src/result.js';

/** A certificate the test made, parsed (a test bug if it cannot be). */
function readable(pem: string): CertInfo {
  const info = parseCertificate(pem);
  if (!info.ok) throw new Error(info.error);
  return info.value;
}
import { installScript } from '../../src/acme/install.js';
import { renewConfig, renewRegistry } from '../../src/acme/renew.js';
import { renewArgv, renewUnits, systemdWord } from '../../src/acme/timer.js';
import { packageRoot } from '../../src/paths.js';
import { LETS_ENCRYPT, type HostConfig } from '../../src/config.js';
import type { Recipe } from '../../src/engine/recipe.js';
import { tempDir } from '../support/temp.js';
import { domainNames } from '../../src/validate/domain.js';
import { NO_NGINX, pathWithNginx, pathWithoutNginx } from '../support/nginx.js';
import { PRELUDE } from '../../src/resources/prelude.js';

const dir = tempDir('panel-acme-');

/** A self-signed certificate made with the openssl CLI (what a CA would hand out, shape-wise). */
export function makeCert(names: string[], days: number, extra: string[] = []): { pem: string; key: string } {
  const key = join(dir, `k${Math.random().toString(36).slice(2)}.pem`);
  const crt = key.replace('.pem', '.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt,
    '-days', String(days), '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`, ...extra,
  ], { stdio: 'ignore' });
  return { pem: readFileSync(crt, 'utf8'), key };
}

const DIR = 'https://ca.test/dir';

test('parseCertificate reads names, serial, validity and OCSP', () => {
  const { pem } = makeCert(['a.test', 'B.test'], 90, ['-addext', 'authorityInfoAccess=OCSP;URI:http://ocsp.test']);
  const info = readable(pem);
  assert.deepEqual(info.names, ['a.test', 'b.test']);
  assert.match(info.serial, /^[0-9a-f]+$/);
  assert.equal(info.ocsp, true);
  const days = (info.notAfter.getTime() - info.notBefore.getTime()) / 86400e3;
  assert.equal(Math.round(days), 90);
  assert.equal(readable(makeCert(['a.test'], 1).pem).ocsp, false);
  const garbage = parseCertificate('garbage');
  assert.match(garbage.ok ? '' : garbage.error, /no PEM/);
});

test('renewal is due at a third of the lifetime left, or half under 10 days: 90, 64 and 45 days, 160 hours, 6 days', () => {
  const nb = new Date('2025-01-01T00:00:00Z');
  for (const [days, left] of [[90, 1 / 3], [64, 1 / 3], [45, 1 / 3], [10, 1 / 3], [160 / 24, 1 / 2], [6, 1 / 2], [1 / 24, 1 / 2]] as const) {
    const na = new Date(nb.getTime() + days * 86400e3);
    assert.equal(renewalTime({ notBefore: nb, notAfter: na }).getTime(), na.getTime() - days * 86400e3 * left, `${days} days`);
  }
});

test('orderReason: every reason to order, and none for a healthy certificate', () => {
  const nb = new Date('2025-01-01T00:00:00Z');
  const na = new Date('2025-03-31T00:00:00Z'); // 89 days
  const cert: CertInfo = { serial: '01', names: ['a.test', 'b.test'], notBefore: nb, notAfter: na, issuer: 'x', ocsp: false };
  const want = { names: ['b.test', 'a.test'], directory: DIR };
  const have = { cert: ok(cert), keyPresent: true, directory: DIR };
  const early = new Date('2025-02-01T00:00:00Z');
  assert.equal(orderReason(have, want, early), undefined);
  assert.equal(orderReason({ ...have, cert: undefined }, want, early), 'absent');
  assert.match(orderReason({ ...have, cert: err('bad') }, want, early)!, /unreadable/);
  assert.match(orderReason({ ...have, keyPresent: false }, want, early)!, /key missing/);
  assert.match(orderReason(have, { ...want, names: ['a.test'] }, early)!, /names differ/);
  assert.match(orderReason(have, { ...want, directory: LETS_ENCRYPT }, early)!, /issued by https:\/\/ca.test/);
  assert.match(orderReason({ ...have, directory: undefined }, want, early)!, /unknown CA/);
  const due = renewalTime(cert);
  assert.equal(orderReason(have, want, new Date(due.getTime() - 1000)), undefined);
  assert.match(orderReason(have, want, due)!, /third of its lifetime/);
  assert.match(orderReason(have, want, new Date(na.getTime() + 1))!, /expired/);
});

function resourceFor(now: Date) {
  return new CertificateResource({
    names: ['a.test', 'b.test'],
    acme: { directory: DIR },
    email: 'ops@a.test',
    now: () => now,
  });
}

function facts(pem: string | undefined, key = true, directory: string | undefined = DIR, ufw: readonly string[] = ['installed=0', 'enabled=0']): string {
  return [
    ...(pem ? [`cert=${Buffer.from(pem).toString('base64')}`] : []),
    `key=${key ? 1 : 0}`,
    ...(directory ? [`directory=${Buffer.from(directory + '\n').toString('base64')}`] : []),
    ...ufw,
  ].join('\n') + '\n';
}

test('certificate plan: first run is one change that writes (and records) the certificate files (the site switch is the site\'s follow-up)', () => {
  const r = resourceFor(new Date());
  assert.equal(r.key, 'certificate:a.test');
  assert.match(String(r.facts()), /\/etc\/panel\/certs\/a\.test\/fullchain\.pem/);
  const changes = r.plan(r.parse({ stdout: facts(undefined, false, undefined), code: 0 }), { planned: [] });
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.action, 'create');
  assert.match(changes[0]!.reason, /^absent; order from https:\/\/ca\.test\/dir/);
  assert.equal(typeof changes[0]!.local, 'function');
  assert.deepEqual(changes[0]!.records, [
    { kind: 'directory', path: '/etc/panel', existed: false },
    { kind: 'directory', path: '/etc/panel/certs', existed: false },
    { kind: 'directory', path: '/etc/panel/certs/a.test', existed: false },
    { kind: 'file', path: '/etc/panel/certs/a.test/privkey.pem', existed: false },
    { kind: 'file', path: '/etc/panel/certs/a.test/fullchain.pem', existed: false },
    // (undefined takes facts()'s default: the CA record is there, the certificate is not)
    { kind: 'file', path: '/etc/panel/certs/a.test/directory', existed: true },
  ]);
});

test('certificate plan: a valid certificate means no change and no CA contact', () => {
  const { pem } = makeCert(['a.test', 'b.test'], 90);
  const r = resourceFor(new Date());
  assert.deepEqual(r.plan(r.parse({ stdout: facts(pem), code: 0 }), { planned: [] }), []);
});

test('certificate plan: renewal keeps the https site as it is (one change)', () => {
  const { pem } = makeCert(['a.test', 'b.test'], 3);
  const r = resourceFor(new Date(Date.now() + 2.5 * 86400e3));
  const changes = r.plan(r.parse({ stdout: facts(pem), code: 0 }), { planned: [] });
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.action, 'update');
  assert.match(changes[0]!.reason, /less than half of its lifetime left/); // 3 days: under 10
});

test('certificate plan: names added, or another CA, order again', () => {
  const { pem } = makeCert(['a.test'], 90);
  const r = resourceFor(new Date());
  assert.match(r.plan(r.parse({ stdout: facts(pem), code: 0 }), { planned: [] })[0]!.reason, /names differ/);
  const { pem: both } = makeCert(['a.test', 'b.test'], 90);
  assert.match(r.plan(r.parse({ stdout: facts(both, true, LETS_ENCRYPT), code: 0 }), { planned: [] })[0]!.reason, /issued by/);
});

test('account key: created once, 0600, then reused', async () => {
  const file = join(dir, 'cfg', 'panel', 'acme', 'ca.test', 'account.pem');
  const a = await loadOrCreateAccountKey(file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'cfg', 'panel', 'acme', 'ca.test')).mode & 0o777, 0o700);
  const b = await loadOrCreateAccountKey(file);
  assert.deepEqual(a, b);
  assert.equal(defaultAccountKeyFile('https://localhost:14000/dir', { XDG_CONFIG_HOME: '/x' }), '/x/panel/acme/localhost_14000/account.pem');
  assert.equal(defaultAccountKeyFile(LETS_ENCRYPT, { XDG_CONFIG_HOME: '/x' }), '/x/panel/acme/acme-v02.api.letsencrypt.org/account.pem');
});

/** The install script as the engine runs it: the prelude, apply mode, `set -euo pipefail`. */
function runInstall(certs: string, issued: { certPem: string; keyPem: Buffer }, env: NodeJS.ProcessEnv): { code: number; stderr: string } {
  const input = `export PANEL_MODE=apply PANEL_STATE=${join(dir, 'state')}\n${PRELUDE}\n(\nset -euo pipefail\n${installScript(certs, issued, DIR).text}\n)\n`;
  try {
    execFileSync('bash', ['-s'], { input, env, stdio: ['pipe', 'pipe', 'pipe'] });
    return { code: 0, stderr: '' };
  } catch (e) {
    const x = e as { status: number; stderr: Buffer };
    return { code: x.status, stderr: x.stderr.toString() };
  }
}

test('install script: nginx -t sees the new key and chain before either is live; refused, nothing is replaced', { skip: NO_NGINX }, () => {
  const root = mkdtempSync(join(dir, 'nginx-'));
  const certs = join(root, 'certs', 'a.test');
  mkdirSync(certs, { recursive: true });
  const conf = join(root, 'nginx.conf');
  const site = join(root, 'site.conf');
  writeFileSync(conf, `pid ${root}/nginx.pid;\nerror_log ${root}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${site};\n}\n`);
  writeFileSync(site, `server {\n  listen 127.0.0.1:8443 ssl;\n  ssl_certificate ${certs}/fullchain.pem;\n  ssl_certificate_key ${certs}/privkey.pem;\n}\n`);
  const env = { ...process.env, PATH: pathWithNginx(), PANEL_NGINX_CONF: conf };
  const pair = (name: string) => {
    const c = makeCert([name], 30);
    return { certPem: c.pem, keyPem: readFileSync(c.key) };
  };
  const first = pair('a.test');
  assert.equal(runInstall(certs, first, env).code, 0);
  assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), first.certPem);

  // A chain whose key is not the one sent: nginx -t refuses the pair as it would be.
  const second = pair('a.test');
  const r = runInstall(certs, { certPem: second.certPem, keyPem: pair('other.test').keyPem }, env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /nginx -t rejected the new certificate in \S+; the previous certificate stays live/);
  assert.match(r.stderr, /validation failed for .*privkey\.pem .*fullchain\.pem .*directory; the live files are unchanged/);
  assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), first.certPem, 'the live chain was never replaced');
  assert.deepEqual(readFileSync(join(certs, 'privkey.pem')), first.keyPem, 'the live key was never replaced');
  assert.deepEqual(readdirSync(certs).sort(), ['directory', 'fullchain.pem', 'privkey.pem'], 'no temp file left');
  assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('.')), [], 'no validation config left');

  // A matching pair goes live.
  assert.equal(runInstall(certs, second, env).code, 0);
  assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), second.certPem);
});

const config: HostConfig = {
  name: 'local',
  connection: { kind: 'local' },
  groups: [],
  recipes: ['certificate'],
  params: {},
  domains: domainNames('a.test', 'b.test'),
  email: 'ops@a.test',
  acme: { directory: 'https://ca.test/dir', caFile: '/etc/pebble ca.pem' },
  progressDir: '/var/lib/panel',
};

test('renew timer: runs `panel renew` with the same names, contact and CA', () => {
  const argv = renewArgv(config, ['/usr/bin/node', '/opt/panel/bin/panel.js']);
  assert.deepEqual(argv, ['/usr/bin/node', '/opt/panel/bin/panel.js', 'renew', '-d', 'a.test', '-d', 'b.test', '-m', 'ops@a.test', '--acme-directory', 'https://ca.test/dir', '--acme-ca', '/etc/pebble ca.pem', '--progress-dir', '/var/lib/panel']);
  const units = renewUnits(config, argv);
  assert.match(units.service, /^ExecStart="\/usr\/bin\/node" .* "--acme-ca" "\/etc\/pebble ca\.pem"/m);
  assert.match(units.timer, /RandomizedDelaySec=/);
  assert.match(units.timer, /OnCalendar=\*-\*-\* 00,12:00:00/);
  assert.equal(systemdWord('50%$x"\\'), '"50%%$$x\\"\\\\"');
  // Installed as the single executable (install.sh): the timer runs that file, with no node.
  assert.match(renewUnits(config, renewArgv(config, ['/usr/local/bin/panel'])).service, /^ExecStart="\/usr\/local\/bin\/panel" "renew" "-d" "a\.test"/m);
  // From a checkout or the npm package: this node with this checkout's bin/panel.js.
  assert.deepEqual(renewArgv(config).slice(0, 3), [process.execPath, join(packageRoot, 'bin', 'panel.js'), 'renew']);
});

test('renew: only the certificate recipe, no dependencies, renewOnly set', () => {
  const cert = { id: 'certificate', after: ['nginx'] } as unknown as Recipe;
  const reg = renewRegistry(new Map([['certificate', cert], ['nginx', { id: 'nginx', after: [] } as unknown as Recipe]]));
  assert.deepEqual([...reg.keys()], ['certificate']);
  assert.deepEqual(reg.get('certificate')!.after, []);
  const c = renewConfig({ ...config, recipes: ['base', 'nginx', 'certificate'] });
  assert.deepEqual(c.recipes, ['certificate']);
  assert.deepEqual(c.params['certificate'], { renewOnly: true });
});

test('certificate change: an unreachable CA fails locally, before any host step, naming the CA', async () => {
  const r = new CertificateResource({ names: ['a.test'], acme: { directory: 'http://127.0.0.1:9/dir', accountKeyFile: join(dir, 'unused-account.pem') }, now: () => new Date() });
  const [change] = r.plan(r.parse({ stdout: facts(undefined, false, undefined), code: 0 }), { planned: [] });
  const steps: string[] = [];
  await assert.rejects(
    change!.local!({ run: async (s) => void steps.push(s.text) }),
    /ACME directory http:\/\/127\.0\.0\.1:9\/dir unreachable/,
  );
  assert.deepEqual(steps, [], 'nothing was published, nothing to withdraw');
  assert.equal(existsSync(join(dir, 'unused-account.pem')), false);
});

test('install script: writes key (0600), chain and CA record in place, nothing left over', () => {
  const certs = join(dir, 'install', 'a.test');
  const issued = { certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', keyPem: Buffer.from('-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n') };
  // Without nginx on PATH: an nginx on this machine must be neither tested nor reloaded.
  const env = { ...process.env, PATH: pathWithoutNginx() };
  const run = () => assert.equal(runInstall(certs, issued, env).code, 0);
  run();
  assert.equal(readFileSync(join(certs, 'privkey.pem'), 'utf8'), issued.keyPem.toString());
  assert.equal(statSync(join(certs, 'privkey.pem')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(certs, 'fullchain.pem'), 'utf8'), issued.certPem);
  assert.equal(readFileSync(join(certs, 'directory'), 'utf8'), `${DIR}\n`);
  run(); // replacing an installed certificate works the same way
  assert.deepEqual(readdirSync(certs).sort(), ['directory', 'fullchain.pem', 'privkey.pem']);
});

test('45-day, 64-day and short (7-day, as 160-hour) certificates (real X.509): plan/check and the status page turn due at the same moment', async () => {
  const { statusData, renderStatusPage } = await import('../../src/status/page.js');
  const config = { name: 'web', connection: { kind: 'local' as const }, groups: [], recipes: [], params: {}, domains: domainNames('a.test', 'b.test'), acme: { directory: DIR }, progressDir: '/var/lib/panel' };
  const result = { host: 'web', status: 'changed' as const, ok: 0, changed: 0, failed: 1, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 };
  for (const [days, leftWords] of [[45, 'a third'], [64, 'a third'], [7, 'half']] as const) {
    const { pem } = makeCert(['a.test', 'b.test'], days);
    const info = readable(pem);
    const due = renewalTime(info);
    const lifetime = info.notAfter.getTime() - info.notBefore.getTime();
    assert.equal(info.notAfter.getTime() - due.getTime(), lifetime * (leftWords === 'half' ? 1 / 2 : 1 / 3));
    for (const [now, isDue] of [[new Date(due.getTime() - 60_000), false], [due, true]] as const) {
      const r = resourceFor(now);
      const changes = r.plan(r.parse({ stdout: facts(pem), code: 0 }), { planned: [] });
      assert.equal(changes.length, isDue ? 1 : 0, `${days} days at ${now.toISOString()}`);
      if (isDue) assert.match(changes[0]!.reason, new RegExp(`less than ${leftWords} of its lifetime left`));
      const page = renderStatusPage(statusData({ config, recipes: [] } as never, result, [], pem, now));
      assert.equal(page.includes('id="cert-overdue"'), isDue, `${days} days: status page`);
      if (isDue) assert.ok(page.includes(`Not renewed: it has less than ${leftWords} of its lifetime left. Is`), page);
    }
  }
});

test('pre-flight: where ufw drops port 80 no order is made (one line: cause and fix); --open-firewall adds the rule first, shown in the plan', async () => {
  const dropping = ['installed=1', 'enabled=1', 'policy=DROP', 'tuple=allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in'];
  const r = resourceFor(new Date());
  const [c, ...rest] = r.plan(r.parse({ stdout: facts(undefined, false, undefined, dropping), code: 0 }), { planned: [] });
  assert.equal(rest.length, 0);
  assert.match(c!.reason, /; no order: ufw on the host drops incoming 80\/tcp, so the CA cannot reach the challenge; fix: add --open-firewall \(panel runs `ufw allow 80,443\/tcp`\) or run `ufw allow 80,443\/tcp` on the host$/);
  await assert.rejects(c!.local!({ run: () => Promise.reject(new Error('no host step expected')) } as never), /^Error: ACME: not ordering a\.test, b\.test: ufw on the host drops incoming 80\/tcp/);
  const open = new CertificateResource({ names: ['a.test', 'b.test'], acme: { directory: DIR }, now: () => new Date(), openFirewall: true });
  const planned = open.plan(open.parse({ stdout: facts(undefined, false, undefined, dropping), code: 0 }), { planned: [] });
  assert.deepEqual(planned.map((p) => p.target), ['ufw allow 80,443/tcp', 'certificate a.test, b.test in /etc/panel/certs/a.test']);
  assert.match(String(planned[0]!.script), /ufw allow 80,443\/tcp/);
  assert.doesNotMatch(planned[1]!.reason, /no order/);
  // ufw that lets 80 in: nothing added, whatever the flag.
  const allowing = [...dropping, 'tuple=allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in'];
  assert.equal(open.plan(open.parse({ stdout: facts(undefined, false, undefined, allowing), code: 0 }), { planned: [] }).length, 1);
});
