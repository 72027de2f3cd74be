/**
 * getWithRetry / fetchHere against a real local HTTP server that fails on
 * purpose. The waits and the per-attempt deadline are shortened here (the
 * product's values are exercised by test/integration/faults-artifacts.test.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { fetchHere } from '../../src/artifacts/index.js';
import { getWithRetry, type RetryOptions } from '../../src/artifacts/http-get.js';
import { ok } from '../../src/result.js';

const SUM = 'b'.repeat(64);
const waits: number[] = [];
const FAST: RetryOptions = {
  attempts: 3,
  attemptTimeoutMs: 400,
  firstBackoffMs: 10,
  sleep: async (ms) => {
    waits.push(ms);
    await new Promise((r) => setTimeout(r, ms));
  },
};

/** Requests per path, and how each path misbehaves. */
const hits = new Map<string, number>();
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    if (path === '/missing') res.writeHead(404).end('nope');
    else if (path === '/forbidden') res.writeHead(403).end('no');
    else if (path === '/broken') res.writeHead(500).end('oops');
    else if (path === '/busy') res.writeHead(503).end('later');
    else if (path === '/flaky') (n <= 2 ? res.writeHead(500).end('oops') : res.end(`${SUM}  bin/faasd\n`));
    else if (path === '/slow') {
      // Headers at once, then one byte every 200 ms: never done within the deadline.
      res.writeHead(200, { 'content-length': 80 });
      const t = setInterval(() => res.write('x'), 200);
      res.on('close', () => clearInterval(t));
    } else res.end(`${SUM}  bin/faasd\n`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const text = async (res: Response) => ok(await res.text());

test('a 404 or 403 is an answer: one request, no retry', async () => {
  waits.length = 0;
  for (const [path, status] of [['/missing', 'HTTP 404 Not Found'], ['/forbidden', 'HTTP 403 Forbidden']] as const) {
    const r = await getWithRetry(`${base}${path}`, text, FAST);
    assert.deepEqual(r, { ok: false, error: status, reached: true });
    assert.equal(hits.get(path), 1);
  }
  assert.deepEqual(waits, []);
});

test('500 and 503 are retried with doubling waits, then reported with the attempt count', async () => {
  for (const [path, status] of [['/broken', 'HTTP 500 Internal Server Error'], ['/busy', 'HTTP 503 Service Unavailable']] as const) {
    waits.length = 0;
    const r = await getWithRetry(`${base}${path}`, text, FAST);
    assert.deepEqual(r, { ok: false, error: `${status} (3 attempts)`, reached: true });
    assert.equal(hits.get(path), 3);
    assert.deepEqual(waits, [10, 20]);
  }
});

test('500 twice then 200: the third attempt succeeds', async () => {
  waits.length = 0;
  const r = await getWithRetry(`${base}/flaky`, text, FAST);
  assert.deepEqual(r, { ok: true, value: `${SUM}  bin/faasd\n` });
  assert.equal(hits.get('/flaky'), 3);
  assert.deepEqual(waits, [10, 20]);
});

test('a body that trickles is given up at the attempt deadline, retried, in bounded time', async () => {
  waits.length = 0;
  const r = await getWithRetry(`${base}/slow`, text, FAST);
  assert.deepEqual(r, { ok: false, error: 'the answer did not finish within 0.4 s (mirror too slow) (3 attempts)', reached: true });
  // Bounded by counts: three attempts, each given up at its deadline, two backoff waits.
  assert.equal(hits.get('/slow'), 3);
  assert.deepEqual(waits, [10, 20]);
});

test('a name that does not resolve is not retried', async () => {
  waits.length = 0;
  const r = await getWithRetry('http://panel-nowhere.invalid/x', text, FAST);
  assert.ok(!r.ok && !r.reached && /cannot connect \(ENOTFOUND\)$/.test(r.error), JSON.stringify(r));
  assert.deepEqual(waits, []);
});

test('fetchHere uses the product retry rules: 404 at once, the checksum text on success', async () => {
  hits.delete('/missing');
  assert.deepEqual(await fetchHere(`${base}/missing`), { ok: false, error: 'HTTP 404 Not Found', reached: true });
  assert.equal(hits.get('/missing'), 1);
  assert.deepEqual(await fetchHere(`${base}/ok`), { ok: true, text: `${SUM}  bin/faasd\n` });
});
