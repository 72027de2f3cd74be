import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { certId, MAX_RETRY_MS, MIN_RETRY_MS, pickRenewalTime, refreshWindow, RenewalWindows, retryAfterMs } from '../../src/acme/ari.js';
import { CertificateResource } from '../../src/acme/certificate.js';
import { orderReason, parseCertificate, renewalDue, renewalTime, type CertInfo } from '../../src/acme/cert-info.js';
import { renderStatusPage, statusData } from '../../src/status/page.js';
import { domainNames } from '../../src/validate/domain.js';
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
async function fakeDirectory(withAri: boolean, window: { start: string; end: string }, retryAfter = '3600', explanationURL?: string): Promise<{ url: string; hits: string[]; close: () => void }> {
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
      res.end(JSON.stringify({ suggestedWindow: window, ...(explanationURL !== undefined ? { explanationURL } : {}) }));
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

/** Facts as the certificate resource reads them from a host holding `pem`, recorded as issued by `directory`. */
function hostFacts(pem: string, directory: string): string {
  return [`cert=${Buffer.from(pem).toString('base64')}`, 'key=1', `directory=${Buffer.from(`${directory}\n`).toString('base64')}`, 'installed=0', 'enabled=0'].join('\n') + '\n';
}

test('one answer for "when is it due" (renewalDue): the plan (so `check`) and the status page turn due at the same moment and name the CA window and its explanation', () => {
  const pem = issued('5555', 90);
  const info = certOf(pem);
  const D = 'https://ca.test/dir';
  const store = new RenewalWindows(join(dir, 'w4', 'renewal-info.json'));
  const config = { name: 'web', connection: { kind: 'local' as const }, groups: [], recipes: [], params: {}, domains: domainNames('a.test'), acme: { directory: D }, progressDir: '/var/lib/panel' };
  const result = { host: 'web', status: 'ok' as const, ok: 0, changed: 0, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 };
  const page = (now: Date) => renderStatusPage(statusData({ config, recipes: [] } as never, result, [], pem, now, (c) => store.window(c.ariId)));
  const plan = (now: Date) => {
    const r = new CertificateResource({ names: ['a.test'], acme: { directory: D }, now: () => now, windows: store });
    return r.plan(r.parse({ stdout: hostFacts(pem, D), code: 0 }), { planned: [] });
  };
  // Without a window: panel's rule, said as such.
  const rule = renewalTime(info);
  assert.deepEqual(renewalDue(info), { at: rule, by: 'lifetime', words: 'a third' });
  const before = page(new Date(rule.getTime() - 60_000));
  assert.match(before, /id="cert-renews-by">panel&#39;s rule: renewed with a third of its lifetime left \(the CA gave no renewal window\)</);
  assert.ok(!before.includes('id="cert-overdue"'));
  // The CA asks for it earlier than the rule (e.g. after a revocation), with an explanation.
  const start = new Date(info.notBefore.getTime() + 10 * 86400e3);
  const end = new Date(start.getTime() + 86400e3);
  const renewAt = new Date(start.getTime() + 3600e3);
  const explanationURL = 'https://ca.test/why?a=1&b=2';
  store.set(certId(pem), { start: start.toISOString(), end: end.toISOString(), renewAt: renewAt.toISOString(), nextFetch: end.toISOString(), explanationURL });
  assert.equal(renewalDue(info, store.window(info.ariId)).at.getTime(), renewAt.getTime());
  const notYet = new Date(renewAt.getTime() - 60_000);
  assert.deepEqual(plan(notYet), []);
  const quiet = page(notYet);
  assert.ok(!quiet.includes('id="cert-overdue"'), 'not due yet: no warning');
  assert.ok(quiet.includes(`id="cert-renews">${renewAt.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}<`), 'the page shows the drawn moment the plan acts on');
  assert.ok(quiet.includes("the CA's renewal window (ARI): <time>"), quiet);
  assert.ok(quiet.includes(`<time>${start.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time> – <time>${end.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`), quiet);
  assert.ok(quiet.includes('href="https://ca.test/why?a=1&amp;b=2"'), 'the explanation link, escaped');
  const [c, ...rest] = plan(renewAt);
  assert.equal(rest.length, 0);
  assert.ok(c!.reason.startsWith(`inside the CA's renewal window (ARI) ${start.toISOString()} – ${end.toISOString()} (the CA explains: ${explanationURL})`), c!.reason);
  assert.match(page(renewAt), /id="cert-overdue">Not renewed: the CA&#39;s renewal window \(ARI\) .* asks for it\./);
  // Later than the rule: the CA decides, the plan and the page agree.
  const late = new Date(rule.getTime() + 86400e3);
  store.set(certId(pem), { start: late.toISOString(), end: new Date(late.getTime() + 86400e3).toISOString(), renewAt: late.toISOString(), nextFetch: late.toISOString() });
  const between = new Date(rule.getTime() + 3600e3);
  assert.deepEqual(plan(between), []);
  assert.ok(!page(between).includes('id="cert-overdue"'));
  assert.ok(!page(between).includes('cert-ari-explanation'), 'no explanation given: no link');
});

test('prepare: the window of the certificate the HOST has is fetched whoever issued it (no kept copy), and the plan then acts on it; other CA or expired: not asked; CA away: a warning', async () => {
  const pem = issued('6666', 90);
  const info = certOf(pem);
  const start = new Date(info.notBefore.getTime() + 86400e3);
  const window = { start: start.toISOString(), end: new Date(start.getTime() + 86400e3).toISOString() };
  const ca = await fakeDirectory(true, window, '3600', 'https://ca.test/incident');
  try {
    const store = new RenewalWindows(join(dir, 'w5', 'renewal-info.json'));
    const now = new Date(start.getTime() + 2 * 86400e3); // the window has passed; the ⅓ rule would wait weeks
    const resource = (directory: string, at = now) => new CertificateResource({ names: ['a.test'], acme: { directory }, now: () => at, windows: store });
    const r = resource(ca.url);
    const have = r.parse({ stdout: hostFacts(pem, ca.url), code: 0 });
    assert.deepEqual(r.plan(have, { planned: [] }), [], 'nothing stored yet: the rule says not due');
    assert.deepEqual(await r.prepare(have), []);
    assert.deepEqual(ca.hits, ['/dir', `/renewal-info/${certId(pem)}`]);
    assert.equal(store.get(certId(pem))?.explanationURL, 'https://ca.test/incident');
    const [c] = r.plan(have, { planned: [] });
    assert.match(c!.reason, /the CA's renewal window \(ARI\) .* \(the CA explains: https:\/\/ca\.test\/incident\) has passed: renew at once/);
    assert.ok(c!.reason.includes(`replacing ${certId(pem)}`), c!.reason);
    // Recorded as issued by another CA, or expired: its window is not asked for (the plan orders anyway).
    const other = resource('https://other.test/dir');
    await other.prepare(other.parse({ stdout: hostFacts(pem, ca.url), code: 0 }));
    const expired = resource(ca.url, new Date(info.notAfter.getTime() + 1000));
    store.set(certId(pem), { ...store.get(certId(pem))!, nextFetch: new Date(0).toISOString() });
    await expired.prepare(expired.parse({ stdout: hostFacts(pem, ca.url), code: 0 }));
    assert.equal(ca.hits.length, 2, 'not asked');
  } finally {
    ca.close();
  }
  const away = new CertificateResource({ names: ['a.test'], acme: { directory: 'http://127.0.0.1:9/dir' }, now: () => new Date(), windows: new RenewalWindows(join(dir, 'w6', 'renewal-info.json')) });
  const warnings = await away.prepare(away.parse({ stdout: hostFacts(pem, 'http://127.0.0.1:9/dir'), code: 0 }));
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^renewal information \(ARI\) for a\.test from http:\/\/127\.0\.0\.1:9\/dir not fetched: .*; the stored window or the ⅓ \/ ½ rule applies$/);
});

test('explanationURL: kept only when a plain http(s) URL (it reaches the terminal and the page)', async () => {
  const pem = issued('7777');
  const now = new Date();
  const window = { start: new Date(now.getTime() + 86400e3).toISOString(), end: new Date(now.getTime() + 2 * 86400e3).toISOString() };
  for (const [given, kept] of [['https://ca.test/x', 'https://ca.test/x'], ['javascript:alert(1)', undefined], ['https://ca.test/\u001b[31m', undefined], ['https://ca.test/"><script>', undefined]] as const) {
    const ca = await fakeDirectory(true, window, '3600', given);
    try {
      const store = new RenewalWindows(join(dir, `w7-${Math.random().toString(36).slice(2)}`, 'renewal-info.json'));
      const got = await refreshWindow({ directory: ca.url, id: certId(pem), store, now });
      assert.equal(got!.record.explanationURL, kept, given);
      assert.equal(got!.record.start, window.start, 'the window itself is kept');
    } finally {
      ca.close();
    }
  }
});
