import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { certId, MAX_RETRY_MS, MIN_RETRY_MS, pickRenewalTime, refreshWindow, RenewalWindows, retryAfterMs } from '../../src/acme/ari.js';
import { CertificateResource } from '../../src/acme/certificate.js';
import { orderReason, parseCertificate, type CertInfo } from '../../src/acme/cert-info.js';
import { newOrderPayload } from '../../src/acme/order.js';
import { ok } from '../../src/result.js';
import { tempDir } from '../support/temp.js';

/** The parsed certificate; the test fails when it cannot be read. */
function certOf(pem: string): CertInfo {
  const r = parseCertificate(pem);
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

const dir = tempDir('panel-ari-');

/** A CA and a leaf it signs (with AKI), via the openssl CLI; the serial is chosen so its DER needs a leading zero. */
function issued(serialHex: string, days = 90): string {
  const run = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] });
  run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=ari test CA');
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=a.test');
  execFileSync('sh', ['-c', 'printf "subjectAltName=DNS:a.test\\nauthorityKeyIdentifier=keyid\\n" > leaf.ext'], { cwd: dir });
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${serialHex}`, '-days', String(days), '-extfile', 'leaf.ext', '-out', 'leaf.pem');
  return readFileSync(join(dir, 'leaf.pem'), 'utf8');
}

function akiHex(pem: string): string {
  const text = execFileSync('openssl', ['x509', '-noout', '-ext', 'authorityKeyIdentifier'], { input: pem }).toString();
  return /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(text)![1]!.replace(/:/g, '').toLowerCase();
}

test('certId is base64url(AKI keyIdentifier).base64url(serial DER content, leading zero kept) (RFC 9773 §4.1)', () => {
  const pem = issued('87654321'); // high bit set: DER content is 00 87 65 43 21
  const [aki, serial] = certId(pem).split('.');
  assert.equal(Buffer.from(aki!, 'base64url').toString('hex'), akiHex(pem));
  assert.equal(Buffer.from(serial!, 'base64url').toString('hex'), '0087654321');
  assert.doesNotMatch(certId(pem), /[=+/]/, 'base64url without padding');
  assert.equal(Buffer.from(certId(issued('0123')).split('.')[1]!, 'base64url').toString('hex'), '0123');
  assert.equal(certOf(pem).ariId, certId(pem));
});

test('Retry-After: seconds or an HTTP date, 6 h when absent, clamped to 1 min .. 24 h', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(retryAfterMs('21600', now), 6 * 3600_000);
  assert.equal(retryAfterMs(undefined, now), 6 * 3600_000);
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 02:00:00 GMT', now), 2 * 3600_000);
  assert.equal(retryAfterMs('1', now), MIN_RETRY_MS);
  assert.equal(retryAfterMs(String(10 * 86400), now), MAX_RETRY_MS);
  assert.equal(retryAfterMs('soon', now), 6 * 3600_000);
});

test('renewal moment: inside the window, never before now; the start of a window that has passed', () => {
  const now = new Date('2026-01-10T00:00:00Z');
  const start = new Date('2026-01-11T00:00:00Z');
  const end = new Date('2026-01-12T00:00:00Z');
  assert.equal(pickRenewalTime(start, end, now, () => 0).getTime(), start.getTime());
  assert.equal(pickRenewalTime(start, end, now, (n) => n - 1).getTime(), end.getTime() - 1);
  const open = pickRenewalTime(new Date('2026-01-09T00:00:00Z'), end, now, () => 0);
  assert.equal(open.getTime(), now.getTime(), 'a window already open: from now');
  const past = new Date('2026-01-08T00:00:00Z');
  assert.equal(pickRenewalTime(past, new Date('2026-01-09T00:00:00Z'), now).getTime(), past.getTime());
});

test('orderReason: the CA window replaces the ⅓ rule both ways (earlier and later)', () => {
  const nb = new Date('2026-01-01T00:00:00Z');
  const na = new Date('2026-03-31T00:00:00Z'); // 89 days: ⅓ rule due on 2026-03-01
  const have = { cert: ok({ serial: '01', names: ['a.test'], notBefore: nb, notAfter: na, issuer: 'x', ocsp: false }), keyPresent: true, directory: 'https://ca/dir' };
  const want = { names: ['a.test'], directory: 'https://ca/dir' };
  const win = (s: string, e: string, r: string) => ({ start: new Date(s), end: new Date(e), renewAt: new Date(r) });
  const early = win('2026-01-05T00:00:00Z', '2026-01-06T00:00:00Z', '2026-01-05T12:00:00Z');
  assert.equal(orderReason(have, want, new Date('2026-01-05T11:00:00Z'), early), undefined);
  assert.match(orderReason(have, want, new Date('2026-01-05T13:00:00Z'), early)!, /inside the CA's renewal window \(ARI\)/);
  assert.match(orderReason(have, want, new Date('2026-01-07T00:00:00Z'), early)!, /has passed: renew at once/);
  const late = win('2026-03-10T00:00:00Z', '2026-03-12T00:00:00Z', '2026-03-11T00:00:00Z');
  assert.equal(orderReason(have, want, new Date('2026-03-05T00:00:00Z'), late), undefined, 'the CA says later than ⅓: later');
  assert.match(orderReason(have, want, new Date('2026-03-05T00:00:00Z'))!, /less than a third/);
  assert.match(orderReason(have, want, new Date('2026-04-01T00:00:00Z'), late)!, /^expired/);
});

test('newOrder payload carries replaces only when given', () => {
  assert.deepEqual(newOrderPayload(['a.test'], undefined), { identifiers: [{ type: 'dns', value: 'a.test' }] });
  assert.deepEqual(newOrderPayload(['a.test'], 'shortlived', 'AA.BB'), { identifiers: [{ type: 'dns', value: 'a.test' }], profile: 'shortlived', replaces: 'AA.BB' });
});

/** A tiny CA front: the directory (with or without renewalInfo) and renewalInfo answers, counting requests. */
async function fakeDirectory(withAri: boolean, window: { start: string; end: string }, retryAfter = '3600'): Promise<{ url: string; hits: string[]; close: () => void }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    if (req.url === '/dir') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ newNonce: `${base}/nonce`, ...(withAri ? { renewalInfo: `${base}/renewal-info` } : {}) }));
    } else if (req.url?.startsWith('/renewal-info/')) {
      res.setHeader('retry-after', retryAfter);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ suggestedWindow: window }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/dir`, hits, close: () => server.close() };
}

