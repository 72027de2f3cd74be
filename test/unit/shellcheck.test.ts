/**
 * Every shell file in the repository passes Debian's shellcheck (what
 * `npm run lint:sh` runs), and the prelude is exactly its `.sh` files: one
 * left out of PRELUDE_FILES would be checked here but never sent to a host.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { APT_WAIT_MINUTES } from '../../src/resources/apt.js';
import { MAX_DIFF_BYTES } from '../../src/resources/file.js';
import { PRELUDE, PRELUDE_FILES, REBOOT_MARKER } from '../../src/resources/prelude.js';

const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

function shellFiles(dir: string): string[] {
  return readdirSync(join(packageRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.sh'))
    .map((f) => join(dir, f))
    .sort();
}
const CHECKED = ['src', 'scripts', 'bench', '.ci'].flatMap(shellFiles);

test('every .sh file passes shellcheck (npm run lint:sh)', () => {
  assert.ok(CHECKED.length >= 10, CHECKED.join(' '));
  const r = spawnSync('shellcheck', ['--severity=style', ...CHECKED], { cwd: packageRoot, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'shellcheck is installed (apt-get install shellcheck)');
  assert.equal(r.status, 0, r.stdout);
  for (const dir of ['src', 'scripts', 'bench', '.ci']) assert.match(pkg.scripts['lint:sh'] ?? '', new RegExp(` ${dir.replace('.', '\\.')}\\b`));
});

test('no shell file disables a check for the whole file or without saying why', () => {
  for (const f of CHECKED) {
    const lines = readFileSync(join(packageRoot, f), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (!/#\s*shellcheck\s+disable=/.test(line)) return;
      assert.match(line, /disable=SC\d+(,SC\d+)*\s+#\s*\S/, `${f}:${i + 1}: a disable says why`);
      // A directive before the first command applies to the whole file.
      assert.ok(lines.slice(0, i).some((l) => l.trim() !== '' && !l.trim().startsWith('#')), `${f}:${i + 1}: a file-wide disable`);
    });
  }
});

test('the prelude is its .sh files, in order, with the constants from TypeScript', () => {
  const dir = join(packageRoot, 'src', 'resources');
  assert.deepEqual([...PRELUDE_FILES].sort(), shellFiles('src/resources').map((f) => relative('src/resources', f)));
  let at = 0;
  for (const f of PRELUDE_FILES) {
    const i = PRELUDE.text.indexOf(readFileSync(join(dir, f), 'utf8'), at);
    assert.ok(i >= at, `${f} is in the prelude, after the files before it`);
    at = i;
  }
  assert.ok(PRELUDE.includes(`PANEL_MAX_DIFF_BYTES=${MAX_DIFF_BYTES}\n`));
  assert.ok(PRELUDE.includes(`: "\${PANEL_APT_WAIT:=${APT_WAIT_MINUTES * 60}}"\n`));
  assert.ok(PRELUDE.includes(`PANEL_REBOOT_MARKER=${REBOOT_MARKER}\n`));
  // The values are written once, in TypeScript.
  for (const f of PRELUDE_FILES) {
    const text = readFileSync(join(dir, f), 'utf8');
    assert.doesNotMatch(text, /262144|@@panel-reboot-required|PANEL_APT_WAIT:=/, f);
  }
});

test('panel_reboot_required prints the marker the engine collects', () => {
  const r = spawnSync('bash', ['-s'], { input: `${PRELUDE}\npanel_reboot_required /srv/x 'busy mount'\n`, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${REBOOT_MARKER} /srv/x (busy mount)\n`);
});
