/**
 * Patterns that let a test pass over nothing, refused in every test file:
 *  - `deepEqual(<verify list>, [])` with no count of the verifies that ran
 *    beside it (an install that stopped verifying has no failed verify);
 *    test/support/verifies.ts's assertVerified names the checks that must run;
 *  - an ordering `indexOf(a) < indexOf(b)` without a presence check (true when
 *    `a` is missing); test/support/order.ts's assertInOrder checks both.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';

/** Lines either side of a verify check where a count check may stand. */
const NEAR = 3;
const EMPTY_VERIFY_LIST = /deepEqual\((?=[^;]*verif)[^;]*,\s*\[\]\s*[,)]/i;
const VERIFY_COUNT = /verif[^;]*\.length|assertVerified\(/i;
const INDEX_ORDER = /(?:indexOf|findIndex)\([^;]*\)\s*[<>]=?\s*[^;]*(?:indexOf|findIndex)\(/;
const PRESENCE = /(?:indexOf|findIndex)\([^;]*\)\s*(?:>=\s*0|>\s*-1|!==?\s*-1)/;

/** Each finding as `line: text` (1-based line numbers). */
export function findings(source: string): string[] {
  const lines = source.split('\n');
  const out: string[] = [];
  lines.forEach((l, i) => {
    if (/^\s*(\*|\/\/|\/\*)/.test(l)) return; // comments may name the patterns
    if (EMPTY_VERIFY_LIST.test(l)) {
      const near = lines.slice(Math.max(0, i - NEAR), i + NEAR + 1);
      if (!near.some((n) => VERIFY_COUNT.test(n))) out.push(`${i + 1}: empty verify list without a count of verifies that ran: ${l.trim()}`);
    }
    if (INDEX_ORDER.test(l) && !PRESENCE.test(l)) out.push(`${i + 1}: indexOf ordering without a presence check (use assertInOrder): ${l.trim()}`);
  });
  return out;
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return testFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

test('the guard sees what it refuses, and lets the fixed forms pass', () => {
  const bad = [
    "assert.deepEqual(failedVerifies(run), []);",
    "assert.deepEqual(events(done).filter((e) => e.type === 'verify' && !e['ok']), []);",
    "assert.ok(lines.indexOf('-F CNI-FORWARD') < lines.indexOf('-X CNI-ADMIN'));",
    "assert.ok(ids.indexOf('faasd') < ids.indexOf('containerd') && ids.indexOf('containerd') < ids.indexOf('base'), ids.join(' '));",
  ];
  for (const b of bad) assert.equal(findings(b).length, 1, b);
  const good = [
    "assertVerified(run, STACK_VERIFIES);",
    "const failed = verifies(run).filter((v) => !v.ok);\nassert.ok(verifies(run).length > 0);\nassert.deepEqual(failed, []);",
    "assert.deepEqual(verifies(run).filter((v) => !v.ok), []);\nassert.equal(verifies(run).length, 4);",
    "assertInOrder(lines, ['-F CNI-FORWARD', '-X CNI-ADMIN']);",
    "assert.ok(s.indexOf(a) >= 0 && s.indexOf(a) < s.indexOf(b));",
    "assert.deepEqual(changes(run), []);",
  ];
  for (const g of good) assert.deepEqual(findings(g), [], g);
});

test('no test file checks an empty verify list without a count, or an ordering without presence', () => {
  // This file's own samples are the patterns.
  const files = testFiles(join(packageRoot, 'test')).filter((f) => !f.endsWith('test-guards.test.ts'));
  assert.ok(files.length > 50, `only ${files.length} test files found under ${join(packageRoot, 'test')}`);
  const found = files.flatMap((f) => findings(readFileSync(f, 'utf8')).map((x) => `${relative(packageRoot, f)}:${x}`));
  assert.deepEqual(found, []);
});
