import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { ConnectError, LocalTransport, NOT_ROOT_MESSAGE, openTransport } from '../../src/transport/index.js';
import { tempDir } from '../support/temp.js';

const isRoot = process.getuid?.() === 0;

test('LocalTransport refuses to open when not root', () => {
  assert.throws(
    () => LocalTransport.open('local', 1000),
    (e: unknown) => e instanceof ConnectError && e.kind === 'not-root' && e.message === NOT_ROOT_MESSAGE,
  );
});

test('exec: stdout, stderr, non-zero exit is a result; script read from stdin', { skip: !isRoot }, async () => {
  const t = await openTransport({ kind: 'local' }, 'local');
  const r = await t.exec('echo out; echo err >&2; echo "$0"; exit 7');
  assert.deepEqual(r, { code: 7, stdout: 'out\nbash\n', stderr: 'err\n' });
  // Quotes and $ in the script are not reinterpreted by any outer shell.
  const q = await t.exec(`printf '%s' "it's \\$HOME"`);
  assert.equal(q.stdout, `it's $HOME`);
  assert.equal(t.stats.channels, 2);
  assert.ok(t.stats.bytesSent > 0 && t.stats.bytesReceived > 0);
});

test('exec: timeoutMs kills the command and returns 124', { skip: !isRoot }, async () => {
  const t = await openTransport({ kind: 'local' }, 'local');
  const dir = tempDir('panel-local-timeout-');
  const done = join(dir, 'finished');
  const r = await t.exec(`sleep 20.25 & sleep 20.25; touch ${done}; echo never`, { timeoutMs: 300 });
  assert.equal(r.code, 124);
  assert.equal(r.stdout, '');
  // Killed, not waited for: the command never reached its end, and no sleep of it is left.
  assert.equal(existsSync(done), false);
  assert.equal(spawnSync('pgrep', ['-f', 'sleep 20[.]25']).status, 1, 'a sleep of the command is still running');
});

test('put/get: atomic write, mode, kept mode, absent file, 2 MB binary', { skip: !isRoot }, async () => {
  const t = await openTransport({ kind: 'local' }, 'local');
  const dir = tempDir('panel-local-');
  const data = randomBytes(2 * 1024 * 1024);
  const path = join(dir, 'new', 'sub', 'file.bin');
  await t.put(path, data, 0o640);
  assert.ok(readFileSync(path).equals(data));
  assert.equal(statSync(path).mode & 0o7777, 0o640);
  assert.ok((await t.get(path))?.equals(data));
  assert.equal(await t.get(join(dir, 'absent')), undefined);

  const kept = join(dir, 'kept');
  writeFileSync(kept, 'old');
  chmodSync(kept, 0o600);
  await t.put(kept, Buffer.from('new'));
  assert.equal(readFileSync(kept, 'utf8'), 'new');
  assert.equal(statSync(kept).mode & 0o7777, 0o600, 'replacing keeps the mode when none is given');

  // Data that looks like shell must never run.
  const evil = join(dir, 'evil');
  await t.put(evil, Buffer.from(`\ntouch ${dir}/pwned\nexit 0\n`));
  assert.throws(() => statSync(join(dir, 'pwned')));
  // Names with spaces and quotes are quoted, no temp files are left behind.
  const odd = join(dir, `it's a "file"`);
  await t.put(odd, Buffer.from('x'));
  assert.equal(readFileSync(odd, 'utf8'), 'x');
  const left = await t.exec(`ls -A ${JSON.stringify(dir)} | grep -c panel-put || true`);
  assert.equal(left.stdout.trim(), '0');
  await assert.rejects(t.put('relative/path', Buffer.from('x')), /absolute/);
  await assert.rejects(t.get(dir), /reading .* failed/);
});
