/**
 * Certificates never silently expire: the ACME profile in the new-order
 * payload, and `panel renew --schedule` (units or cron line for the fleet it
 * was given; no secret ever written into them). The renewals themselves run
 * against Pebble in test/integration/browser.test.ts.
 */
import { domainNames } from '../../src/validate/domain.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tempDir } from '../support/temp.js';
import { join } from 'node:path';
import { test } from 'node:test';
import { newOrderPayload } from '../../src/acme/order.js';
import { cronLine, installSchedule, scheduleOf } from '../../src/acme/schedule.js';
import { renewArgv } from '../../src/acme/timer.js';
import { orderReason } from '../../src/acme/cert-info.js';

test('new order: the profile is sent only when asked for', () => {
  assert.deepEqual(newOrderPayload(['a.test', 'b.test'], undefined), { identifiers: [{ type: 'dns', value: 'a.test' }, { type: 'dns', value: 'b.test' }] });
  assert.deepEqual(newOrderPayload(['a.test'], 'shortlived'), { identifiers: [{ type: 'dns', value: 'a.test' }], profile: 'shortlived' });
});

test('renewal window: from two thirds of the lifetime on, and when expired', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-01-07T16:00:00Z'); // 160 h, like Let's Encrypt `shortlived`
  const have = { cert: { serial: '1', names: ['a.test'], notBefore, notAfter, issuer: 'x', ocsp: false }, keyPresent: true, directory: 'd' };
  const want = { names: ['a.test'], directory: 'd' };
  assert.equal(orderReason(have, want, new Date('2026-01-05T08:00:00Z')), undefined);
  assert.match(orderReason(have, want, new Date('2026-01-05T12:00:00Z'))!, /third of its lifetime/);
  assert.match(orderReason(have, want, new Date('2026-01-08T00:00:00Z'))!, /^expired/);
});

test('the on-host timer of a local install keeps the profile', () => {
  const argv = renewArgv({ name: 'local', connection: { kind: 'local' }, groups: [], recipes: [], params: {}, domains: domainNames('a.test'), acme: { directory: 'https://ca.test/d', profile: 'tlsserver' }, progressDir: '/var/lib/panel' }, ['/usr/bin/node', '/opt/panel/bin/panel.js']);
  assert.deepEqual(argv.slice(argv.indexOf('--acme-profile'), argv.indexOf('--acme-profile') + 2), ['--acme-profile', 'tlsserver']);
});

test('renew --schedule: a timer running the same renew in the same directory, or a cron line', () => {
  const cwd = '/srv/ops';
  const s = scheduleOf(['-i', 'fleet.yaml', '-m', 'ops@a.test', '--schedule', '--acme-profile', 'tlsserver'], cwd, ['/usr/bin/node', '/opt/panel/bin/panel.js']);
  assert.deepEqual(s.argv, ['/usr/bin/node', '/opt/panel/bin/panel.js', 'renew', '-i', 'fleet.yaml', '-m', 'ops@a.test', '--acme-profile', 'tlsserver']);
  assert.equal(scheduleOf(['-i', 'fleet.yaml', '-m', 'ops@a.test', '--acme-profile', 'tlsserver'], cwd, ['/usr/bin/node', '/opt/panel/bin/panel.js']).name, s.name, 'same command, same unit');
  assert.notEqual(scheduleOf(['-i', 'other.yaml'], cwd).name, s.name);
  assert.throws(() => scheduleOf(['-i', 'f.yaml', '-p', 'hunter2hunter2', '--schedule'], cwd), /-p would be written into the schedule/);
  assert.equal(cronLine(s), `17 0,12 * * * cd /srv/ops && mkdir -p .panel && /usr/bin/node /opt/panel/bin/panel.js renew -i fleet.yaml -m ops@a.test --acme-profile tlsserver >> /srv/ops/.panel/renew.log 2>&1`);

  assert.deepEqual(installSchedule(s, { systemd: false, root: true }), { kind: 'cron', line: cronLine(s) });

  const dir = tempDir('panel-units-');
  const calls: string[][] = [];
  const done = installSchedule(s, { systemd: true, root: false, userUnitDir: dir, systemctl: (a) => void calls.push([...a]) });
  assert.deepEqual(done, { kind: 'systemd', dir, timer: `${s.name}.timer` });
  const service = readFileSync(join(dir, `${s.name}.service`), 'utf8');
  assert.match(service, /^WorkingDirectory=\/srv\/ops$/m);
  assert.match(service, /^ExecStart="\/usr\/bin\/node" "\/opt\/panel\/bin\/panel\.js" "renew" "-i" "fleet\.yaml" "-m" "ops@a\.test" "--acme-profile" "tlsserver"$/m);
  assert.match(readFileSync(join(dir, `${s.name}.timer`), 'utf8'), /^OnCalendar=\*-\*-\* 00,12:00:00$/m);
  assert.deepEqual(calls, [['daemon-reload'], ['enable', '--now', `${s.name}.timer`]]);
});
