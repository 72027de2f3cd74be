/**
 * A check may wait longer than the run (faasd's gateway pulls its images at the
 * first start): the verify script, run by bash here, retries that one check
 * until its own deadline and the others until the run's, with a pause between
 * tries that grows from 0.1 s to 0.5 s.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseVerify, verifyScript } from '../../src/engine/batch.js';
import type { Check } from '../../src/resources/types.js';
import { sh } from '../../src/shell.js';
import { tempDir } from '../support/temp.js';

/** Passes on its `n`th try: each try appends a line to `file`. */
function nthTry(n: number, name: string, file: string, waitSeconds?: number): Check {
  return { name, script: sh`echo x >> ${file}; [ "$(wc -l < ${file})" -ge ${String(n)} ]`, ...(waitSeconds === undefined ? {} : { waitSeconds }) };
}

function run(checks: readonly Check[], wait: number, env: NodeJS.ProcessEnv = process.env): boolean[] {
  const out = execFileSync('bash', ['-c', verifyScript(checks, wait)], { encoding: 'utf8', env });
  return parseVerify(out, checks).map((o) => o.ok);
}

/** A `sleep` first on PATH that returns at once and writes each pause it was asked for to `log`; with `whole`, it refuses fractions as a sleep without them does. */
function sleepShim(dir: string, log: string, whole = false): NodeJS.ProcessEnv {
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const refuse = whole ? 'case $1 in *.*) exit 1 ;; esac\n' : '';
  writeFileSync(join(bin, 'sleep'), `#!/bin/sh\necho "$1" >> ${log}\n${refuse}exit 0\n`, { mode: 0o755 });
  return { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
}

test('a check with its own longer wait is retried past the run\'s wait; the others are not', () => {
  const dir = tempDir('panel-verify-wait-');
  // Run wait 1 s. Eight tries need 2.7 s of pauses (0.1 + 0.2 + 0.4 + 4 × 0.5), so the plain check,
  // bound by the run's second, cannot reach its eighth however fast the machine; the one allowed 20 s does.
  assert.deepEqual(run([nthTry(8, 'plain', join(dir, 'a')), nthTry(8, 'slow start', join(dir, 'b'), 20)], 1), [false, true]);
});

test('a run that does not wait (plan, check) tries every check once, whatever its own wait', () => {
  const dir = tempDir('panel-verify-wait-');
  assert.deepEqual(run([nthTry(3, 'slow start', join(dir, 'c'), 20)], 0), [false]);
});

test('between tries the pause grows from 0.1 s to 0.5 s and stays there', () => {
  const dir = tempDir('panel-verify-wait-');
  const log = join(dir, 'pauses');
  assert.deepEqual(run([nthTry(7, 'slow start', join(dir, 'd'), 20)], 5, sleepShim(dir, log)), [true]);
  assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter(Boolean), ['0.1', '0.2', '0.4', '0.5', '0.5', '0.5']);
});

test('where sleep takes no fractions, each pause is a whole second: the loop never spins', () => {
  const dir = tempDir('panel-verify-wait-');
  const log = join(dir, 'pauses');
  assert.deepEqual(run([nthTry(3, 'slow start', join(dir, 'e'), 20)], 5, sleepShim(dir, log, true)), [true]);
  assert.deepEqual(readFileSync(log, 'utf8').split('\n').filter(Boolean), ['0.1', '1', '0.2', '1']);
});
