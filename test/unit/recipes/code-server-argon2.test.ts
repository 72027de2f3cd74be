/**
 * code-server's password hash (src/codeserver/argon2.ts, plain JavaScript so
 * the single executable needs no native module) against an independent
 * implementation: Debian's `argon2` command, the reference C implementation
 * (phc-winner-argon2). Its verification is "hash again with the salt and
 * costs of the encoded string and compare", so each case runs the command
 * with those and compares the whole encoded string.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, verifyPassword } from '../../../src/codeserver/argon2.js';

/** The reference implementation's encoded hash (argon2(1): salt is the first argument, the password on stdin). */
function reference(password: string, salt: Buffer, o: { type: 'id' | 'i' | 'd'; t: number; k: number; p: number }): string {
  // bash's $'\xNN' quoting passes every salt byte as it is (only NUL cannot be in an argument).
  assert.ok(!salt.includes(0), 'a salt for argon2(1) has no NUL byte');
  const quoted = `$'${[...salt].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}'`;
  const r = spawnSync('bash', ['-c', `exec argon2 ${quoted} -${o.type} -t ${o.t} -k ${o.k} -p ${o.p} -l 32 -e`], { input: password, encoding: 'utf8' });
  assert.equal(r.status, 0, `argon2(1) failed (apt-get install argon2): ${r.stderr}${r.error?.message ?? ''}`);
  return r.stdout.trim();
}

function saltWithoutNul(): Buffer {
  for (;;) {
    const s = randomBytes(16);
    if (!s.includes(0)) return s;
  }
}

test('argon2id hashes are the reference implementation\'s, byte for byte, with code-server\'s costs', () => {
  for (const password of ['correct horse battery', 'pässwörd with ünïcode ✓', 'x'.repeat(100)]) {
    const salt = saltWithoutNul();
    const ours = hashPassword(password, salt);
    assert.match(ours, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(ours, reference(password, salt, { type: 'id', t: 2, k: 19456, p: 1 }));
  }
});

test('hashes made elsewhere verify (other variants and costs, an earlier panel\'s @node-rs/argon2 hash); wrong passwords and junk do not', () => {
  const salt = saltWithoutNul();
  for (const o of [{ type: 'id', t: 3, k: 4096, p: 2 }, { type: 'i', t: 1, k: 1024, p: 1 }, { type: 'd', t: 2, k: 2048, p: 4 }] as const) {
    const theirs = reference('from argon2(1)', salt, o);
    assert.ok(verifyPassword(theirs, 'from argon2(1)'), theirs);
    assert.ok(!verifyPassword(theirs, 'from argon2(1) '), theirs);
  }
  // Made by @node-rs/argon2 2.0's hashSync (panel before the single executable): installs keep their hash.
  const earlier = '$argon2id$v=19$m=19456,t=2,p=1$VZSsWwb3yopxqk0FKpHpwA$sALalj+ekT6vN5FC0VmkAysorkB9AjmBPehKIaJ00oo';
  assert.ok(verifyPassword(earlier, 'code-server compat 1'));
  assert.ok(!verifyPassword(earlier, 'code-server compat 2'));
  for (const junk of ['', 'plain', '$argon2id$v=19$m=19456,t=2,p=1$$', '$argon2id$v=19$m=99999999,t=2,p=1$VZSsWwb3yopxqk0FKpHpwA$sALalj+ekT6vN5FC0VmkAysorkB9AjmBPehKIaJ00oo']) {
    assert.ok(!verifyPassword(junk, 'code-server compat 1'), junk);
  }
});
