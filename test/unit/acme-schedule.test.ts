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
import { cronLine, installSchedule, renewArgsOfInstall, scheduleCommand, scheduleInPlace, scheduleOf } from '../../src/acme/schedule.js';
import { afterInstall, renewedFromHere } from '../../src/cli/renewal-schedule.js';
import { loadRegistry } from '../../src/cli/registry.js';
import type { HostConfig } from '../../src/config.js';
import { renewArgv } from '../../src/acme/timer.js';
import { orderReason } from '../../src/acme/cert-info.js';
import { ok } from '../../src/result.js';

test('new order: the profile is sent only when asked for', () => {
  assert.deepEqual(newOrderPayload(['a.test', 'b.test'], undefined), { identifiers: [{ type: 'dns', value: 'a.test' }, { type: 'dns', value: 'b.test' }] });
  assert.deepEqual(newOrderPayload(['a.test'], 'shortlived'), { identifiers: [{ type: 'dns', value: 'a.test' }], profile: 'shortlived' });
});

test('renewal window of a 160-hour certificate: from half its lifetime left, and when expired', () => {
  const notBefore = new Date('2026-01-01T00:00:00Z');
  const notAfter = new Date('2026-01-07T16:00:00Z'); // 160 h, like Let's Encrypt `shortlived`
  const have = { cert: ok({ serial: '1', names: ['a.test'], notBefore, notAfter, issuer: 'x', ocsp: false }), keyPresent: true, directory: 'd' };
  const want = { names: ['a.test'], directory: 'd' };
  assert.equal(orderReason(have, want, new Date('2026-01-04T07:59:00Z')), undefined);
  assert.match(orderReason(have, want, new Date('2026-01-04T08:00:00Z'))!, /less than half of its lifetime left \(renewal due 2026-01-04T08:00:00.000Z/);
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
  assert.equal(cronLine(s), `17 0,12 * * * cd /srv/ops && mkdir -p .panel && /usr/bin/node /opt/panel/bin/panel.js renew -i fleet.yaml -m ops@a.test --acme-profile tlsserver >> /srv/ops/.panel/renew.log 2>&1 # ${s.name}`);

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

test('install → renew: the same hosts and CA, without install-only flags or any password', () => {
  const args = ['--host', 'root@203.0.113.7', '-d', 'a.test', '-m', 'ops@a.test', '--yes', '--json', '--recipes', 'faasd,certificate', '-p', 'hunter2hunter2', '--password-file=pw.txt', '-phunter2', '--schedule-renewal', '--acme-profile', 'tlsserver'];
  const renew = renewArgsOfInstall(args);
  assert.deepEqual(renew, ['--host', 'root@203.0.113.7', '-d', 'a.test', '-m', 'ops@a.test', '--acme-profile', 'tlsserver']);
  assert.equal(scheduleCommand([...renew, '--key', "/home/o p/k"]), "panel renew --host root@203.0.113.7 -d a.test -m ops@a.test --acme-profile tlsserver --key '/home/o p/k' --schedule");
});

function host(name: string, kind: 'ssh' | 'local', domains: string[], recipes: string[]): HostConfig {
  return {
    name,
    connection: kind === 'ssh' ? { kind, address: '203.0.113.7', port: 22, user: 'root' } : { kind },
    groups: [],
    recipes,
    params: {},
    domains: domainNames(...domains),
    acme: { directory: 'https://ca.test/d' },
    progressDir: '/var/lib/panel',
  };
}

test('an SSH install with a certificate ends with the schedule, or a warning with the exact command', async () => {
  const registry = await loadRegistry();
  // Remote hosts with domains whose run includes the certificate; not local, not without domains.
  const hosts = renewedFromHere(
    [host('web', 'ssh', ['a.test'], ['certificate']), host('ide', 'ssh', ['b.test'], ['faasd', 'certificate']), host('bare', 'ssh', [], ['faasd']), host('local', 'local', ['c.test'], ['certificate']), host('plain', 'ssh', ['d.test'], ['containerd'])],
    registry,
  );
  assert.deepEqual(hosts, ['web', 'ide']);
  const req = { installArgs: ['--host', 'root@203.0.113.7', '-d', 'a.test', '--yes'], schedule: false };
  const dir = tempDir('panel-units-');
  const calls: string[][] = [];
  const env = { systemd: true, root: false, userUnitDir: dir, systemctl: (a: readonly string[]) => void calls.push([...a]) };
  const warning = afterInstall(req, hosts, '/srv/ops', env);
  assert.equal(warning, 'panel: warning: the certificates of web, ide are renewed only from this machine, and no schedule here does it (the CA sends no expiry mail). Schedule it:\n  panel renew --host root@203.0.113.7 -d a.test --schedule\n(or add --schedule-renewal to the install)\n');
  assert.equal(afterInstall(req, [], '/srv/ops', env), undefined, 'no remote certificate: nothing to say');
  // --schedule-renewal installs the very schedule the warning names; then there is nothing to warn about.
  assert.match(afterInstall({ ...req, schedule: true }, hosts, '/srv/ops', env)!, /^panel: panel-renew-[0-9a-f]{8}\.timer installed in .* and started/);
  const s = scheduleOf(['--host', 'root@203.0.113.7', '-d', 'a.test'], '/srv/ops');
  assert.deepEqual(calls, [['daemon-reload'], ['enable', '--now', `${s.name}.timer`]]);
  assert.equal(scheduleInPlace(s, env), true);
  assert.equal(afterInstall(req, hosts, '/srv/ops', env), undefined);
  // Without systemd: the cron line, found again by its name.
  const cron = { systemd: false, root: true, crontab: () => `# m h dom mon dow command\n${cronLine(s)}\n` };
  assert.equal(scheduleInPlace(s, cron), true);
  assert.equal(scheduleInPlace(s, { ...cron, crontab: () => `# ${cronLine(s)}\n` }), false, 'a commented-out line schedules nothing');
  assert.equal(scheduleInPlace(s, { ...cron, crontab: () => { throw new Error('no crontab for root'); } }), false);
});

test('names per certificate: at most 25 with the tlsserver and shortlived profiles', async () => {
  const { certificateInputErrors } = await import('../../recipes/certificate.js');
  const names = Array.from({ length: 26 }, (_, i) => `n${i}.a.test`);
  const cfg = (profile: string | undefined, n: number): HostConfig => ({ ...host('web', 'ssh', names.slice(0, n), ['certificate']), acme: { directory: 'https://ca.test/d', ...(profile ? { profile } : {}) } });
  for (const p of ['tlsserver', 'shortlived']) {
    assert.deepEqual(certificateInputErrors(cfg(p, 26)), [`26 domain names: ACME profile ${p} allows at most 25 in one certificate`]);
    assert.deepEqual(certificateInputErrors(cfg(p, 25)), []);
  }
  assert.deepEqual(certificateInputErrors(cfg(undefined, 26)), []);
  assert.deepEqual(certificateInputErrors(cfg('classic', 26)), []);
});
