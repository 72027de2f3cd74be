import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { decideHostKey, type HostKeyPolicy } from '../../src/transport/host-key.js';
import { appendKnownHost, readKnownHosts } from '../../src/transport/known-hosts-file.js';
import {
  checkHostKey,
  fingerprint,
  hostName,
  keyTypeOf,
  knownHostsLine,
  knownKeyTypes,
  matchesHost,
  normalizeFingerprint,
  parseKnownHosts,
} from '../../src/transport/known-hosts.js';
import { tempDir } from '../support/temp.js';

const dir = tempDir('panel-kh-');

/** A real key made by ssh-keygen: its `type base64` public part and wire blob. */
function genKey(name: string, type: 'ed25519' | 'rsa' | 'ecdsa' = 'ed25519'): { type: string; b64: string; blob: Buffer; pubFile: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file]);
  const [t, b64] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  assert.ok(t && b64);
  return { type: t, b64, blob: Buffer.from(b64, 'base64'), pubFile: `${file}.pub` };
}

const A = genKey('a');
const B = genKey('b');
const R = genKey('r', 'rsa');

test('fingerprint matches ssh-keygen -lf for ed25519 and rsa', () => {
  for (const k of [A, R]) {
    const out = execFileSync('ssh-keygen', ['-lf', k.pubFile], { encoding: 'utf8' });
    const fp = out.split(' ')[1];
    assert.equal(fingerprint(k.blob), fp);
    assert.match(fingerprint(k.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  }
});

test('normalizeFingerprint accepts bare or padded base64', () => {
  const fp = fingerprint(A.blob);
  assert.equal(normalizeFingerprint(fp), fp);
  assert.equal(normalizeFingerprint(fp.slice('SHA256:'.length)), fp);
  assert.equal(normalizeFingerprint(`${fp}=`), fp);
});

test('keyTypeOf reads the type from the blob', () => {
  assert.equal(keyTypeOf(A.blob), 'ssh-ed25519');
  assert.equal(keyTypeOf(R.blob), 'ssh-rsa');
  assert.equal(keyTypeOf(Buffer.from('garbage')), undefined);
});

test('hostName brackets non-22 ports only', () => {
  assert.equal(hostName('10.0.0.5', 22), '10.0.0.5');
  assert.equal(hostName('10.0.0.5', 2222), '[10.0.0.5]:2222');
  assert.equal(hostName('Web.Example.COM', 22), 'web.example.com');
});

test('plain entry: match, changed, unknown', () => {
  const kh = parseKnownHosts(`10.0.0.5 ${A.type} ${A.b64}\n`);
  assert.deepEqual(checkHostKey(kh, '10.0.0.5', A.blob), { kind: 'match', fingerprint: fingerprint(A.blob) });
  assert.deepEqual(checkHostKey(kh, '10.0.0.5', B.blob), {
    kind: 'changed',
    fingerprint: fingerprint(B.blob),
    known: [fingerprint(A.blob)],
  });
  assert.equal(checkHostKey(kh, '10.0.0.6', A.blob).kind, 'unknown');
  // Port 22 entry does not cover another port.
  assert.equal(checkHostKey(kh, '[10.0.0.5]:2222', A.blob).kind, 'unknown');
});

test('[host]:port entries', () => {
  const kh = parseKnownHosts(`[10.0.0.5]:2222 ${A.type} ${A.b64}\n`);
  assert.equal(checkHostKey(kh, '[10.0.0.5]:2222', A.blob).kind, 'match');
  assert.equal(checkHostKey(kh, '10.0.0.5', A.blob).kind, 'unknown');
  assert.equal(checkHostKey(kh, '[10.0.0.5]:2222', B.blob).kind, 'changed');
});

test('comma lists, wildcards and negation', () => {
  const kh = parseKnownHosts(`web1,10.0.0.5,[10.0.0.7]:2200 ${A.type} ${A.b64}\n*.lan,!bad.lan ${B.type} ${B.b64}\n`);
  for (const n of ['web1', '10.0.0.5', '[10.0.0.7]:2200']) assert.equal(checkHostKey(kh, n, A.blob).kind, 'match', n);
  assert.equal(checkHostKey(kh, 'x.lan', B.blob).kind, 'match');
  assert.equal(checkHostKey(kh, 'bad.lan', B.blob).kind, 'unknown');
  assert.equal(checkHostKey(kh, 'web2', A.blob).kind, 'unknown');
});

test('hashed entries made by ssh-keygen -H', () => {
  const file = join(dir, 'hashed');
  writeFileSync(file, `10.0.0.5 ${A.type} ${A.b64}\n[10.0.0.5]:2222 ${B.type} ${B.b64}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
  const text = readFileSync(file, 'utf8');
  assert.ok(!text.includes('10.0.0.5'), 'ssh-keygen hashed the names');
  const kh = parseKnownHosts(text);
  assert.equal(kh.entries.length, 2);
  assert.equal(checkHostKey(kh, '10.0.0.5', A.blob).kind, 'match');
  assert.equal(checkHostKey(kh, '10.0.0.5', B.blob).kind, 'changed');
  assert.equal(checkHostKey(kh, '[10.0.0.5]:2222', B.blob).kind, 'match');
  assert.equal(checkHostKey(kh, '10.0.0.6', A.blob).kind, 'unknown');
  const first = kh.entries[0];
  assert.ok(first);
  assert.equal(matchesHost(first.patterns, '10.0.0.5'), true);
  assert.equal(matchesHost(first.patterns, '10.0.0.50'), false);
});

test('multiple keys per host: any equal key is accepted, changed lists all known', () => {
  const kh = parseKnownHosts(`h ${A.type} ${A.b64}\nh ${R.type} ${R.b64}\n`);
  assert.equal(checkHostKey(kh, 'h', A.blob).kind, 'match');
  assert.equal(checkHostKey(kh, 'h', R.blob).kind, 'match');
  const v = checkHostKey(kh, 'h', B.blob);
  assert.equal(v.kind, 'changed');
  assert.deepEqual(v.kind === 'changed' ? v.known : [], [fingerprint(A.blob), fingerprint(R.blob)]);
  assert.deepEqual(knownKeyTypes(kh, 'h'), ['ssh-ed25519', 'ssh-rsa']);
});

test('@revoked refuses the key even when another line accepts it', () => {
  const kh = parseKnownHosts(`h ${A.type} ${A.b64}\n@revoked * ${A.type} ${A.b64}\n`);
  assert.equal(checkHostKey(kh, 'h', A.blob).kind, 'revoked');
  assert.equal(checkHostKey(kh, 'other', A.blob).kind, 'revoked');
  // A revoked line alone does not make the host known for other keys.
  assert.equal(checkHostKey(kh, 'other', B.blob).kind, 'unknown');
});

test('@cert-authority lines are ignored', () => {
  const kh = parseKnownHosts(`@cert-authority * ${A.type} ${A.b64}\n`);
  assert.equal(kh.entries.length, 1);
  assert.equal(checkHostKey(kh, 'h', A.blob).kind, 'unknown');
  assert.equal(checkHostKey(kh, 'h', B.blob).kind, 'unknown');
});

test('comments, blank and malformed lines are skipped', () => {
  const text = [
    '# a comment',
    '',
    '   ',
    'onlyhost',
    `h ${A.type} not*base64`,
    `h ssh-rsa ${A.b64}`, // blob says ed25519
    `|1|bad|hash ${A.type} ${A.b64}`,
    `@weird h ${A.type} ${A.b64}`,
    `h ${A.type} ${A.b64} trailing comment words`,
  ].join('\n');
  const kh = parseKnownHosts(text);
  assert.equal(kh.entries.length, 1);
  assert.equal(kh.entries[0]?.line, 9);
  assert.deepEqual(
    kh.skipped.map((s) => s.line),
    [4, 5, 6, 7, 8],
  );
  assert.equal(checkHostKey(kh, 'h', A.blob).kind, 'match');
});

test('appending a new host: line format, modes, newline repair, then known', async () => {
  const file = join(dir, 'sub', '.ssh', 'known_hosts');
  const line = knownHostsLine(hostName('10.0.0.9', 2222), A.blob);
  assert.equal(line, `[10.0.0.9]:2222 ${A.type} ${A.b64}`);
  assert.equal(knownHostsLine(hostName('10.0.0.9', 22), A.blob), `10.0.0.9 ${A.type} ${A.b64}`);
  await appendKnownHost(file, line);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'sub', '.ssh')).mode & 0o777, 0o700);
  const kh = await readKnownHosts(file);
  assert.equal(checkHostKey(kh, '[10.0.0.9]:2222', A.blob).kind, 'match');

  // An existing file without a final newline keeps both lines intact.
  const other = join(dir, 'nonl');
  writeFileSync(other, `h ${B.type} ${B.b64}`);
  await appendKnownHost(other, `x ${A.type} ${A.b64}`);
  assert.equal(readFileSync(other, 'utf8'), `h ${B.type} ${B.b64}\nx ${A.type} ${A.b64}\n`);
  // ssh-keygen agrees the appended entry is there.
  const found = execFileSync('ssh-keygen', ['-F', '[10.0.0.9]:2222', '-f', file], { encoding: 'utf8' });
  assert.match(found, /Host \[10\.0\.0\.9\]:2222 found/);
});

test('a fleet parses its known_hosts once, not once per host; a new line (panel\'s or anyone\'s) is seen at once', async () => {
  const file = join(dir, 'fleet_known_hosts');
  writeFileSync(file, `h1 ${A.type} ${A.b64}\n`);
  const first = await readKnownHosts(file);
  assert.equal(await readKnownHosts(file), first, 'unchanged file: the same parse');
  await appendKnownHost(file, `h2 ${B.type} ${B.b64}`);
  assert.equal(checkHostKey(await readKnownHosts(file), 'h2', B.blob).kind, 'match', 'appended by panel');
  writeFileSync(file, `h3 ${B.type} ${B.b64}\n`);
  assert.equal(checkHostKey(await readKnownHosts(file), 'h3', B.blob).kind, 'match', 'rewritten by someone else');
});

test('missing known_hosts file reads as empty', async () => {
  const kh = await readKnownHosts(join(dir, 'does-not-exist'));
  assert.equal(kh.entries.length, 0);
});

const policy = (over: Partial<HostKeyPolicy> = {}): HostKeyPolicy => ({
  display: 'root@10.0.0.5:22',
  host: 'web',
  lookupName: '10.0.0.5',
  knownHostsFile: '/tmp/kh',
  trustNewHost: false,
  ...over,
});

test('decideHostKey: messages for unknown, changed, revoked, pin', () => {
  const kh = parseKnownHosts(`10.0.0.5 ${A.type} ${A.b64}\n@revoked * ${R.type} ${R.b64}\n`);
  assert.deepEqual(decideHostKey(kh, policy(), A.blob), { kind: 'accept' });

  const unknown = decideHostKey(kh, policy({ lookupName: '10.0.0.6' }), A.blob);
  assert.equal(unknown.kind, 'refuse');
  if (unknown.kind === 'refuse') {
    assert.equal(unknown.error.kind, 'host-key-unknown');
    assert.equal(
      unknown.error.message,
      `root@10.0.0.5:22: host key not known (${fingerprint(A.blob)}); verify it and re-run with --trust-new-host to record it in /tmp/kh`,
    );
  }
  assert.deepEqual(decideHostKey(kh, policy({ lookupName: '10.0.0.6', trustNewHost: true }), A.blob), {
    kind: 'record',
    line: `10.0.0.6 ${A.type} ${A.b64}`,
  });

  const changed = decideHostKey(kh, policy({ trustNewHost: true }), B.blob);
  assert.equal(changed.kind, 'refuse', 'trust-new-host never overrides a changed key');
  if (changed.kind === 'refuse') {
    assert.equal(changed.error.kind, 'host-key-changed');
    assert.equal(
      changed.error.message,
      `root@10.0.0.5:22: HOST KEY CHANGED — known_hosts has ${fingerprint(A.blob)}, host presented ${fingerprint(B.blob)}; refusing (possible man-in-the-middle)`,
    );
  }

  const revoked = decideHostKey(kh, policy({ pin: fingerprint(R.blob) }), R.blob);
  assert.equal(revoked.kind === 'refuse' && revoked.error.kind, 'host-key-revoked', 'a pin does not override @revoked');

  // A pin overrides known_hosts both ways.
  assert.deepEqual(decideHostKey(kh, policy({ pin: fingerprint(B.blob) }), B.blob), { kind: 'accept' });
  const wrongPin = decideHostKey(kh, policy({ pin: fingerprint(B.blob) }), A.blob);
  assert.equal(wrongPin.kind === 'refuse' && wrongPin.error.kind, 'host-key-changed');
  assert.match(wrongPin.kind === 'refuse' ? wrongPin.error.message : '', /pinned SHA256:.*host presented SHA256:/);
});
