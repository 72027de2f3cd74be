/** readPrivateKey on real keys made by ssh-keygen: the passphrase-protected one is told apart and pointed to ssh-agent. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readPrivateKey } from '../../src/transport/key-file.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('panel-key-file-');
const key = (name: string, passphrase: string): string => {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-f', f]);
  return f;
};

test('a passphrase-protected key: kind passphrase, advice to use ssh-add and SSH_AUTH_SOCK, no passphrase asked or shown', () => {
  const f = key('locked', 'hunter2 hunter2');
  const r = readPrivateKey(f);
  assert.ok(!r.ok);
  assert.equal(r.error.kind, 'passphrase');
  assert.match(r.error.message, new RegExp(`^key file ${f} is passphrase-protected, .*\\(ssh-add ${f}\\).*SSH_AUTH_SOCK$`));
  assert.ok(!r.error.message.includes('hunter2'));
});

test('a key without passphrase is read; a file that is no key and a missing file are told apart', () => {
  const plain = readPrivateKey(key('plain', ''));
  assert.ok(plain.ok && plain.value.toString().includes('OPENSSH PRIVATE KEY'));
  const junk = join(dir, 'junk');
  writeFileSync(junk, 'not a key\n');
  const bad = readPrivateKey(junk);
  assert.ok(!bad.ok && bad.error.kind === 'invalid', JSON.stringify(bad));
  const gone = readPrivateKey(join(dir, 'absent'));
  assert.ok(!gone.ok && gone.error.kind === 'unreadable' && /ENOENT/.test(gone.error.message));
});
