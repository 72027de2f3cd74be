/**
 * The nginx site: rendering for every combination (IPv6 or not, HTTP-only or
 * HTTPS), each checked by the local nginx (`nginx -t` on a scratch config), and
 * the site resource run for real with bash: facts → plan → apply, including a
 * broken template rolled back by `nginx -t`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import certificateRecipe from '../../../recipes/certificate.js';
import nginxRecipe from '../../../recipes/nginx.js';
import { INSECURE_HTTP_WARNING, type SiteSpec, SiteResource, nginxParams, renderSite, resolveRoutes, siteSpec, tlsState, usesHttp2Directive } from '../../../src/nginx/site.js';
import type { HostConfig } from '../../../src/config.js';
import type { Change, FileCandidate } from '../../../src/resources/types.js';
import { candidateTestScript } from '../../../src/acme/before-order.js';
import { placeholderCertificate } from '../../../src/acme/placeholder.js';
import type { HostInfo } from '../../../src/host-info.js';
import { PRELUDE } from '../../../src/resources/prelude.js';
import { lines, type Script, sh } from '../../../src/shell.js';
import { templatesDir } from '../../../src/paths.js';
import { tempDir } from '../../support/temp.js';
import { domainNames, type DomainName } from '../../../src/validate/domain.js';
import { NGINX, NO_NGINX, pathWithNginx } from '../../support/nginx.js';

/** A name that skipped the schema, to show the recipe's own check still refuses it. */
const unchecked = (name: string): DomainName[] => [name as DomainName];

const tmp = tempDir('panel-nginx-');

function makeCert(dir: string, names: string[], ocsp = false): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem'),
    '-days', '30', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
    ...(ocsp ? ['-addext', 'authorityInfoAccess=OCSP;URI:http://ocsp.test'] : []),
  ], { stdio: 'ignore' });
}

const certDir = join(tmp, 'certs', 'a.test');
makeCert(certDir, ['a.test', 'b.test']);
const ocspDir = join(tmp, 'certs-ocsp', 'a.test');
makeCert(ocspDir, ['a.test', 'b.test'], true);

const config: HostConfig = {
  name: 'h1',
  connection: { kind: 'ssh', address: '10.0.0.2', port: 22, user: 'root' },
  groups: [],
  recipes: ['nginx', 'certificate'],
  params: {},
  domains: domainNames('a.test', 'B.test'),
  email: 'ops@a.test',
  acme: { directory: 'https://ca.test/dir' },
  progressDir: '/var/lib/panel',
};

function spec(ipv6: boolean, over: Partial<SiteSpec> = {}): SiteSpec {
  return { ...siteSpec(config, { ipv6 }, {}), certDir, ...over };
}

