/**
 * The checks that ride along in a planning round trip, after the facts
 * (src/engine/planning-sections.ts checksSection): their answer parses with
 * parseVerify, in order, and the progress record's shell runs only when every
 * check passed. Real bash on the script the engine builds.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { factBatchScript, parseFactBatch, parseVerify } from '../../../src/engine/batch.js';
import { checksSection } from '../../../src/engine/planning-sections.js';
import type { Check } from '../../../src/resources/types.js';
import { type Script, sh } from '../../../src/shell.js';
import { tempDir } from '../../support/temp.js';

const dir = tempDir('panel-checks-section-');

function run(facts: Script[], checks: Check[], allPassed = ''): { stdout: string } {
  const script = factBatchScript(facts, false) + checksSection(checks, allPassed);
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, PANEL_STATE: join(dir, 'state') }, timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  return { stdout: r.stdout };
}

test("the checks' answer parses in order after the facts; the record of a run with nothing to do is written only when all pass", () => {
  const record = join(dir, 'checked');
  const allPassed = `: > '${record}'`;
  const pass: Check = { name: 'passes', script: sh`echo fine`, expect: /fine/ };
  const fail: Check = { name: 'fails', script: sh`echo broken; exit 3` };
  const facts = [sh`echo one`, sh`echo two`];

  rmSync(record, { force: true });
  const bad = run(facts, [pass, fail, pass], allPassed);
  const outs = parseFactBatch(bad.stdout, 2);
  assert.ok(outs.ok);
  assert.deepEqual(outs.value.map((o) => o.stdout.trim()), ['one', 'two']);
  const verdicts = parseVerify(bad.stdout, [pass, fail, pass]);
  assert.deepEqual(verdicts.map((v) => v.ok), [true, false, true]);
  assert.match(verdicts[1]!.detail, /exit 3: broken/);
  assert.equal(existsSync(record), false, 'a failing check: no record');

  run(facts, [pass, pass], allPassed);
  assert.equal(existsSync(record), true, 'every check passed: the record is written');
});

test('with no checks, the facts alone come back and the record is written', () => {
  const record = join(dir, 'checked-none');
  const { stdout } = run([sh`echo only`], [], `: > '${record}'`);
  const outs = parseFactBatch(stdout, 1);
  assert.ok(outs.ok);
  assert.equal(outs.value[0]!.stdout.trim(), 'only');
  assert.equal(existsSync(record), true);
});
