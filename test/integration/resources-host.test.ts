/**
 * Resources end to end on a booted testbed host over SSH (real systemd, apt
 * from the bed's local repository, artifacts from its mirror): facts → parse
 * → plan → apply → facts again → empty plan, through the minimal runner in
 * test/unit/resources/harness.ts (independent of src/engine).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { apt, bridge, download, kernelModule, service, sysctl, unit } from '../../src/resources/index.js';
import type { Change } from '../../src/resources/types.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { apply, converge, type Exec, planAll, readState, runProcess } from '../unit/resources/harness.js';

const enabled = process.getuid?.() === 0;

describe('resources on a booted testbed host', { skip: !enabled && 'needs root for the testbed' }, () => {
  let bed: Testbed;
  let host: TestHost;
  let exec: Exec;
  const sh = async (cmd: string): Promise<string> => {
    const r = await exec(cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    bed = await startTestbed({ hosts: 1, pebble: false });
    host = bed.hosts[0] as TestHost;
    exec = (script) =>
      runProcess(
        'ssh',
        ['-i', host.keyFile, '-o', `UserKnownHostsFile=${bed.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `root@${host.address}`, 'bash -s'],
        script,
      );
  });
  after(async () => {
    await bed?.stop();
  });

  it('apt: installs from the local repository (apt-get update on missing lists), then converged', async () => {
    const r = apt({ packages: ['curl', 'kmod'] });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first[0]?.action, 'install');
    assert.deepEqual(second, []);
    await sh('command -v curl && command -v modprobe');
  });

  it('unit + service: start, no-op, restart after a unit change, pending restart survives an interruption, stop', async () => {
    const mk = (body: string) => unit({ name: 'panel-sleep.service', content: `[Service]\nExecStart=/bin/sleep infinity\n${body}\n[Install]\nWantedBy=multi-user.target\n` });
    const u1 = mk('# v1');
    const svc = service({ name: 'panel-sleep', enabled: true, running: true, restartOn: [u1] });
    const c1 = await converge(exec, [u1, svc]);
    assert.deepEqual(c1.first.map((c) => c.action), ['create', 'enable', 'start']);
    assert.deepEqual(c1.second, []);
    assert.equal((await sh('systemctl is-active panel-sleep')).trim(), 'active');
    const since1 = (await sh('systemctl show -p ActiveEnterTimestampMonotonic --value panel-sleep')).trim();

    const u2 = mk('# v2');
    const plan2 = await planAll(exec, [u2, svc]);
    assert.deepEqual(plan2.map((c) => `${c.action} ${c.reason}`), ['update content differs', 'restart dependency changed']);
    assert.deepEqual(plan2[1]?.after, ['update /etc/systemd/system/panel-sleep.service (content differs)']);
    assert.deepEqual((await converge(exec, [u2, svc])).second, []);
    const since2 = (await sh('systemctl show -p ActiveEnterTimestampMonotonic --value panel-sleep')).trim();
    assert.notEqual(since2, since1, 'restarted');

    // Interrupted run: prepare + unit write happen, the restart step never does.
    const u3 = mk('# v3');
    const plan3 = await planAll(exec, [u3, svc]);
    const restart = plan3[1] as Change;
    const partial = await apply(exec, [{ ...(plan3[0] as Change), prepare: restart.prepare } as Change]);
    assert.ok(partial.ok, partial.stderr);
    assert.equal((await readState(exec)).pending('panel-sleep.service'), 'restart', 'the pending restart is in state.json before the step that performs it');
    const next = await planAll(exec, [u3, svc]);
    assert.deepEqual(next.map((c) => `${c.action} ${c.reason}`), ['restart restart pending from an earlier run']);
    assert.deepEqual((await converge(exec, [u3, svc])).second, []);
    assert.notEqual((await sh('systemctl show -p ActiveEnterTimestampMonotonic --value panel-sleep')).trim(), since2);
    assert.equal((await readState(exec)).pending('panel-sleep.service'), undefined, 'cleared after the restart');

    // Nothing changed: no restart.
    const since3 = (await sh('systemctl show -p ActiveEnterTimestampMonotonic --value panel-sleep')).trim();
    assert.deepEqual(await planAll(exec, [u3, svc]), []);

    // Repair: someone stopped and disabled it.
    await sh('systemctl disable --now panel-sleep');
    assert.deepEqual((await planAll(exec, [u3, svc])).map((c) => `${c.action} ${c.reason}`), ['enable disabled', 'start inactive']);
    assert.deepEqual((await converge(exec, [u3, svc])).second, []);
    assert.notEqual((await sh('systemctl show -p ActiveEnterTimestampMonotonic --value panel-sleep')).trim(), since3);

    const off = service({ name: 'panel-sleep', enabled: false, running: false });
    const c4 = await converge(exec, [off]);
    assert.deepEqual(c4.first.map((c) => c.action), ['disable', 'stop']);
    assert.deepEqual(c4.second, []);
  });

  it('sysctl and bridge persist within the host (runtime state)', async () => {
    const s = sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' });
    const b = bridge({ name: 'pnltest0', address: '10.64.0.1/16' });
    const { first, second } = await converge(exec, [s, b]);
    assert.ok(first.length >= 2);
    assert.deepEqual(second, []);
    await sh('ip link set dev pnltest0 down');
    assert.deepEqual((await planAll(exec, [b])).map((c) => c.reason), ['down']);
    assert.deepEqual((await converge(exec, [b])).second, []);
  });

  it('kernelModule: overlay loaded (or built in) and listed in modules-load.d', async () => {
    const k = kernelModule({ name: 'overlay' });
    const { second } = await converge(exec, [k]);
    assert.deepEqual(second, []);
  });

  it('download: over HTTP from the mirror with curl, checksum-verified', async () => {
    const line = readFileSync(bed.checksumsFile, 'utf8').split('\n').find((l) => /^[0-9a-f]{64}\s+\S/.test(l));
    assert.ok(line, 'checksums file has an entry');
    const [sum, rel] = line.split(/\s+/) as [string, string];
    const d = download({ url: `${bed.mirrorUrl}/${rel.replace(/^\*/, '')}`, sha256: sum, dest: '/opt/panel-test/artifact', mode: 0o755 });
    const { first, second } = await converge(exec, [d]);
    assert.equal(first[0]?.reason, 'absent');
    assert.deepEqual(second, []);
  });
});
