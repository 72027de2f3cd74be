import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import acme from 'acme-client';
import { failFastOn429, HoldStore, nameSetKey, parseRetryAfter, RateLimited, rateLimitedOf, withinTime } from '../../src/acme/rate-limit.js';
import { CertificateResource } from '../../src/acme/certificate.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('panel-ratelimit-');
const NOW = new Date('2026-01-01T00:00:00Z');

test('Retry-After: delta-seconds and HTTP-date', () => {
  assert.equal(parseRetryAfter('3600', NOW)?.toISOString(), '2026-01-01T01:00:00.000Z');
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 12:00:00 GMT', NOW)?.toISOString(), '2026-01-01T12:00:00.000Z');
  assert.equal(parseRetryAfter('soon', NOW), undefined);
  assert.equal(parseRetryAfter(undefined, NOW), undefined);
});

test('a 429 problem becomes RateLimited with the CA detail; without Retry-After an hour', () => {
  const e = rateLimitedOf({ response: { status: 429, headers: { 'retry-after': '60' }, data: { type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many\n failed authorizations' } } }, NOW);
  assert.ok(e instanceof RateLimited);
  assert.equal(e.detail, 'too many failed authorizations');
  assert.equal(e.retryAt.toISOString(), '2026-01-01T00:01:00.000Z');
  assert.equal(rateLimitedOf({ response: { status: 429, data: {} } }, NOW)?.retryAt.toISOString(), '2026-01-01T01:00:00.000Z');
  assert.equal(rateLimitedOf({ response: { status: 500 } }, NOW), undefined);
  assert.equal(rateLimitedOf(new Error('x'), NOW), undefined);
});

test("acme-client's axios fails at once on a 429 instead of sleeping Retry-After (and still retries a 503)", async () => {
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === '/503' && hits === 1) {
      res.writeHead(503, { 'retry-after': '1' });
      res.end();
      return;
    }
    if (req.url === '/503') {
      res.end('{}');
      return;
    }
    res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '86400' });
    res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders', status: 429 }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    failFastOn429(acme);
    failFastOn429(acme); // idempotent
    const err = await acme.axios.get(`${base}/order`, { validateStatus: null }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof RateLimited, String(err));
    assert.equal(err.detail, 'too many new orders');
    assert.ok(Math.abs(err.retryAt.getTime() - (Date.now() + 86_400_000)) < 60_000);
    assert.equal(hits, 1, 'asked once');
    hits = 0;
    const ok = await acme.axios.get(`${base}/503`, { validateStatus: null });
    assert.equal(ok.status, 200);
    assert.equal(hits, 2, '5xx retried as before');
  } finally {
    server.close();
  }
});

test('holds: per name set (any order), only while active, file 0600', () => {
  const store = new HoldStore(join(dir, 'acme', 'holds.json'));
  assert.equal(nameSetKey(['B.test', 'a.test']), 'a.test,b.test');
  store.record(['b.test', 'a.test'], { until: '2026-01-01T01:00:00.000Z', detail: 'too many' });
  assert.equal(statSync(store.file).mode & 0o777, 0o600);
  assert.equal(store.active(['a.test', 'b.test'], NOW)?.detail, 'too many');
  assert.equal(store.active(['a.test'], NOW), undefined);
  assert.equal(store.active(['a.test', 'b.test'], new Date('2026-01-01T01:00:00Z')), undefined);
  store.clear(['a.test', 'b.test']);
  assert.equal(store.active(['a.test', 'b.test'], NOW), undefined);
});

test('certificate plan under a hold: planned with the hold in its reason; applying does not contact the CA', async () => {
  const holds = new HoldStore(join(dir, 'plan', 'holds.json'));
  holds.record(['a.test'], { until: '2026-01-01T05:00:00.000Z', detail: 'too many certificates' });
  const r = new CertificateResource({ names: ['a.test'], acme: { directory: 'https://192.0.2.1/dir' }, now: () => NOW, holds });
  const [c] = r.plan(r.parse({ stdout: 'key=0\ninstalled=0\nenabled=0\n', code: 0 }), { planned: [] });
  assert.match(c!.reason, /the CA rate-limited these names until 2026-01-01T05:00:00\.000Z \(too many certificates\)/);
  // 192.0.2.1 (TEST-NET) would hang: the refusal comes before any connection.
  const host = { run: () => Promise.reject(new Error('no host step expected')) };
  await assert.rejects(c!.local!(host as never), /not asking https:\/\/192\.0\.2\.1\/dir for a\.test before 2026-01-01T05:00:00\.000Z: it answered rateLimited: too many certificates/);
});

test('withinTime: one bound on the whole order', async () => {
  await assert.rejects(withinTime(new Promise(() => undefined), 20, 'ACME order for a.test'), /ACME order for a\.test did not finish within 0 s; nothing was installed/);
  assert.equal(await withinTime(Promise.resolve(1), 1000, 'x'), 1);
});

test('kept certificate: saved 0600, installed instead of an order while valid and not the installed one', async () => {
  const { KeptCertificates } = await import('../../src/acme/kept.js');
  const kept = new KeptCertificates(join(dir, 'issued'));
  const holds = new HoldStore(join(dir, 'kept-holds.json'));
  const key = join(dir, 'k.pem');
  const crt = join(dir, 'c.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-days', '90', '-subj', '/CN=a.test', '-addext', 'subjectAltName=DNS:a.test,DNS:b.test'], { stdio: 'ignore' });
  const pem = readFileSync(crt, 'utf8');
  kept.save(['b.test', 'a.test'], { certPem: pem, keyPem: readFileSync(key) });
  assert.equal(statSync(join(kept.dir, 'a.test+b.test', 'privkey.pem')).mode & 0o777, 0o600);
  assert.equal(kept.load(['a.test']), undefined, 'another name set');
  const r = (now: Date) => new CertificateResource({ names: ['a.test', 'b.test'], acme: { directory: 'https://192.0.2.1/dir' }, now: () => now, holds, kept });
  const now = new Date();
  const [c] = r(now).plan(r(now).parse({ stdout: 'key=0\ninstalled=0\nenabled=0\n', code: 0 }), { planned: [] });
  assert.match(c!.reason, /^absent; install the certificate issued \S+ \(serial [0-9a-f]+, kept in .*\): still valid, no new order$/);
  const script = String(await c!.local!({ run: () => Promise.reject(new Error('no host step expected')) } as never));
  assert.match(script, /panel_unit_add \/etc\/panel\/certs\/a\.test\/fullchain\.pem /);
  // Installed already (same serial): nothing to do. Due itself: an order as usual.
  const facts = `cert=${Buffer.from(pem).toString('base64')}\nkey=1\ndirectory=${Buffer.from('https://192.0.2.1/dir\n').toString('base64')}\ninstalled=0\nenabled=0\n`;
  assert.deepEqual(r(now).plan(r(now).parse({ stdout: facts, code: 0 }), { planned: [] }), []);
  const later = new Date(now.getTime() + 70 * 86400e3);
  assert.match(r(later).plan(r(later).parse({ stdout: 'key=0\ninstalled=0\nenabled=0\n', code: 0 }), { planned: [] })[0]!.reason, /^absent; order from /);
});
