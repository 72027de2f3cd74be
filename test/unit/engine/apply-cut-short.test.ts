/**
 * A connection cut while the apply script is still travelling to the host
 * leaves bash with a script that ends early. Whatever the cut point, no step
 * may run half: each step is one compound command, which bash parses whole
 * before running any of it, so a step whose text did not all arrive is a
 * syntax error and does nothing. The step here writes its file in place on
 * purpose (no temp file + rename), so only that property keeps the file whole.
 * Runs the engine's real apply script in a local bash (no host needed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { applyScript } from '../../../src/engine/batch.js';
import type { Change } from '../../../src/resources/types.js';
import { sh, withBytes } from '../../../src/shell.js';
import { tempDir } from '../../support/temp.js';

test('an apply script cut short at any point never runs a step half: its file is absent or whole', () => {
  const dir = tempDir('panel-cut-');
  const target = join(dir, 'config');
  const content = Array.from({ length: 200 }, (_, i) => `line ${i} of the configuration`).join('\n');
  const change: Change = {
    resource: `file:${target}`,
    action: 'create',
    target,
    reason: 'absent',
    // The content travels as the here-document panel's file writes use (withBytes), written in place.
    script: withBytes(sh`base64 -d > ${target}`, Buffer.from(`${content}\n`)),
  };
  const script = applyScript([change], '', 'demo');
  const b64 = Buffer.from(`${content}\n`).toString('base64');
  const start = script.indexOf(b64.slice(0, 60));
  assert.ok(start > 0);
  // Every 2999th byte of the script, and densely inside the file's text.
  const cuts = new Set<number>();
  for (let at = 1; at < script.length; at += 2999) cuts.add(at);
  for (let at = start; at < start + b64.length; at += 97) cuts.add(at);
  let ran = 0;
  for (const at of [...cuts].sort((a, b) => a - b)) {
    rmSync(target, { force: true });
    spawnSync('bash', ['-s'], { input: script.slice(0, at), env: { ...process.env, PANEL_STATE: join(dir, 'state') }, encoding: 'utf8' });
    if (!existsSync(target)) continue;
    ran++;
    assert.equal(readFileSync(target, 'utf8'), `${content}\n`, `cut at byte ${at} of ${script.length}: the step ran with part of its text`);
  }
  // The whole script does write it (so "absent" above was the cut, not a broken step).
  rmSync(target, { force: true });
  const whole = spawnSync('bash', ['-s'], { input: script, env: { ...process.env, PANEL_STATE: join(dir, 'state') }, encoding: 'utf8' });
  assert.match(whole.stdout, /@@panel-ok 0/, whole.stderr);
  assert.equal(readFileSync(target, 'utf8'), `${content}\n`);
  assert.ok(ran < cuts.size, 'some cuts came before the step was complete');
});
