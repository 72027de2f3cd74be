/**
 * The pre-flight parts that run on the host, run here with bash and the
 * prelude: the host's own fetch of the probe (panel_http01_probe) against a
 * real HTTP server, and the placeholder certificate the https site is tested
 * with before an order.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { hostProbeScript, siteCandidate } from '../../src/acme/before-order.js';
import { parseCertificate } from '../../src/acme/cert-info.js';
import { placeholderCertificate } from '../../src/acme/placeholder.js';
import { PRELUDE } from '../../src/resources/prelude.js';
import type { Change } from '../../src/resources/types.js';
import { type Script, sh } from '../../src/shell.js';

/** bash with the prelude, asynchronously: the HTTP server answering it lives in this process. */
function bash(body: Script): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn('bash', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(`export PANEL_MODE=apply\n${PRELUDE}\n(\nset -euo pipefail\n${body}\n)\n`);
  });
}

function serve(answer: (path: string) => { status: number; body: string; location?: string }): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const a = answer(req.url ?? '');
    res.writeHead(a.status, { 'content-type': 'text/plain', ...(a.location ? { location: a.location } : {}) });
    res.end(a.body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

test('panel_http01_probe: the probe passes; another answer fails in one line; no answer at all passes (no hairpin NAT)', async () => {
  const probe = 'the-probe-content';
  const { server, port } = await serve((path) => {
    if (path === '/.well-known/acme-challenge/ours') return { status: 200, body: `${probe}\n` };
    if (path === '/.well-known/acme-challenge/moved') return { status: 302, body: '', location: '/.well-known/acme-challenge/ours' };
    if (path === '/.well-known/acme-challenge/other') return { status: 200, body: 'another site' };
    return { status: 404, body: 'not found' };
  });
  try {
    const url = (token: string) => `http://127.0.0.1:${port}/.well-known/acme-challenge/${token}`;
    const probeAt = (u: string) => bash(sh`panel_http01_probe ${u} ${probe}`);
    assert.deepEqual(await probeAt(url('ours')), { code: 0, stdout: '', stderr: '' });
    assert.equal((await probeAt(url('moved'))).code, 0, 'redirects are followed, as the CA follows them');
    assert.deepEqual(await probeAt(url('other')), { code: 1, stdout: "answered HTTP 200 without this host's probe", stderr: '' });
    assert.equal((await probeAt(url('missing'))).stdout, "answered HTTP 404 without this host's probe");
  } finally {
    await new Promise((r) => server.close(r));
  }
  // The same port, nothing listening any more: refused, not judged.
  const closed = await serve(() => ({ status: 200, body: '' }));
  await new Promise((r) => closed.server.close(r));
  assert.deepEqual(await bash(sh`panel_http01_probe ${`http://127.0.0.1:${closed.port}/x`} ${probe}`), { code: 0, stdout: '', stderr: '' });
  // A name the host cannot resolve: not judged either.
  assert.equal((await bash(sh`panel_http01_probe http://panel-no-such-name.invalid/x ${probe}`)).code, 0);
});

test('host probe step: one line per refused name, naming the cause and the fix', async () => {
  const { server, port } = await serve(() => ({ status: 200, body: 'another site' }));
  try {
    // The names as the host resolves them; the port is the test server's (real names are fetched on port 80).
    const script = hostProbeScript([`127.0.0.1:${port}`], { token: 'tok', content: 'the-probe' });
    const r = await bash(script);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^panel: ACME: not ordering 127\\.0\\.0\\.1:${port} \\(pre-flight, the CA was not asked\\): 127\\.0\\.0\\.1:${port}: from the host itself, http://127\\.0\\.0\\.1:${port}/\\.well-known/acme-challenge/ answered HTTP 200 without this host's probe, so .* fix: point `));
  } finally {
    await new Promise((r) => server.close(r));
  }
  assert.ok(hostProbeScript(['a.test', 'b.test'], { token: 'tok', content: 'c' }).includes('http://b.test/.well-known/acme-challenge/tok'));
});

test('placeholder certificate: self-signed for the names, its key matches, one day long', async () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const p = await placeholderCertificate(['a.test', 'b.test'], now);
  const info = parseCertificate(p.certPem);
  assert.ok(info.ok);
  assert.deepEqual(info.value.names, ['a.test', 'b.test']);
  assert.equal(info.value.notAfter.getTime() - info.value.notBefore.getTime(), 24 * 3600e3);
  assert.ok(new X509Certificate(p.certPem).checkPrivateKey(createPrivateKey(p.keyPem)));
});

test('siteCandidate: the follow-up that names this certificate\'s files, none on a renewal', () => {
  const change = (content: string | undefined): Change => ({ resource: 'file:/s', action: 'update', target: '/s', reason: 'r', script: sh`true`, ...(content !== undefined ? { candidate: { path: '/s', content } } : {}) });
  const dir = '/etc/panel/certs/a.test';
  const ours = change(`ssl_certificate ${dir}/fullchain.pem;`);
  assert.equal(siteCandidate(dir, [change(undefined), change('ssl_certificate /etc/panel/certs/x.test/fullchain.pem;'), ours]), ours.candidate);
  assert.equal(siteCandidate(dir, []), undefined);
});
