/**
 * code-server and the status page, the parts that need no host: the argon2
 * config (hash verifies, kept while it verifies), the nginx locations they
 * add, the unit, the status page's HTML, and where the tarball's sum comes
 * from. The host side is test/integration/browser.test.ts.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../../support/temp.js';
import { verifyPassword as verifySync } from '../../../src/codeserver/argon2.js';
import codeServerRecipe from '../../../recipes/code-server.js';
import { renderSite, siteSpec } from '../../../src/nginx/site.js';
import { ArtifactSet, changedSumRefusal, locateArtifact, resolveArtifact, TrustedSums, type AssetFetch } from '../../../src/artifacts/index.js';
import { domainNames } from '../../../src/validate/domain.js';
import { desiredConfig, installedHash } from '../../../src/codeserver/config.js';
import type { HostConfig } from '../../../src/config.js';
import type { HostInfo } from '../../../src/host-info.js';
import { Secret } from '../../../src/secret.js';
import { esc, renderStatusPage } from '../../../src/status/page.js';

const password = new Secret('correct horse battery');
const spec = { path: '/var/lib/code-server/.config/code-server/config.yaml', port: 5000, password, owner: 'code-server' };

test('config.yaml: argon2 hashed-password that verifies, no plain password, bound to 127.0.0.1', () => {
  const c = desiredConfig(spec, undefined);
  assert.match(c, /^bind-addr: 127\.0\.0\.1:5000$/m);
  assert.match(c, /^auth: password$/m);
  assert.doesNotMatch(c, /^password:/m);
  assert.ok(!c.includes(password.reveal()));
  const hash = installedHash(c);
  assert.match(hash!, /^\$argon2id\$/);
  assert.ok(verifySync(hash!, password.reveal()));
});

test('config.yaml: the installed hash is kept while it verifies, replaced when the password changed', () => {
  const first = desiredConfig(spec, undefined);
  assert.equal(desiredConfig(spec, first), first, 'a second run changes nothing');
  const other = desiredConfig({ ...spec, password: new Secret('another password') }, first);
  assert.notEqual(installedHash(other), installedHash(first));
  assert.ok(verifySync(installedHash(other)!, 'another password'));
  assert.notEqual(desiredConfig({ ...spec, port: 5001 }, first), first);
});

const config: HostConfig = {
  name: 'h1',
  connection: { kind: 'ssh', address: '10.0.0.2', port: 22, user: 'root' },
  groups: [],
  recipes: ['faasd', 'certificate', 'status', 'code-server'],
  params: { 'code-server': { port: 5123 } },
  domains: domainNames('a.test'),
  acme: { directory: 'https://ca.test/dir' },
  progressDir: '/var/lib/panel',
  password,
};

const tls = { http2Directive: false, stapling: false };

test('nginx site: /codeserver/ strips the prefix and forwards Host with its port, Upgrade, Connection, Accept-Encoding; uploads have their own limit', () => {
  const s = renderSite({ ...siteSpec(config, { ipv6: false }, {}), certDir: '/c' }, tls);
  const loc = /location \/codeserver\/ \{[^}]*\}/.exec(s)?.[0] ?? '';
  assert.match(loc, /proxy_pass http:\/\/127\.0\.0\.1:5123\/;/);
  assert.match(loc, /proxy_http_version 1\.1;/);
  assert.match(loc, /proxy_set_header Host \$http_host;/);
  assert.match(loc, /proxy_set_header Upgrade \$http_upgrade;/);
  assert.match(loc, /proxy_set_header Connection \$panel_connection_upgrade;/);
  assert.match(loc, /proxy_set_header Accept-Encoding gzip;/);
  assert.match(loc, /client_max_body_size 1g;/);
  const custom = renderSite({ ...siteSpec({ ...config, params: { 'code-server': { port: 5123, uploadMaxSize: '300m' } } }, { ipv6: false }, {}), certDir: '/c' }, tls);
  assert.match(/location \/codeserver\/ \{[^}]*\}/.exec(custom)![0], /client_max_body_size 300m;/);
  assert.equal(codeServerRecipe.params.safeParse({ uploadMaxSize: '1g;' }).success, false);
  // Other routes keep Host without the port, and the site's limit.
  assert.match(/location \/ui\/ \{[^}]*\}/.exec(s)![0], /Host \$host;/);
  assert.doesNotMatch(/location \/ui\/ \{[^}]*\}/.exec(s)![0], /client_max_body_size/);
});

test('nginx site: /panel/ behind basic auth, progress.json from the progress dir; neither without their recipes', () => {
  const s = renderSite({ ...siteSpec(config, { ipv6: false }, {}), certDir: '/c' }, tls);
  assert.match(s, /location \/panel\/ \{\n\s+alias \/var\/www\/panel-status\/;[^}]*auth_basic_user_file \/etc\/nginx\/panel-status\.htpasswd;/);
  assert.match(s, /location = \/panel\/progress\.json \{\n\s+alias \/var\/lib\/panel\/progress\.json;[^}]*auth_basic "panel";/);
  const bare = renderSite({ ...siteSpec({ ...config, recipes: ['faasd', 'certificate'] }, { ipv6: false }, {}), certDir: '/c' }, tls);
  assert.doesNotMatch(bare, /codeserver|\/panel\//);
});

const host: HostInfo = { arch: 'amd64', systemd: true, ipv6: false } as HostInfo;

const REL = 'coder/code-server/releases/download/v4.139.1/code-server-4.139.1-linux-amd64.tar.gz';
const noAsset = (): Promise<AssetFetch> => Promise.reject(new Error('code-server publishes no checksum asset: nothing may be fetched'));

test('recipe: declares its tarball, dedicated user, unit never root, refusal without a password', async () => {
  const params = codeServerRecipe.params.parse({});
  assert.deepEqual(codeServerRecipe.artifacts!(params), [{ name: 'code-server', version: '4.139.1' }]);
  assert.equal(codeServerRecipe.precheck!({ params, host, config }), undefined);
  const { password: _pw, ...noPassword } = config;
  assert.match(codeServerRecipe.precheck!({ params, host, config: noPassword }) ?? '', /needs a password/);
  const loc = locateArtifact('code-server', '4.139.1', 'amd64', { checksums: new Map([[REL, 'a'.repeat(64)]]) });
  const art = await resolveArtifact(loc, { fetchAsset: noAsset });
  assert.ok(art.ok);
  const rs = codeServerRecipe.resources({ params, host, config, artifacts: new ArtifactSet([art.value]) });
  const keys = rs.map((r) => r.key);
  assert.ok(keys.includes('command:system user code-server'));
  assert.ok(keys.includes('archive:/usr/local/lib/code-server-4.139.1:code-server-4.139.1-linux-amd64.tar.gz'));
  assert.ok(keys.includes('unit:code-server.service'));
  const unitFile = rs.find((r) => r.key === 'unit:code-server.service') as unknown as { spec: { content: Buffer } };
  const text = unitFile.spec.content.toString();
  assert.match(text, /^User=code-server$/m);
  assert.doesNotMatch(text, /User=root/);
  // The terminal's shell: a real one in the service's environment, while the account keeps nologin.
  assert.match(text, /^Environment=SHELL=\/bin\/bash$/m);
  const user = rs.find((r) => r.key === 'command:system user code-server') as unknown as { o: { run: string } };
  assert.match(String(user.o.run), /--shell \/usr\/sbin\/nologin/);
  assert.match(text, /^ExecStart=\/usr\/local\/lib\/code-server-4\.139\.1\/bin\/code-server --config \/var\/lib\/code-server\/\.config\/code-server\/config\.yaml /m);
});

test('tarball sum: --checksums, or trusted on first use only when --trust-artifact names it; --require-pinned refuses that', async () => {
  const sum = 'b'.repeat(64);
  const bare = locateArtifact('code-server', '4.139.1', 'amd64', {});
  assert.equal(bare.asset, undefined, 'upstream publishes no checksum asset');
  const given = await resolveArtifact(locateArtifact('code-server', '4.139.1', 'amd64', { checksums: new Map([[REL, sum]]) }), { fetchAsset: noAsset });
  assert.ok(given.ok && given.value.sumFrom === 'checksums-file');
  const trusted = await resolveArtifact(bare, { fetchAsset: noAsset, trustOnFirstUse: async () => ({ ok: true, value: sum }) });
  assert.ok(trusted.ok);
  assert.deepEqual([trusted.value.sumFrom, trusted.value.sha256, trusted.value.url], ['trusted-on-first-use', sum, `https://github.com/${REL}`]);
  const none = await resolveArtifact(bare, { fetchAsset: noAsset });
  assert.ok(!none.ok);
  assert.match(none.error, /^code-server 4\.139\.1 \(amd64\): upstream publishes no sha256 for it .*--checksums FILE.*--trust-artifact code-server$/);
  const pinnedOnly = await resolveArtifact(bare, { fetchAsset: noAsset, requirePinned: true, trustOnFirstUse: async () => ({ ok: true, value: sum }) });
  assert.ok(!pinnedOnly.ok);
  assert.match(pinnedOnly.error, /--require-pinned refuses a sum recorded on first use/);
});

test('a trusted sum that differs from what the host recorded is refused, like a changed published one', () => {
  const a = { name: 'code-server' as const, version: '4.139.1', arch: 'amd64' as const, url: `http://m/${REL}`, relPath: REL, sha256: 'c'.repeat(64), sumFrom: 'trusted-on-first-use' as const };
  const refused = changedSumRefusal({ sha256: 'd'.repeat(64), source: 'trusted-on-first-use' }, a);
  assert.match(refused.ok ? '' : refused.error, /^the trusted sha256 of code-server 4\.139\.1 \(amd64\) CHANGED/);
  assert.ok(changedSumRefusal({ sha256: 'c'.repeat(64), source: 'trusted-on-first-use' }, a).ok);
});

test('status page: escaped, lists domain, recipes with versions and sums, certificate dates, health, run', () => {
  const html = renderStatusPage({
    host: 'h1',
    domains: ['a.test'],
    recipes: [{ id: 'faasd', title: 'faasd <OpenFaaS>', version: '0.19.7', artifacts: [{ name: 'faasd', sha256: 'c'.repeat(64), from: 'checksums-file' }] }],
    health: [{ check: 'faasd is active', ok: true }, { check: 'nginx is active', ok: false }],
    certificate: { names: ['a.test'], expires: '2026-12-01 00:00:00 UTC', renews: '2026-11-01 00:00:00 UTC', issuer: 'CN=Pebble' },
    run: { finishedAt: '2026-11-22 13:00:00 UTC', result: 'changed', changed: 3 },
  });
  assert.match(html, /<h1 id="domain">a\.test<\/h1>/);
  assert.match(html, /faasd &lt;OpenFaaS&gt;/);
  assert.match(html, /<td class="version">0\.19\.7<\/td>/);
  assert.match(html, /c{64}/);
  assert.match(html, /<td id="cert-expires">2026-12-01 00:00:00 UTC<\/td>/);
  assert.match(html, /<td id="cert-renews">2026-11-01 00:00:00 UTC<\/td>/);
  assert.match(html, /name="viewport"/);
  assert.match(html, /fetch\('\/panel\/progress\.json'/);
  assert.equal(esc(`<a href="x">'&`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;');
});

test('--trust-artifact: fetched once per run and recorded; a recorded sum is used, never re-trusted', async () => {
  const { createServer } = await import('node:http');
  const { createHash } = await import('node:crypto');
  const { readFileSync } = await import('node:fs');
  let body = Buffer.from('a code-server tarball');
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url?.endsWith('linux-amd64.tar.gz')) res.end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const file = join(tempDir('panel-trust-'), '.panel', 'trusted-artifacts.sha256');
  const loc = locateArtifact('code-server', '4.139.1', 'amd64', { mirror: `http://127.0.0.1:${port}` });
  const want = createHash('sha256').update(body).digest('hex');
  try {
    const run = new TrustedSums(file);
    // Two hosts of one fleet ask at once: one fetch.
    const [a, b] = await Promise.all([run.sum(loc), run.sum(loc)]);
    assert.deepEqual([a, b], [{ ok: true, value: want }, { ok: true, value: want }]);
    assert.equal(hits, 1);
    assert.equal(readFileSync(file, 'utf8'), `${want}  ${REL}\n`);
    // The next run: the record, even though the server now sends something else.
    body = Buffer.from('a different file');
    assert.deepEqual(await new TrustedSums(file).sum(loc), { ok: true, value: want });
    assert.equal(hits, 1);
    const missing = await new TrustedSums(file).sum(locateArtifact('code-server', '4.139.1', 'arm64', { mirror: `http://127.0.0.1:${port}` }));
    assert.ok(!missing.ok);
    assert.match(missing.error, /code-server-4\.139\.1-linux-arm64\.tar\.gz answered HTTP 404/);
    assert.equal(readFileSync(file, 'utf8').split('\n').filter(Boolean).length, 1);
  } finally {
    server.close();
  }
});

test('status page after `panel renew`: only the certificate and the run are replaced', async () => {
  const { writeStatusPage, statusDataPath } = await import('../../../src/status/page.js');
  const files = new Map<string, Buffer>();
  const saved = { host: 'h1', domains: ['a.test'], recipes: [{ id: 'code-server', title: 't', version: '4.139.1', artifacts: [] }], health: [{ check: 'x', ok: true }], run: { finishedAt: 'then', result: 'ok', changed: 0 } };
  files.set(statusDataPath('/var/lib/panel'), Buffer.from(JSON.stringify(saved)));
  const transport = {
    name: 'h1',
    stats: { channels: 0, bytesSent: 0, bytesReceived: 0 },
    exec: async () => ({ code: 0, stdout: '', stderr: '' }),
    get: async (p: string) => files.get(p),
    put: async (p: string, c: Buffer) => void files.set(p, c),
    close: async () => undefined,
  };
  const certificate = { id: 'certificate', title: 'c', after: [], params: { safeParse: () => ({ success: true, data: {} }) }, resources: () => [] };
  const plan = { config: { ...config, recipes: ['certificate'] }, transport, info: host, recipes: [{ recipe: certificate, resources: [], changes: [], checks: [], artifacts: [] }], startedAt: 0, channelsAtStart: 0 };
  await writeStatusPage(plan as never, { host: 'h1', status: 'changed', ok: 0, changed: 1, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 } as never, [], new Date('2026-11-22T13:00:00Z'));
  const html = files.get('/var/www/panel-status/index.html')!.toString();
  assert.match(html, /data-recipe="code-server"/);
  assert.match(html, /2026-11-22 13:00:00 UTC/);
  assert.match(html, /<strong class="ok" id="last-result">changed<\/strong>/);
  // No page written before: a renew leaves the host alone.
  files.clear();
  await writeStatusPage(plan as never, { host: 'h1', status: 'ok' } as never, []);
  assert.equal(files.size, 0);
});
