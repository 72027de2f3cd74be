/**
 * A check may wait longer than the run (faasd's gateway pulls its images at the
 * first start): the verify script, run by bash here, retries that one check
 * until its own deadline and the others until the run's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseVerify, verifyScript } from '../../src/engine/batch.js';
import type { Check } from '../../src/resources/types.js';
import { sh } from '../../src/shell.js';
import { tempDir } from '../support/temp.js';

/** Passes on its third try: each try appends a line to `file`. */
function thirdTry(name: string, file: string, waitSeconds?: number): Check {
  return { name, script: sh`echo x >> ${file}; [ "$(wc -l < ${file})" -ge 3 ]`, ...(waitSeconds === undefined ? {} : { waitSeconds }) };
}

function run(checks: readonly Check[], wait: number): boolean[] {
  const out = execFileSync('bash', ['-c', verifyScript(checks, wait)], { encoding: 'utf8' });
  return parseVerify(out, checks).map((o) => o.ok);
}

test('a check with its own longer wait is retried past the run\'s wait; the others are not', () => {
  const dir = tempDir('panel-verify-wait-');
  // Run wait 1 s: the plain check gets two tries (0 s, 1 s) and fails; the one allowed 20 s gets its third.
  assert.deepEqual(run([thirdTry('plain', join(dir, 'a')), thirdTry('slow start', join(dir, 'b'), 20)], 1), [false, true]);
});

test('a run that does not wait (plan, check) tries every check once, whatever its own wait', () => {
  const dir = tempDir('panel-verify-wait-');
  assert.deepEqual(run([thirdTry('slow start', join(dir, 'c'), 20)], 0), [false]);
});
