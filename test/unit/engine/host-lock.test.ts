/**
 * The host lock on this machine: through LocalTransport (connection: local,
 * what `panel renew --schedule`'s timer uses; needs root) and the bash
 * stand-in, with the lock directory in a temp dir (PANEL_RUN_DIR).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyProgress, parseApply } from '../../../src/engine/batch.js';
import { takeHostLock, type LockOptions } from '../../../src/engine/host-lock.js';
import { LocalTransport } from '../../../src/transport/local.js';
import type { Transport } from '../../../src/transport/types.js';
import { BashTransport } from '../../support/bash-transport.js';
import { tempDir } from '../../support/temp.js';

const quiet = (holder: string, waitSeconds = 5): LockOptions => ({ holder, waitSeconds, onWait: () => undefined });

test('parseApply: a script stopped at the interrupt reports the steps done and where it stopped', () => {
  assert.deepEqual(parseApply('@@panel-ok 0\n@@panel-interrupted 1\n', '@@panel-step 0\n', 0, 3), { done: [0], interruptedAt: 1 });
  // A failure wins over an interrupt marker that cannot be trusted (non-zero exit).
  assert.equal(parseApply('@@panel-ok 0\n@@panel-fail 1 2\n', '@@panel-step 0\n@@panel-step 1\nboom\n', 2, 3).failed?.index, 1);
});

test('applyProgress: the step announced on stderr without a result is the one a lost connection hit', () => {
  assert.deepEqual(applyProgress('@@panel-ok 0\n', '@@panel-step 0\n@@panel-step 1\n'), { done: [0], running: 1 });
  assert.deepEqual(applyProgress('@@panel-ok 0\n@@panel-ok 1\n', '@@panel-step 0\n@@panel-step 1\n'), { done: [0, 1] });
  assert.deepEqual(applyProgress('', ''), { done: [] });
});

async function lockScenario(open: () => Transport): Promise<void> {
  const a = await takeHostLock(open(), quiet('panel install (the first)'));
  assert.ok(a.ok, a.ok ? '' : a.error);
  assert.equal(a.lock.waited, false);

  const seen: string[] = [];
  const b = await takeHostLock(open(), { holder: 'panel renew (the second)', waitSeconds: 1, onWait: (h) => seen.push(h) });
  assert.deepEqual(seen, ['panel install (the first)']);
  assert.ok(!b.ok);
  assert.equal(b.error, 'another panel run holds the host lock (panel install (the first)); gave up after 1 s (--lock-wait)');

  const c = takeHostLock(open(), quiet('panel renew (the third)'));
  await new Promise((r) => setTimeout(r, 300));
  await a.lock.release();
  const got = await c;
  assert.ok(got.ok, got.ok ? '' : got.error);
  assert.equal(got.lock.waited, true, 'the third run waited for the first');
  await got.lock.release();
}

test('bash stand-in: the second run is told who holds the lock and gives up after --lock-wait; a waiting run gets it on release', async () => {
  const runDir = tempDir('panel-run-');
  await lockScenario(() => new BashTransport('h', { ...process.env, PANEL_RUN_DIR: runDir }));
});

test('interrupt: the holder makes the run\'s interrupt file, and takes it away on release', async () => {
  const runDir = tempDir('panel-run-');
  const controller = new AbortController();
  const got = await takeHostLock(new BashTransport('h', { ...process.env, PANEL_RUN_DIR: runDir }), { ...quiet('panel install'), signal: controller.signal });
  assert.ok(got.ok);
  const file = join(runDir, `interrupt.${got.lock.runId}`);
  assert.equal(existsSync(file), false);
  controller.abort();
  for (let i = 0; i < 50 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(existsSync(file), true, 'Ctrl-C reached the host');
  assert.match(got.lock.guard, new RegExp(`interrupt\\.${got.lock.runId}`));
  await got.lock.release();
  assert.deepEqual(readdirSync(runDir).filter((f) => f.startsWith('interrupt.')), []);
});

test('LocalTransport (connection: local): the same lock, held by a child process', { skip: process.getuid?.() !== 0 ? 'needs root' : false }, async () => {
  const runDir = tempDir('panel-run-');
  const saved = process.env['PANEL_RUN_DIR'];
  process.env['PANEL_RUN_DIR'] = runDir;
  try {
    await lockScenario(() => LocalTransport.open('local'));
  } finally {
    if (saved === undefined) delete process.env['PANEL_RUN_DIR'];
    else process.env['PANEL_RUN_DIR'] = saved;
  }
});