/** nginx -t on a scratch main config that includes only `site`. */
function nginxTest(site: string): { ok: boolean; out: string } {
  const prefix = mkdtempSync(join(tmp, 'prefix-'));
  const siteFile = join(prefix, 'panel.conf');
  writeFileSync(siteFile, site);
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, `pid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${siteFile};\n}\n`);
  const r = spawnSync(NGINX, ['-t', '-q', '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], { encoding: 'utf8' });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const tls = { http2Directive: false, stapling: false };

/** The `location PATH { … }` block of a rendering (up to its first closing brace). */
const locationOf = (site: string, path: string): string => new RegExp(`location ${path.replace(/[/.]/g, '\\$&')} \\{[^}]*\\}`).exec(site)?.[0] ?? '';

test('no certificate yet: port 80 serves the challenges and a 503 page, nothing else (no route, no login)', () => {
  const withStatus = { ...config, recipes: ['nginx', 'certificate', 'status', 'code-server'] };
  const s = renderSite({ ...siteSpec(withStatus, { ipv6: true }, {}), certDir }, undefined);
  assert.match(s, /^\s+listen 80;$/m);
  assert.match(s, /^\s+listen \[::\]:80;$/m);
  assert.doesNotMatch(s, /443/);
  assert.match(s, /server_name a\.test b\.test;/);
  assert.match(s, /location \^~ \/\.well-known\/acme-challenge\/ \{\n\s+root \/var\/www\/panel-acme;/);
  assert.match(locationOf(s, '/'), /return 503 "Certificate pending: /);
  // Exactly two locations: the challenges and the page.
  assert.equal(s.match(/^\s+location /gm)?.length, 2, s);
  assert.doesNotMatch(s, /proxy_pass|auth_basic|return 301/);
  // Without a name there is no certificate to wait for: the page says how to get one.
  assert.match(renderSite(siteSpec({ ...config, domains: [] }, { ipv6: false }, {}), undefined), /return 503 "No domain name: .* -d DOMAIN/);
});

test('nginx.insecureHttp: routes without login over plain HTTP; /panel/, the UI, /system/, /faasd/ and the IDE refused; warned on every plan', () => {
  const withStatus = { ...config, recipes: ['nginx', 'certificate', 'status', 'code-server'] };
  const sp = { ...siteSpec(withStatus, { ipv6: false }, { insecureHttp: true }), certDir };
  const s = renderSite(sp, undefined);
  assert.match(locationOf(s, '/'), /proxy_pass http:\/\/127\.0\.0\.1:8080\/function\/;/);
  assert.match(locationOf(s, '/function/'), /proxy_pass http:\/\/127\.0\.0\.1:8080\/function\/;/);
  for (const p of ['/ui/', '/system/', '/faasd/', '/codeserver/', '/panel/']) {
    assert.match(locationOf(s, p), /return 403 "HTTPS only/, p);
  }
  assert.doesNotMatch(s, /auth_basic|8080\/ui\/|8080\/system\/|127\.0\.0\.1:5000|return 503/);
  const warnings: string[] = [];
  const [c] = new SiteResource(sp).plan({ file: { exists: false } }, { planned: [], warn: (m) => warnings.push(m) });
  assert.match(c!.reason, /INSECURE: plain http/);
  assert.deepEqual(warnings, [INSECURE_HTTP_WARNING]);
  // With a certificate the flag changes nothing: https, no warning.
  const pem = readFileSync(join(certDir, 'fullchain.pem'), 'utf8');
  const quiet: string[] = [];
  new SiteResource(sp).plan({ file: { exists: false }, certPem: pem }, { planned: [], warn: (m) => quiet.push(m) });
  assert.deepEqual(quiet, []);
  assert.equal(renderSite(sp, tls), renderSite({ ...sp, insecureHttp: false }, tls));
});

test('HTTPS site: port 80 redirects (except challenges), 443 ssl http2, TLS 1.2/1.3 only', () => {
  const s = renderSite(spec(true), tls);
  const [http, https] = s.split(/\n(?=server \{)/).slice(1);
  assert.match(http!, /acme-challenge/);
  assert.match(http!, /return 301 https:\/\/\$host\$request_uri;/);
  assert.doesNotMatch(http!, /proxy_pass/);
  assert.match(https!, /listen 443 ssl http2;/);
  assert.match(https!, /listen \[::\]:443 ssl http2;/);
  assert.match(https!, /ssl_protocols TLSv1\.2 TLSv1\.3;/);
  assert.doesNotMatch(s, /TLSv1(\.1)? /);
  assert.match(https!, new RegExp(`ssl_certificate_key ${certDir}/privkey.pem;`));
  assert.match(https!, /proxy_pass http:\/\/127\.0\.0\.1:8080\/function\/;/);
  // The OpenFaaS UI where the gateway serves it, its API as it is, panel.sh's /faasd/ a redirect to it.
  assert.match(locationOf(https!, '/ui/'), /proxy_pass http:\/\/127\.0\.0\.1:8080\/ui\/;/);
  assert.match(locationOf(https!, '/system/'), /proxy_pass http:\/\/127\.0\.0\.1:8080\/system\/;/);
  assert.match(locationOf(https!, '/function/'), /proxy_pass http:\/\/127\.0\.0\.1:8080\/function\/;/);
  assert.match(locationOf(https!, '/faasd/'), /return 301 \/ui\/;/);
  assert.doesNotMatch(https!, /return 403/);
  assert.doesNotMatch(https!, /ssl_stapling/);
  assert.match(renderSite(spec(true), { ...tls, stapling: true }), /ssl_stapling on;/);
});

const statusPage = { path: '/panel/', dir: '/var/lib/panel/www', htpasswd: '/etc/panel/htpasswd', progressFile: '/var/lib/panel/progress.json' };

/** Each `location … { … }` block's text, by its prefix. */
function locations(server: string): Map<string, string> {
  return new Map([...server.matchAll(/location (\S+(?: \S+)?) \{([^}]*)\}/g)].map((m) => [m[1]!, m[2]!]));
}

test('Mozilla intermediate: HSTS two years on https, no nginx version, nosniff and referrer policy, also where a location adds headers of its own', () => {
  const s = renderSite(spec(true, { statusPage }), tls);
  const [http, https] = s.split(/\n(?=server \{)/).slice(1);
  for (const server of [http!, https!]) assert.match(server, /^\s+server_tokens off;$/m);
  const hsts = /add_header Strict-Transport-Security "max-age=63072000" always;/;
  assert.match(https!, hsts);
  assert.doesNotMatch(http!, /Strict-Transport-Security/, 'HSTS is meaningless (and ignored) over http');
  // nginx drops server-level add_header in a location that has its own: each such location repeats them.
  const own = [...locations(https!)].filter(([, body]) => body.includes('add_header'));
  assert.deepEqual(own.map(([p]) => p), ['/panel/', '= /panel/progress.json']);
  for (const [path, body] of own) {
    assert.match(body, hsts, path);
    assert.match(body, /add_header X-Content-Type-Options nosniff always;/, path);
    assert.match(body, /add_header Referrer-Policy strict-origin-when-cross-origin always;/, path);
  }
  assert.doesNotMatch(s, /add_header (Content-Security-Policy|X-Frame-Options)/, 'would break the faasd UI or code-server');
  // nginx.hsts=false: no HSTS anywhere, the other headers stay.
  const off = renderSite({ ...spec(true, { statusPage }), ...siteSpecHsts(false) }, tls);
  assert.doesNotMatch(off, /Strict-Transport-Security/);
  assert.match(off, /X-Content-Type-Options nosniff/);
  assert.equal(nginxParams.parse({}).hsts, true);
  assert.equal(nginxParams.safeParse({ hsts: 'yes' }).success, false);
  // HTTP-only (no certificate yet): no HSTS, version still hidden.
  const plain = renderSite(spec(true, { statusPage }), undefined);
  assert.doesNotMatch(plain, /Strict-Transport-Security/);
  assert.match(plain, /server_tokens off;/);
});

function siteSpecHsts(hsts: boolean): Pick<SiteSpec, 'hsts'> {
  return { hsts: siteSpec(config, { ipv6: true }, { hsts }).hsts };
}

test('no IPv6 on the host: no [::] listener anywhere', () => {
  for (const t of [undefined, tls, { http2Directive: true, stapling: true }]) {
    const s = renderSite(spec(false), t);
    assert.doesNotMatch(s, /\[::\]/);
  }
});

test('nginx ≥ 1.25.1 gets `http2 on;` instead of the deprecated listen parameter', () => {
  assert.equal(usesHttp2Directive('1.22.1'), false);
  assert.equal(usesHttp2Directive('1.25.0'), false);
  assert.equal(usesHttp2Directive('1.25.1'), true);
  assert.equal(usesHttp2Directive('1.26.3'), true);
  assert.equal(usesHttp2Directive(undefined), false);
  const s = renderSite(spec(true), { http2Directive: true, stapling: false });
  assert.match(s, /listen 443 ssl;\n\s+listen \[::\]:443 ssl;\n\s+http2 on;/);
});

test('a fresh host that cannot tell its nginx version is rendered for its release\'s nginx, so the second run changes nothing', () => {
  const pem = readFileSync(join(certDir, 'fullchain.pem'), 'utf8');
  const rendered = (osId: string, osVersion: string, nginxVersion?: string): string => {
    const r = new SiteResource({ ...siteSpec(config, { ipv6: false, osId, osVersion }, {}), certDir });
    const [c] = r.plan({ file: { exists: false }, certPem: pem, ...(nginxVersion ? { nginxVersion } : {}) }, { planned: [] });
    return c?.diff ?? '';
  };
  // Debian 13 ships nginx 1.26: `http2 on;` whether or not apt's lists were there to say so.
  assert.match(rendered('debian', '13'), /^\+\s+http2 on;$/m);
  assert.equal(rendered('debian', '13'), rendered('debian', '13', '1.26.3'));
  // Debian 12 ships 1.22: the listen parameter.
  assert.doesNotMatch(rendered('debian', '12'), /http2 on;/);
  // What the host says wins over the release's default.
  assert.doesNotMatch(rendered('debian', '13', '1.22.1'), /http2 on;/);
});

test('tlsState: only with a readable certificate; OCSP stapling only when it names a responder', () => {
  const pem = readFileSync(join(certDir, 'fullchain.pem'), 'utf8');
  assert.equal(tlsState(spec(true), undefined, '1.22.1'), undefined);
  assert.equal(tlsState(spec(true), 'junk', '1.22.1'), undefined);
  assert.deepEqual(tlsState(spec(true), pem, '1.22.1'), { http2Directive: false, stapling: false });
  assert.deepEqual(tlsState(spec(true), readFileSync(join(ocspDir, 'fullchain.pem'), 'utf8'), '1.26.0'), { http2Directive: true, stapling: true });
});

test('no domains: a site for any host name', () => {
  const s = renderSite(siteSpec({ ...config, domains: [] }, { ipv6: false }, {}), undefined);
  assert.match(s, /server_name _;/);
});

test('routes: defaults, extras by port, validated against injection', () => {
  const p = nginxParams.parse({ extraRoutes: [{ path: '/codeserver/', port: 5000 }] });
  assert.deepEqual(resolveRoutes(p).map((r) => `${r.exact ? '= ' : ''}${r.path} ${r.upstream ?? `→ ${r.redirect}`}${r.login ? ' login' : ''}`), [
    '= /healthz http://127.0.0.1:8080/healthz',
    '/ http://127.0.0.1:8080/function/',
    '/function/ http://127.0.0.1:8080/function/',
    '/ui/ http://127.0.0.1:8080/ui/ login',
    '/system/ http://127.0.0.1:8080/system/ login',
    '/faasd/ → /ui/ login',
    '/codeserver/ http://127.0.0.1:5000/',
  ]);
  for (const bad of [
    { path: '/x/', upstream: 'http://a;b/' },
    { path: '/x/ { return 200; }', port: 1 },
    { path: 'x/', port: 1 },
    { path: '/x', port: 1 },
    { path: '/x/', upstream: 'http://a/ b' },
    { path: '/x/' },
    { path: '/x/', port: 1, upstream: 'http://a/' },
    { path: '/x/', port: 70000 },
    { path: '/x/', redirect: '/y/', port: 1 },
    { path: '/x/', redirect: 'https://evil/;' },
  ]) {
    assert.equal(nginxParams.safeParse({ extraRoutes: [bad] }).success, false, JSON.stringify(bad));
  }
  assert.throws(() => resolveRoutes(nginxParams.parse({ extraRoutes: [{ path: '/faasd/', port: 1 }] })), /twice/);
  // A path without the trailing slash is a prefix only when exact says so; the error names the field.
  const noSlash = nginxParams.safeParse({ extraRoutes: [{ path: '/status', port: 1 }] });
  assert.equal(noSlash.success, false);
  assert.deepEqual(noSlash.error?.issues.map((i) => [i.path.join('.'), /exact: true/.test(i.message)]), [['extraRoutes.0.path', true]]);
  assert.equal(nginxParams.safeParse({ extraRoutes: [{ path: '/status', exact: true, port: 1 }] }).success, true);
  assert.equal(nginxParams.safeParse({ extraRoutes: [{ path: '/a b', exact: true, port: 1 }] }).success, false);
});

test("the gateway's /healthz is routed as that one path, unauthenticated over HTTPS; other paths under it stay functions", () => {
  const s = renderSite(spec(true), tls);
  const https = s.split(/\n(?=server \{)/)[2]!;
  assert.match(https, /location = \/healthz \{[^}]*proxy_pass http:\/\/127\.0\.0\.1:8080\/healthz;/);
  assert.doesNotMatch(/location = \/healthz \{[^}]*\}/.exec(https)![0], /auth_basic|return 403/);
  assert.doesNotMatch(https, /location \/healthz/);
});

test('nginx -t accepts every rendering', { skip: NO_NGINX }, () => {
  const full = { ...config, recipes: ['nginx', 'certificate', 'status', 'code-server'] };
  for (const ipv6 of [true, false]) {
    for (const insecureHttp of [false, true]) {
      for (const hsts of [true, false]) {
        for (const t of [undefined, tls, { ...tls, stapling: true }]) {
          const r = nginxTest(renderSite({ ...siteSpec(full, { ipv6 }, { insecureHttp, hsts }), certDir: t?.stapling ? ocspDir : certDir }, t));
          assert.ok(r.ok, `ipv6=${ipv6} insecureHttp=${insecureHttp} hsts=${hsts} tls=${JSON.stringify(t)}: ${r.out}`);
        }
      }
    }
  }
});

/** Run a script with bash the way the engine does (prelude, mode). */
function bash(mode: 'facts' | 'apply', body: Script): { code: number; stdout: string; stderr: string } {
  const script = `export PANEL_MODE=${mode} PANEL_STATE=${join(tmp, 'state')}\n${PRELUDE}\n${mode === 'apply' ? `(\nset -euo pipefail\n${body}\n)` : body}\n`;
  // The prelude's panel_nginx_test calls `nginx` by name: the same binary as nginxTest.
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, PATH: pathWithNginx() } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The certificate's pre-order step with the site's candidate (before any certificate exists):
 * nginx -t passes with the placeholder in the live files' place; a candidate nginx refuses
 * fails in one line (nginx's complaint, the site's path, the fix); no temporary file stays.
 */
async function candidateRehearsal(root: string, conf: string, certs: string, candidate: FileCandidate): Promise<void> {
  const tmpdir = mkdtempSync(join(root, 'tmp-'));
  const placeholder = await placeholderCertificate(['a.test', 'b.test']);
  const run = (c: FileCandidate) => bash('apply', lines(sh`export PANEL_NGINX_CONF=${conf} TMPDIR=${tmpdir}`, candidateTestScript(c, certs, placeholder)));
  assert.equal(existsSync(`${certs}/fullchain.pem`), false, 'no certificate yet: the placeholder stands in');
  const good = run(candidate);
  assert.equal(good.code, 0, good.stderr);
  const broken = { ...candidate, content: candidate.content.replace(/^(\s*)(ssl_certificate_key .*)$/m, '$1$2\n$1ssl_panel_no_such_directive on;') };
  assert.notEqual(broken.content, candidate.content);
  const bad = run(broken);
  assert.equal(bad.code, 1);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
  assert.match(bad.stderr, new RegExp(`^panel: ACME: not ordering: nginx -t refuses the https site the new certificate would switch on \\(${candidate.path}, tested with a placeholder certificate\\).*unknown directive "ssl_panel_no_such_directive" in ${candidate.path}:\\d+; fix: `));
  assert.deepEqual(readdirSync(tmpdir), [], 'temporary files removed');
  assert.deepEqual(readdirSync(root).filter((f) => f.startsWith('.panel-validate')), [], 'no validation config left');
}

test('site resource on a real filesystem: http → https, idempotent, broken template rolled back', { skip: NO_NGINX }, () => {
  const root = mkdtempSync(join(tmp, 'root-'));
  const sitePath = join(root, 'panel.conf');
  const certs = join(root, 'certs', 'a.test');
  const conf = join(root, 'nginx.conf');
  writeFileSync(conf, `pid ${root}/nginx.pid;\nerror_log ${root}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${sitePath};\n}\n`);
  // The prelude's validator, pointed at the scratch main config.
  const validate = sh`PANEL_NGINX_CONF=${conf} panel_nginx_test "$1" "$2"`;
  const base = spec(false, { path: sitePath, certDir: certs, validate });

  const run = (s: SiteSpec) => {
    const r = new SiteResource(s);
    const f = bash('facts', r.facts());
    assert.equal(f.code, 0, f.stderr);
    return r.plan(r.parse({ stdout: f.stdout, code: f.code }), { planned: [] });
  };

  // 1. no certificate: the HTTP-only site is created
  let changes = run(base);
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.action, 'create');
  assert.match(changes[0]!.reason, /no certificate yet/);
  let a = bash('apply', changes[0]!.script!);
  assert.equal(a.code, 0, a.stderr);
  assert.doesNotMatch(readFileSync(sitePath, 'utf8'), /443/);
  assert.deepEqual(run(base), []);

  // 2. a certificate appears: the site becomes HTTPS (with a diff), then nothing to do
  makeCert(certs, ['a.test', 'b.test']);
  changes = run(base);
  assert.equal(changes.length, 1);
  assert.match(changes[0]!.reason, /content differs; https/);
  assert.match(changes[0]!.diff!, /^\+\s+listen 443 ssl http2;$/m);
  a = bash('apply', changes[0]!.script!);
  assert.equal(a.code, 0, a.stderr);
  const good = readFileSync(sitePath, 'utf8');
  assert.match(good, /listen 443 ssl http2;/);
  assert.deepEqual(run(base), []);

  // 3. a broken template: nginx -t rejects the candidate, the live file never changes, the error is shown
  const broken = mkdtempSync(join(tmp, 'tpl-'));
  copyFileSync(join(templatesDir, 'nginx-site.hbs'), join(broken, 'nginx-site.hbs'));
  writeFileSync(join(broken, 'nginx-site.hbs'), readFileSync(join(broken, 'nginx-site.hbs'), 'utf8').replace('ssl_session_tickets off;', 'ssl_session_tickets off;\n    no_such_directive on;'));
  changes = run({ ...base, templatesDir: broken });
  assert.equal(changes.length, 1);
  a = bash('apply', changes[0]!.script!);
  assert.notEqual(a.code, 0);
  assert.match(a.stderr, /unknown directive "no_such_directive"/);
  assert.match(a.stderr, /validation failed for .*panel\.conf; the live file is unchanged/);
  assert.equal(readFileSync(sitePath, 'utf8'), good);
  assert.deepEqual(readdirSync(root).filter((n) => n.startsWith('.panel-')), [], 'no temp file or temp main config left');
  assert.equal(existsSync(sitePath), true);
});

test('site follow-up: the switch to https is planned by the site, after the change that writes its certificate', { skip: NO_NGINX }, async () => {
  const root = mkdtempSync(join(tmp, 'root-'));
  const sitePath = join(root, 'panel.conf');
  const certs = join(root, 'certs', 'a.test');
  const conf = join(root, 'nginx.conf');
  writeFileSync(conf, `pid ${root}/nginx.pid;\nerror_log ${root}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${sitePath};\n}\n`);
  const base = spec(false, { path: sitePath, certDir: certs, validate: sh`PANEL_NGINX_CONF=${conf} panel_nginx_test "$1" "$2"` });
  const r = new SiteResource(base);
  const facts = () => {
    const f = bash('facts', r.facts());
    assert.equal(f.code, 0, f.stderr);
    return r.parse({ stdout: f.stdout, code: f.code });
  };
  const issue: Change = { resource: 'certificate:a.test', action: 'create', target: 'certificate a.test', reason: 'absent', records: [{ kind: 'file', path: `${certs}/fullchain.pem`, existed: false }], local: async () => undefined };
  const other: Change = { resource: 'certificate:x.test', action: 'create', target: 'certificate x.test', reason: 'absent', records: [{ kind: 'file', path: `${root}/certs/x.test/fullchain.pem`, existed: false }], local: async () => undefined };

  // Fresh host: the plan writes HTTP-only; the follow-up switches to https after the order.
  let f = facts();
  const first = r.plan(f, { planned: [] });
  assert.equal(first.length, 1);
  assert.match(first[0]!.reason, /no certificate yet/);
  assert.deepEqual(r.followUps(f, [other]), [], 'another certificate is not this site\'s');
  const ups = r.followUps(f, [other, issue]);
  assert.equal(ups.length, 1);
  assert.equal(ups[0]!.follows, issue);
  const up = ups[0]!.change;
  assert.equal(up.resource, 'file:/etc/nginx/conf.d/panel.conf');
  assert.equal(up.target, sitePath);
  assert.equal(up.action, 'update');
  assert.equal(up.reason, 'enable https with the new certificate');
  // The diff is against the HTTP-only file the first change writes.
  assert.match(up.diff!, /^\+\s+listen 443 ssl http2;$/m);
  assert.doesNotMatch(up.diff!, /^\+\s+location \^~ \/\.well-known/m);
  // The https text is offered to the certificate's order, which tests it before asking the CA.
  assert.equal(up.candidate?.path, sitePath);
  assert.match(up.candidate.content, new RegExp(`ssl_certificate +${certs}/fullchain\\.pem;`));
  assert.ok(up.script!.includes(Buffer.from(up.candidate.content).toString('base64').slice(0, 60)), 'the candidate is the text the follow-up writes');
  await candidateRehearsal(root, conf, certs, up.candidate);

  // Applied in order (site http → certificate files → follow-up), the next plan is empty.
  assert.equal(bash('apply', first[0]!.script!).code, 0);
  makeCert(certs, ['a.test', 'b.test']);
  const a = bash('apply', up.script!);
  assert.equal(a.code, 0, a.stderr);
  f = facts();
  assert.deepEqual(r.plan(f, { planned: [] }), []);
  assert.deepEqual(r.followUps(f, [issue]), [], 'a site already on https has nothing to follow (renewals)');
});

const debian: HostInfo = { osId: 'debian', osVersion: '12', osPretty: 'Debian 12', arch: 'amd64', rawArch: 'amd64', ipv6: false, systemd: true, hostname: 'h1', nameservers: [] };

test('nginx recipe: default site replaced before apt, site, service reloading on changes, ufw checked for 80 and 443', () => {
  const params = nginxParams.parse({});
  const rs = nginxRecipe.resources({ params, host: debian, config });
  assert.deepEqual(rs.map((r) => r.key), [
    'file:/etc/nginx/sites-enabled/default',
    'apt:nginx',
    'directory:/var/www/panel-acme',
    'directory:/var/www/panel-acme/.well-known',
    'directory:/var/www/panel-acme/.well-known/acme-challenge',
    'file:/etc/nginx/conf.d/panel.conf',
    'service:nginx',
    'ufw:expect open in 80,443/tcp',
  ]);
  assert.equal(nginxRecipe.precheck?.({ params, host: debian, config }), undefined);
  assert.match(nginxRecipe.precheck?.({ params, host: debian, config: { ...config, domains: unchecked('a.test;reboot') } }) ?? '', /character ";"/);
});

test('certificate recipe: inputs checked; timer units only on local installs', () => {
  const params = { renewOnly: false, timer: true, openFirewall: false };
  const ctx = { params, host: debian, config };
  assert.deepEqual(certificateRecipe.resources(ctx).map((r) => r.key), ['certificate:a.test']);
  const local = { ...ctx, config: { ...config, connection: { kind: 'local' as const } } };
  assert.deepEqual(certificateRecipe.resources(local).map((r) => r.key), ['certificate:a.test', 'unit:panel-renew.service', 'unit:panel-renew.timer', 'service:panel-renew.timer']);
  assert.deepEqual(certificateRecipe.resources({ ...local, params: { ...params, renewOnly: true } }).map((r) => r.key), ['certificate:a.test']);
  assert.equal(certificateRecipe.precheck?.(ctx), undefined);
  assert.match(certificateRecipe.precheck?.({ ...ctx, config: { ...config, domains: [] } }) ?? '', /no domain names/);
  assert.match(certificateRecipe.precheck?.({ ...ctx, config: { ...config, email: '$(id)@x.test' } }) ?? '', /before @/);
  assert.match(certificateRecipe.precheck?.({ ...ctx, config: { ...config, domains: unchecked('*.a.test') } }) ?? '', /wildcard/);
});
