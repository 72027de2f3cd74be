/**
 * Foundation acceptance on real hosts (testbed: systemd-nspawn Debian with
 * sshd, local apt repo and artifact mirror), through the CLI as users run it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { events, panel } from '../support/panel-cli.js';
import { tempDir } from '../support/temp.js';

let bed: Testbed;
let h: TestHost;
let cwd: string;

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false });
  h = bed.hosts[0]!;
  cwd = tempDir('panel-foundation-');
});
after(async () => {
  await bed?.stop();
});

const target = (user = 'root'): string[] => hostArgs(bed, h, user);
const demo = (): string[] => [...target(), '--recipes', 'demo', ...mirrorArgs(bed)];

async function startedAt(unit: string): Promise<string> {
  const r = await bed.exec(h, `systemctl show -p ActiveEnterTimestampMonotonic --value ${unit}`);
  return r.stdout.trim();
}

test('demo recipe (every resource kind) converges; a second install changes and restarts nothing', async () => {
  const first = await panel(['install', ...demo(), '--json'], { cwd });
  assert.equal(first.code, 0, first.stderr + first.stdout);
  const applied = events(first).filter((e) => e.type === 'change' && e.status === 'applied');
  const kinds = new Set(applied.map((e) => String((e.change as { resource: string }).resource).split(':')[0]));
  // Not kmod: demo's module (bridge) is built into the testbed's kernel, and a
  // built-in module needs nothing, not even a modules-load.d entry.
  for (const k of ['directory', 'file', 'apt', 'download', 'archive', 'unit', 'service', 'sysctl', 'bridge', 'command']) {
    assert.ok(kinds.has(k), `first run applied a ${k} change (got ${[...kinds].join(',')})`);
  }
  assert.equal((await bed.exec(h, 'systemctl is-active panel-demo.service')).stdout.trim(), 'active');
  const t0 = await startedAt('panel-demo.service');

  const second = await panel(['install', ...demo(), '--json'], { cwd });
  assert.equal(second.code, 0, second.stderr);
  const ev = events(second);
  assert.equal(ev.filter((e) => e.type === 'change').length, 0, 'no change on the second run');
  const recap = ev.find((e) => e.type === 'recap') as unknown as { hosts: Array<{ changed: number; status: string; roundTrips: number }> };
  assert.equal(recap.hosts[0]!.changed, 0);
  assert.equal(recap.hosts[0]!.status, 'ok');
  assert.equal(await startedAt('panel-demo.service'), t0, 'service was not restarted');
  // The progress file keeps panel.sh's shape; a run that found nothing to do records "checked" (written in its one round trip).
  const progress = JSON.parse((await bed.exec(h, 'cat /var/lib/panel/progress.json')).stdout);
  assert.deepEqual(progress, { code: 0, message: 'success', data: { installType: 'checked', progress: 100 } });
});

test('plan after a manual edit shows the exact diff and changes nothing; check exits 2, install repairs, check exits 0', async () => {
  await bed.exec(h, `echo 'tampered = yes' >> /etc/panel-demo.conf`);
  const before = (await bed.exec(h, 'sha256sum /etc/panel-demo.conf')).stdout;

  const plan = await panel(['plan', ...demo()], { cwd });
  assert.equal(plan.code, 0, plan.stderr);
  assert.match(plan.stdout, /update \/etc\/panel-demo\.conf \(content differs\)/);
  assert.match(plan.stdout, /^--- \/etc\/panel-demo\.conf/m);
  assert.match(plan.stdout, /^-tampered = yes$/m);
  assert.match(plan.stdout, /restart panel-demo\.service .*after: update \/etc\/panel-demo\.conf/);
  assert.equal((await bed.exec(h, 'sha256sum /etc/panel-demo.conf')).stdout, before, 'plan did not touch the file');

  const check = await panel(['check', ...demo()], { cwd });
  assert.equal(check.code, 2, check.stdout + check.stderr);
  assert.match(check.stdout, /update \/etc\/panel-demo\.conf \(content differs\)/);

  const t0 = await startedAt('panel-demo.service');
  const repair = await panel(['install', ...demo()], { cwd });
  assert.equal(repair.code, 0, repair.stdout + repair.stderr);
  assert.notEqual(await startedAt('panel-demo.service'), t0, 'config change restarted the service');
  assert.equal((await bed.exec(h, 'grep -c tampered /etc/panel-demo.conf || true')).stdout.trim(), '0');

  const clean = await panel(['check', ...demo()], { cwd });
  assert.equal(clean.code, 0, clean.stdout + clean.stderr);
});

test('an unknown host key is refused; a changed one is refused with both fingerprints', async () => {
  const empty = join(cwd, 'empty_known_hosts');
  writeFileSync(empty, '');
  const unknown = await panel(['check', '--host', `root@${h.address}`, '--key', bed.keyFile, '--known-hosts', empty, '--recipes', 'demo', '--set', 'demo.artifacts=false'], { cwd });
  assert.equal(unknown.code, 1);
  assert.match(unknown.stdout + unknown.stderr, new RegExp(`root@${h.address.replace(/\./g, '\\.')}:22: host key not known`));

  const wrong = join(cwd, 'wrong_known_hosts');
  // A real but different ed25519 key for this address.
  writeFileSync(wrong, `${h.address} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n`);
  const changed = await panel(['check', '--host', `root@${h.address}`, '--key', bed.keyFile, '--known-hosts', wrong, '--recipes', 'demo', '--set', 'demo.artifacts=false'], { cwd });
  assert.equal(changed.code, 1);
  const out = changed.stdout + changed.stderr;
  assert.match(out, /HOST KEY CHANGED/);
  assert.ok(out.includes(h.hostKeyFingerprint), 'names the presented fingerprint');
  assert.match(out, /SHA256:[A-Za-z0-9+/]{43}.*SHA256:[A-Za-z0-9+/]{43}/);
});

test('missing passwordless sudo and an unreachable host each give one clear line', async () => {
  const nosudo = await panel(['check', ...target('nosudo'), '--recipes', 'demo', '--set', 'demo.artifacts=false'], { cwd });
  assert.equal(nosudo.code, 1);
  assert.match(nosudo.stdout, new RegExp(`^nosudo@${h.address.replace(/\./g, '\\.')}:22: .*sudo`, 'm'));

  const refused = await panel(['check', '--host', `root@${h.address}:2`, '--key', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--recipes', 'demo'], { cwd });
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, new RegExp(`^root@${h.address.replace(/\./g, '\\.')}:2: .*refused`, 'm'));
});

test('bad flags: one line naming the flag, exit 1, no connection made', async () => {
  const cases: Array<[string[], RegExp]> = [
    [['install', '--host', 'root@10.0.0.1;reboot'], /^panel: --host .*invalid address/],
    [['install', '--host', 'root@10.0.0.1:99999'], /^panel: --host .*invalid port/],
    [['install', '--host', 'root@10.0.0.1', '-d', 'a;b.example.com'], /^panel: --domain: domain "a;b\.example\.com" contains the character ";"/],
    [['install', '--host', 'root@10.0.0.1', '-d', '10.0.0.1'], /^panel: --domain: domain "10\.0\.0\.1" is an IP address/],
    [['install', '--host', 'root@10.0.0.1', '--concurrency', 'many'], /^panel: --concurrency "many"/],
    [['install', '--host', 'root@10.0.0.1', '--mirror', 'ftp://x'], /^panel: --mirror: must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/],
    [['install', '--host', 'root@10.0.0.1', '--recipes', 'nosuch'], /unknown recipe "nosuch"/],
    [['install', '--bogus'], /unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = await panel([...args, '--key', bed.keyFile], { cwd });
    assert.equal(r.code, 1, `${args.join(' ')} → exit 1`);
    assert.match(r.stderr + r.stdout, re, args.join(' '));
  }
});
