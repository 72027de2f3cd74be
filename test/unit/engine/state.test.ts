/**
 * The host state record: the prelude's journal + merge (real bash and awk,
 * in a scratch PANEL_STATE directory) and the engine's zod parse of the result.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ownerScript, parseHostState, readHostState, rebuildScript, recordScript, salvageHostState } from '../../../src/engine/state.js';
import { PRELUDE } from '../../../src/resources/prelude.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const stateDir = join(dir, 'lib');

function apply(body: string): { code: number; stderr: string } {
  const r = spawnSync('bash', ['-s'], { input: `export PANEL_MODE=apply PANEL_STATE=${stateDir}\n${PRELUDE}\n${body}\n`, encoding: 'utf8' });
  return { code: r.status ?? 1, stderr: r.stderr };
}

const stateText = (): string => readFileSync(join(stateDir, 'state.json'), 'utf8');

test('journal lines become state.json at the end of the script; first existed/backup are kept; deletes work', () => {
  const f = join(dir, 'a b"c.conf');
  writeFileSync(f, 'before\n');
  const owner = { recipe: 'web', resource: `file:${f}` };
  const write = (content: string, existed = true): string =>
    [
      '(',
      'set -euo pipefail',
      String(ownerScript(owner)),
      `panel_write '${f.replace(/'/g, `'\\''`)}' 0644 - - always '' 'printf "${content}\\n"'`,
      String(recordScript({ kind: 'file', path: f, existed }, owner)),
      String(recordScript({ kind: 'package', name: 'nginx' }, owner)),
      String(recordScript({ kind: 'artifact', path: 'x/tool', sha256: 'b'.repeat(64), source: 'checksums-file' }, owner)),
      ')',
    ].join('\n');
  assert.equal(apply(write('one')).code, 0);
  const first = parseHostState(stateText());
  assert.ok(first.ok, first.ok ? '' : first.error);
  const rec = first.value.record(f);
  assert.ok(rec?.kind === 'file' && rec.existed && rec.backup !== null && readFileSync(rec.backup, 'utf8') === 'before\n', JSON.stringify(rec));

  // A second write: new checksum, but "existed" and the backup of the version before panel stay.
  // The second write says the file did not exist (panel made it): the first record's word wins.
  const second2 = write('two', false);
  assert.notEqual(second2, write('two'), 'the second write records existed=false');
  assert.equal(apply(second2).code, 0);
  const second = parseHostState(stateText());
  assert.ok(second.ok);
  const rec2 = second.value.record(f);
  assert.ok(rec2?.kind === 'file' && rec2.backup === rec.backup && rec2.existed && rec2.sha256 !== rec.sha256);
  assert.equal(second.value.artifact('x/tool')?.source, 'checksums-file');

  // A pending restart is merged at once (before the rest of the script), a clear at the end.
  const r = apply(`panel_pending_set nginx.service restart\ngrep -q '"nginx.service"' ${stateDir}/state.json || exit 9\n${String(recordScript({ kind: 'forget', id: 'package:nginx' }, owner))}\npanel_pending_clear nginx.service\nexit 3`);
  assert.equal(r.code, 3, 'the exit status survives the merge on exit');
  const third = parseHostState(stateText());
  assert.ok(third.ok);
  assert.equal(third.value.record('package:nginx'), undefined);
  assert.equal(third.value.pending('nginx.service'), undefined);
  assert.equal(third.value.records.length, 1);
});

test('parse: empty means nothing recorded; newer versions, bad JSON and a reformatted file are refused with a reason', () => {
  const empty = parseHostState('');
  assert.ok(empty.ok && empty.value.records.length === 0);
  const v2 = parseHostState('{"schema":"panel-state","version":2}');
  assert.ok(!v2.ok && /version 2, newer than this panel understands/.test(v2.error));
  const bad = parseHostState('{"schema":');
  assert.ok(!bad.ok && /not valid JSON/.test(bad.error));
  const pretty = JSON.stringify(
    { schema: 'panel-state', version: 1, updated: '', records: { 'package:x': { kind: 'package', recipe: 'r', resource: 'apt:x', name: 'x', existed: false, at: '' } }, pending: {}, artifacts: {} },
    null,
    2,
  );
  const p = parseHostState(pretty);
  assert.ok(!p.ok && /one-entry-per-line layout/.test(p.error), p.ok ? 'accepted' : p.error);
  const wrong = parseHostState('{"schema":"panel-state","version":1,"updated":"","records":{"x":{"kind":"file"}},"pending":{},"artifacts":{}}');
  assert.ok(!wrong.ok && /does not match schema version 1: records\.x/.test(wrong.error), wrong.ok ? '' : wrong.error);
});

test('a damaged record is located (file:line:col), its whole entry lines salvaged, and the next merge drops the cut line', () => {
  rmSync(stateDir, { recursive: true, force: true });
  const owner = { recipe: 'web', resource: 'apt:x' };
  assert.equal(apply(['x', 'y', 'z'].map((n) => String(recordScript({ kind: 'package', name: n }, owner))).join('\n')).code, 0);
  const whole = stateText();
  const cutAt = whole.indexOf('"package:z"') + 20;
  const cut = whole.slice(0, cutAt);
  const line = cut.split('\n').length;
  const p = parseHostState(cut);
  assert.ok(!p.ok && p.error.startsWith(`/var/lib/panel/state.json:${line}:`), p.ok ? 'accepted' : p.error);
  const s = salvageHostState(cut);
  assert.deepEqual(s.state.records.map(([id]) => id), ['package:x', 'package:y']);
  assert.equal(s.unreadable, 1);
  // install/check go on with a warning; uninstall refuses unless asked to rebuild.
  const onInstall = readHostState(cut);
  assert.ok(onInstall.ok && onInstall.warning?.startsWith('/var/lib/panel/state.json:'));
  const refused = readHostState(cut, { rebuildRecord: false });
  assert.ok(!refused.ok && /uninstall removes nothing .*--rebuild-record/.test(refused.error));
  assert.ok(readHostState(cut, { rebuildRecord: true }).ok);

  writeFileSync(join(stateDir, 'state.json'), cut);
  assert.equal(apply(String(recordScript({ kind: 'package', name: 'w' }, owner))).code, 0);
  const merged = parseHostState(stateText());
  assert.ok(merged.ok, merged.ok ? '' : `${merged.error}\n${stateText()}`);
  assert.deepEqual(merged.value.records.map(([id]) => id), ['package:x', 'package:y', 'package:w']);

  // A rebuild starts the record over from what was salvaged.
  writeFileSync(join(stateDir, 'state.json'), cut);
  assert.equal(apply(String(rebuildScript(s.state))).code, 0);
  const rebuilt = parseHostState(stateText());
  assert.ok(rebuilt.ok && rebuilt.value.records.length === 2, rebuilt.ok ? '' : rebuilt.error);
});

test('a backup the record points at is never pruned, however many come after it', () => {
  rmSync(stateDir, { recursive: true, force: true });
  const f = join(dir, 'pruned.conf');
  const backups = join(stateDir, 'backups');
  const name = f.replace(/\//g, '%');
  writeFileSync(f, 'x\n');
  const stamps = ['20260101T000001', '20260101T000002', '20260101T000003', '20260101T000004', '20260101T000005', '20260101T000006'].map((t) => join(backups, `${name}.${t}.000000000Z`));
  // The record points at the SECOND backup (the first was of an earlier, forgotten install).
  const pointed = stamps[1]!;
  const setup = `mkdir -p ${backups} && touch ${stamps.map((s) => `'${s}'`).join(' ')} && printf '{\\n  "records": {\\n    "%s": {"kind":"file","backup":"%s"}\\n  }\\n}\\n' '${f}' '${pointed}' > ${join(stateDir, 'state.json')}`;
  const r = apply(`${setup}\npanel_backup '${f}' >/dev/null`);
  assert.equal(r.code, 0, r.stderr);
  const left = spawnSync('ls', [backups], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
  assert.ok(left.some((l) => pointed.endsWith(l)), `the backup the record points at is gone: ${left.join(' ')}`);
  assert.ok(!left.some((l) => stamps[2]!.endsWith(l)), `an unreferenced old backup is pruned: ${left.join(' ')}`);
});
