import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HOST_INFO_SCRIPT, parseHostInfo } from '../../src/host-info.js';
import { tempDir } from '../support/temp.js';

test('the host info script really expands os-release variables (run in local bash)', () => {
  const r = spawnSync('bash', ['-s'], { input: HOST_INFO_SCRIPT, encoding: 'utf8' });
  assert.equal(r.status, 0);
  const info = parseHostInfo(r.stdout);
  assert.doesNotMatch(info.osId, /\$/);
  assert.doesNotMatch(info.osPretty, /\$/);
  assert.notEqual(info.osId, 'unknown');
});

test('parseHostInfo maps architectures and flags', () => {
  const info = parseHostInfo('osId=ubuntu\nosVersion=22.04\nosPretty=Ubuntu 22.04.4 LTS\nrawArch=aarch64\nipv6=0\nsystemd=1\nhostname=web1\n');
  assert.equal(info.arch, 'arm64');
  assert.equal(info.ipv6, false);
  assert.equal(info.systemd, true);
  assert.equal(parseHostInfo('rawArch=s390x\n').arch, undefined);
  const dir = tempDir('hi-');
  writeFileSync(join(dir, 'x'), '');
});

test('nameservers: loopback stubs left out, in order, once (which file is read: test/integration/hostfix)', () => {
  const info = parseHostInfo('osId=ubuntu\nnameserver=127.0.0.53\nnameserver=10.0.0.2\nnameserver=2001:db8::53\nnameserver=10.0.0.2\nnameserver=::1\n');
  assert.deepEqual(info.nameservers, ['10.0.0.2', '2001:db8::53']);
  assert.deepEqual(parseHostInfo('osId=debian\n').nameservers, []);
});
