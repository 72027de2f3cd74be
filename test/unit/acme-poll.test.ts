import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, POLL_MAX_MS, POLL_MIN_MS, pollDelayMs, pollUntilSettled, type Polled } from '../../src/acme/poll.js';

test('poll delay: the CA\'s Retry-After (seconds or HTTP date) bounded to 1..60 s, else 1, 2, 4, 8, 10 s', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  assert.equal(pollDelayMs('3', 0, now), 3000);
  assert.equal(pollDelayMs('Thu, 01 Jan 2026 00:00:20 GMT', 0, now), 20_000);
  assert.equal(pollDelayMs('0', 0, now), POLL_MIN_MS);
  assert.equal(pollDelayMs('3600', 0, now), POLL_MAX_MS);
  assert.deepEqual([0, 1, 2, 3, 4, 9].map((a) => pollDelayMs(undefined, a, now)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.equal(pollDelayMs('later', 2, now), backoffMs(2));
});

test('pollUntilSettled sleeps what each answer asks, returns the settled answer, and gives up before the deadline', async () => {
  let t = 0;
  const slept: number[] = [];
  const io = { now: () => new Date(t), sleep: async (ms: number) => { slept.push(ms); t += ms; } };
  const answers: Polled[] = [
    { status: 'pending', retryAfter: '5', body: {} },
    { status: 'pending', retryAfter: undefined, body: {} },
    { status: 'processing', retryAfter: '30', body: {} },
    { status: 'valid', retryAfter: undefined, body: { certificate: 'u' } },
  ];
  const got = await pollUntilSettled('x', async () => answers.shift()!, ['pending', 'processing'], 1_000_000, io);
  assert.equal(got.status, 'valid');
  assert.deepEqual(slept, [5000, 2000, 30_000], 'Retry-After, backoff for attempt 1, Retry-After');
  t = 0;
  await assert.rejects(
    pollUntilSettled('authorization for a.test', async () => ({ status: 'pending', retryAfter: '40', body: {} }), ['pending'], 100_000, io),
    /authorization for a\.test still pending when panel stopped waiting/,
  );
  assert.equal(t, 80_000, 'two 40 s waits fit before the deadline, the third would not');
});
