import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostDisplayName, parseHostSpec } from '../../src/cli/host-spec.js';

test('--host accepts what fleet.yaml accepts and names the bad part otherwise', () => {
  assert.deepEqual(parseHostSpec('deploy@web1.example.com:2222'), { user: 'deploy', address: 'web1.example.com', port: 2222 });
  assert.deepEqual(parseHostSpec('10.0.0.5'), { user: 'root', address: '10.0.0.5', port: 22 });
  assert.deepEqual(parseHostSpec('root@[2001:db8::1]:22'), { user: 'root', address: '2001:db8::1', port: 22 });
  assert.equal(hostDisplayName({ user: 'root', address: '2001:db8::1', port: 22 }), 'root@[2001:db8::1]:22');
  const bad: Array<[string, RegExp]> = [
    ['root@10.0.0.1;reboot', /invalid address/],
    ['root@10.0.0.1:99999', /invalid port/],
    ['root@10.0.0.1:0', /invalid port/],
    ['Ro$t@10.0.0.1', /invalid user name/],
    ['root@[not-v6]:22', /invalid IPv6 address/],
    ['root@2001:db8::1', /in brackets/],
    ['root@-bad-.example.com', /invalid address/],
  ];
  for (const [spec, re] of bad) {
    const r = parseHostSpec(spec);
    assert.ok('error' in r, spec);
    assert.match(r.error, re, spec);
  }
});
