/**
 * panel_file_facts with the batch's stat prefetched (panel_files_prefetch):
 * the same answer as one stat per path, from one stat process; the stat
 * cache's hits cost no hash (and no subshell), PANEL_DEEP=1 hashes anyway.
 * Real bash, stat and sha256sum on a scratch directory; `stat` and
 * `sha256sum` are wrappers on PATH that count their calls.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { factBatchScript, parseFactBatch, runsInline } from '../../../src/engine/batch.js';
import { directory } from '../../../src/resources/directory.js';
import { file } from '../../../src/resources/file.js';
import { service } from '../../../src/resources/service.js';
import { lines, sh } from '../../../src/shell.js';
import { tempDir } from '../../support/temp.js';

const dir = tempDir('panel-file-facts-');
after(() => rmSync(dir, { recursive: true, force: true }));
const state = join(dir, 'state');
const bin = join(dir, 'bin');
const log = join(dir, 'calls.log');
const root = join(dir, 'root');
mkdirSync(state);
mkdirSync(bin);
mkdirSync(root);
for (const tool of ['stat', 'sha256sum']) {
  const real = execFileSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
  writeFileSync(join(bin, tool), `#!/bin/bash\necho ${tool} >>'${log}'\nexec ${real} "$@"\n`);
  chmodSync(join(bin, tool), 0o755);
}

const p = (name: string): string => join(root, name);
writeFileSync(p('conf'), 'hello\n');
chmodSync(p('conf'), 0o640);
writeFileSync(p('empty'), '');
writeFileSync(p("it's $x\ttab"), 'odd name\n');
mkdirSync(p('dir'));
chmodSync(p('dir'), 0o750);
symlinkSync(p('conf'), p('link'));
execFileSync('mkfifo', [p('fifo')]);

const files = ['conf', 'empty', "it's $x\ttab", 'link', 'fifo', 'absent'].map((n) => file({ path: p(n), content: 'hello\n' }));
const resources = [...files, directory({ path: p('dir') }), directory({ path: p('absent-dir') })];

function run(script: string, env: Record<string, string> = {}): { outs: string[]; calls: string[] } {
  writeFileSync(log, '');
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, PANEL_STATE: state, ...env } });
  assert.equal(r.status, 0, r.stderr);
  const parsed = parseFactBatch(r.stdout, resources.length);
  assert.ok(parsed.ok);
  return { outs: parsed.value.map((o) => `${o.code}\n${o.stdout}`), calls: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const snippets = resources.map((r) => r.facts());
const paths = resources.flatMap((r) => r.paths ?? []);

test('prefetched stat: the same facts as one stat per path, from one stat process', () => {
  const alone = run(factBatchScript(snippets, false));
  const together = run(factBatchScript(snippets, false, [], paths));
  assert.deepEqual(together.outs, alone.outs);
  // One stat per path that is there (conf, empty, odd name, link, fifo, dir), one for all.
  assert.deepEqual(alone.calls.filter((c) => c === 'stat').length, 6);
  assert.deepEqual(together.calls.filter((c) => c === 'stat').length, 1);
  const conf = resources[0]!.parse({ stdout: together.outs[0]!.slice(2), code: 0 });
  assert.deepEqual(conf, {
    exists: true,
    type: 'file',
    owned: { mode: 0o640, owner: (conf as { owned: { owner: string } }).owned.owner, uid: process.getuid!(), group: (conf as { owned: { group: string } }).owned.group, gid: process.getgid!() },
    size: 6,
    sha256: '5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03',
  });
  const types = together.outs.map((o) => /^type=(.*)$/m.exec(o)?.[1] ?? 'absent');
  assert.deepEqual(types, ['file', 'file', 'file', 'symlink', 'other', 'absent', 'directory', 'absent']);
  // The changed file's old content comes along for the diff, as before.
  assert.match(together.outs[1]!, /^content=$/m);
});

test('a prefetch answer that is not of the expected form is not used: each path is looked at alone', () => {
  const stub = join(dir, 'stub');
  mkdirSync(stub, { recursive: true });
  writeFileSync(join(stub, 'stat'), `#!/bin/bash\nif [[ $2 == '%n'$'\\n'* ]]; then echo stub >>'${log}'; printf '%s\\n' "$4" 81a4 mode=oops owner=x uid=0 group=x gid=0 size=1 '1 2 3'; exit 0; fi\nexec ${join(bin, 'stat')} "$@"\n`);
  chmodSync(join(stub, 'stat'), 0o755);
  const alone = run(factBatchScript(snippets, false));
  const garbled = run(factBatchScript(snippets, false, [], paths), { PATH: `${stub}:${bin}:${process.env.PATH ?? ''}` });
  assert.deepEqual(garbled.outs, alone.outs);
  // The stub answered the prefetch; every path that is there was then read by a stat of its own.
  assert.deepEqual(garbled.calls.filter((c) => c !== 'sha256sum'), ['stub', ...Array<string>(6).fill('stat')]);
});

test('stat cache: a recorded file with the same size, mtime and inode is not hashed; PANEL_DEEP=1 hashes it', () => {
  const key = execFileSync('stat', ['-c', '%s %.9Y %i', p('conf')], { encoding: 'utf8' }).trim().split(' ');
  const fake = 'a'.repeat(64);
  writeFileSync(
    join(state, 'state.json'),
    `{\n  "records": {\n    "${p('conf')}": {"kind":"file","path":"${p('conf')}","sha256":"${fake}","size":${key[0]},"mtime":"${key[1]}","ino":${key[2]}}\n  }\n}\n`,
  );
  const withMembers = [...snippets.slice(0, -1), lines(snippets.at(-1), sh`panel_members_facts ${root} conf empty`)];
  try {
    const cached = run(factBatchScript(withMembers, false, [], paths));
    assert.match(cached.outs[0]!, new RegExp(`^sha256=${fake}$`, 'm'));
    assert.match(cached.outs.at(-1)!, new RegExp(`^cur=${fake} 640 conf$`, 'm'));
    // Hashed: the empty file (not recorded) in the batch and as an archive member, the odd name; never conf.
    assert.equal(cached.calls.filter((c) => c === 'sha256sum').length, 3);
    const deep = run(factBatchScript(withMembers, true, [], paths));
    assert.match(deep.outs[0]!, /^sha256=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03$/m);
    assert.match(deep.outs.at(-1)!, /^cur=5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 640 conf$/m);
    assert.equal(deep.calls.filter((c) => c === 'sha256sum').length, 5);
  } finally {
    rmSync(join(state, 'state.json'));
  }
});

test('inline snippets: one call of a read-only fact function runs in the batch shell; anything else keeps its subshell', () => {
  // Every file and directory fact here is such a call, the odd name (single-quoted, with $ and a tab) included.
  assert.deepEqual(snippets.map((s) => runsInline(s)), snippets.map(() => true));
  assert.equal(runsInline(service({ name: 'faasd.service', enabled: true, running: true }).facts()), true);
  assert.equal(runsInline(sh.file('{\npanel_members_facts /opt/cni/bin bridge loopback\n} </dev/null')), true);
  for (const text of [
    "{\npanel_file_facts /x 0; exit 3\n} </dev/null",
    "{\npanel_file_facts $(touch /tmp/x) 0\n} </dev/null",
    "{\npanel_file_facts 'a'\\''b'\\ 0\n} </dev/null",
    "{\npanel_fail oops\n} </dev/null",
    "{\nx=1\n} </dev/null",
    'panel_file_facts /x 0',
  ]) {
    assert.equal(runsInline(sh.file(text)), false, text);
  }
});

test('inline and subshell snippets side by side: a snippet that exits or sets variables ends only its own subshell', () => {
  const mixed = [
    snippets[0]!,
    sh.file('{\nPANEL_FILE_STAT=(); p=/nowhere; echo before; exit 3\n} </dev/null'),
    ...snippets.slice(1),
  ];
  const r = spawnSync('bash', ['-s'], { input: factBatchScript(mixed, false, [], paths), encoding: 'utf8', env: { ...process.env, PANEL_STATE: state } });
  assert.equal(r.status, 0, r.stderr);
  const parsed = parseFactBatch(r.stdout, mixed.length);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value[1], { stdout: 'before\n', code: 3 });
  // The inline snippets after it still read the prefetched stats, and answer as in a batch without it.
  const plain = run(factBatchScript(snippets, false, [], paths)).outs;
  assert.deepEqual(parsed.value.filter((_, i) => i !== 1).map((o) => `${o.code}\n${o.stdout}`), plain);
});
