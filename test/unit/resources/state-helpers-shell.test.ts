/**
 * The state record's helpers that set a variable in the caller's shell
 * instead of printing into a subshell: the same text as the printing ones
 * (and as date(1), sha256sum(1)), whatever the caller names its variable:
 * they keep no locals, since a helper's local of the caller's name would
 * swallow the value (the names below include the ones they once used).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { PRELUDE } from '../../../src/resources/prelude.js';
import { tempDir } from '../../support/temp.js';

function bash(body: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('/bin/bash', ['-s'], { input: `set -u\n${PRELUDE.text}\n${body}\n`, encoding: 'utf8', env: { ...process.env, ...env } });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

// Names callers use, and the helpers' own locals.
const NAMES = ['id', 'pj', 'm', 'oj', 'at', 'got', 'sha', '__sum', '__js', '__jv', '__r', '__s', '__hash_out', 'TZ_x'];

test('panel_json_set: what panel_json_str prints, into any variable; control characters fail and leave it alone', () => {
  const texts = ['/usr/local/bin/containerd', 'a "quoted" \\ path', 'with space and ü', ''];
  for (const v of NAMES) {
    for (const t of texts) {
      const quoted = `'${t.replace(/'/g, "'\\''")}'`;
      const out = bash(`${v}=unset; panel_json_set ${v} ${quoted}; printf '%s\\n' "$${v}"; panel_json_str ${quoted}; echo`);
      const [set, printed] = out.split('\n');
      assert.equal(set, printed, `${v} <- ${t}`);
      assert.equal(JSON.parse(set!), t);
    }
    assert.equal(bash(`${v}=kept; panel_json_set ${v} $'a\\tb' && echo ok || echo failed; printf '%s\\n' "$${v}"`), 'failed\nkept\n');
  }
});

test('panel_hash_set: sha256sum of the file, into any variable; a missing file fails', () => {
  const dir = tempDir('panel-helpers-');
  const f = join(dir, 'file with space');
  writeFileSync(f, 'some bytes\n');
  const want = spawnSync('sha256sum', [f], { encoding: 'utf8' }).stdout.split(' ')[0];
  for (const v of NAMES) {
    assert.equal(bash(`panel_hash_set ${v} '${f}'; printf '%s\\n' "$${v}"`), `${want}\n`, v);
  }
  assert.equal(bash(`panel_hash_set got '${dir}/absent' 2>/dev/null && echo ok || echo failed`), 'failed\n');
  // Bytes that are not a sum (a sha256sum that printed something else) fail too.
  assert.equal(bash(`sha256sum() { echo 'not a sum'; }; panel_hash_set got '${f}' && echo ok || echo failed`), 'failed\n');
});

test('panel_utc_set: the time in UTC whatever TZ the shell has, and TZ as it was afterwards', () => {
  const out = bash(`panel_utc_set at '%Y-%m-%dT%H:%M'; echo "$at"; date -u +%Y-%m-%dT%H:%M; printf '%(%z)T\\n' -1`, { TZ: 'Pacific/Kiritimati' });
  const [at, date, zone] = out.trim().split('\n');
  assert.equal(at, date); // (a minute boundary between the two would differ: rare, and a rerun passes)
  assert.equal(zone, '+1400');
});

test('panel_owner_set: the recipe and resource of the step as JSON, into any variable', () => {
  for (const v of NAMES) {
    const out = bash(`PANEL_RECIPE=faasd PANEL_RESOURCE='file:/var/lib/faasd/a "b"'; panel_owner_set ${v}; printf '{%s}\\n' "$${v}"`);
    assert.deepEqual(JSON.parse(out), { recipe: 'faasd', resource: 'file:/var/lib/faasd/a "b"' }, v);
  }
});