test('refreshWindow: fetched and stored (0600), not asked again before Retry-After; a CA without ARI is not asked again for a day', async () => {
  const pem = issued('1234');
  const now = new Date();
  const window = { start: new Date(now.getTime() + 86400e3).toISOString(), end: new Date(now.getTime() + 2 * 86400e3).toISOString() };
  const ca = await fakeDirectory(true, window);
  try {
    const store = new RenewalWindows(join(dir, 'w1', 'renewal-info.json'));
    const got = await refreshWindow({ directory: ca.url, id: certId(pem), store, now });
    assert.equal(got!.id, certId(pem));
    assert.equal(got!.record.start, window.start);
    assert.ok(got!.record.renewAt >= window.start && got!.record.renewAt <= window.end);
    assert.equal(Date.parse(got!.record.nextFetch), now.getTime() + 3600_000);
    assert.equal(statSync(store.file).mode & 0o777, 0o600);
    assert.deepEqual(ca.hits, ['/dir', `/renewal-info/${certId(pem)}`]);
    const again = await refreshWindow({ directory: ca.url, id: certId(pem), store, now: new Date(now.getTime() + 1800_000) });
    assert.equal(ca.hits.length, 2, 'within Retry-After: the CA is not asked');
    assert.equal(again!.record.renewAt, got!.record.renewAt, 'the drawn moment is kept');
  } finally {
    ca.close();
  }
  const none = await fakeDirectory(false, window);
  try {
    const store = new RenewalWindows(join(dir, 'w2', 'renewal-info.json'));
    assert.equal(await refreshWindow({ directory: none.url, id: certId(pem), store, now }), undefined);
    assert.equal(await refreshWindow({ directory: none.url, id: certId(pem), store, now: new Date(now.getTime() + 3600_000) }), undefined);
    assert.deepEqual(none.hits, ['/dir'], 'no renewalInfo: the directory is not fetched again within a day');
  } finally {
    none.close();
  }
});

test('the certificate plan reads the stored window and orders with replaces once it is due', () => {
  const pem = issued('4321', 90);
  const info = certOf(pem);
  const store = new RenewalWindows(join(dir, 'w3', 'renewal-info.json'));
  const D = 'https://ca.test/dir';
  const facts = [`cert=${Buffer.from(pem).toString('base64')}`, 'key=1', `directory=${Buffer.from(`${D}\n`).toString('base64')}`, 'installed=0', 'enabled=0'].join('\n') + '\n';
  const at = (now: Date) => {
    const r = new CertificateResource({ names: ['a.test'], acme: { directory: D }, now: () => now, windows: store });
    return r.plan(r.parse({ stdout: facts, code: 0 }), { planned: [] });
  };
  const soon = new Date(info.notBefore.getTime() + 86400e3);
  assert.deepEqual(at(soon), [], 'no window stored, ⅓ rule: not due');
  store.set(certId(pem), { start: new Date(soon.getTime() - 7200e3).toISOString(), end: new Date(soon.getTime() - 3600e3).toISOString(), renewAt: new Date(soon.getTime() - 7200e3).toISOString(), nextFetch: soon.toISOString() });
  const cs = at(soon);
  assert.equal(cs.length, 1);
  assert.match(cs[0]!.reason, /renewal window \(ARI\) .* has passed/);
  assert.ok(cs[0]!.reason.includes(`replacing ${certId(pem)}`), cs[0]!.reason);
});
