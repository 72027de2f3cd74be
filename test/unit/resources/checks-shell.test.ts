/**
 * Facts and checks that bash answers with fewer processes: the same answers
 * as before, from real bash with stand-in `ip` and `systemctl` on
 * PATH that log their calls (the test asserts what they were asked, never
 * how long anything took).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import base from '../../../recipes/base.js';
import bridgeRecipe from '../../../recipes/bridge.js';
import faasd, { FAASD } from '../../../recipes/faasd.js';
import { PRELUDE } from '../../../src/resources/prelude.js';
import { bridge, sysctl } from '../../../src/resources/index.js';
import type { Check } from '../../../src/resources/types.js';
import { tempDir } from '../../support/temp.js';

const dir = tempDir('panel-checks-shell-');
after(() => rmSync(dir, { recursive: true, force: true }));
const bin = join(dir, 'bin');
const log = join(dir, 'calls.log');
mkdirSync(bin);

function standIn(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/bash\nprintf '%s\\n' "${name} $*" >>'${log}'\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

function bash(script: string): { code: number; stdout: string; calls: string[] } {
  writeFileSync(log, '');
  const r = spawnSync('bash', ['-s'], { input: script, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, PANEL_STATE: join(dir, 'state') } });
  return { code: r.status ?? 1, stdout: r.stdout + r.stderr, calls: existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [] };
}

// `ip -d -j addr show dev openfaas0` on a testbed host (iproute2 6.1), shortened.
const BRIDGE_JSON =
  '[{"ifindex":3,"ifname":"openfaas0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UP","linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500,"stp_state":0}},' +
  '"addr_info":[{"family":"inet","local":"10.62.0.1","prefixlen":16,"broadcast":"10.62.255.255","scope":"global","label":"openfaas0"},{"family":"inet6","local":"fe80::1","prefixlen":64,"scope":"link"}]}]';

test('bridge facts: one ip process gives kind, flags and addresses; a missing link is absent', () => {
  const b = bridge({ name: 'openfaas0', address: '10.62.0.1/16' });
  standIn('ip', `if [ "$*" = '-d -j addr show dev openfaas0' ] && [ -e '${dir}/link' ]; then printf '%s\\n' '${BRIDGE_JSON}'; exit 0; fi\necho 'Device "openfaas0" does not exist.' >&2; exit 1`);
  writeFileSync(join(dir, 'link'), '');
  const there = bash(String(b.facts()));
  assert.deepEqual(there.calls, ['ip -d -j addr show dev openfaas0']);
  const facts = b.parse({ stdout: there.stdout, code: there.code });
  assert.deepEqual(facts, { exists: true, kind: 'bridge', up: true, addresses: ['10.62.0.1/16'] });
  assert.deepEqual(b.plan(facts, { planned: [] }), []);
  rmSync(join(dir, 'link'));
  const gone = bash(String(b.facts()));
  assert.deepEqual(b.parse({ stdout: gone.stdout, code: gone.code }), { exists: false });
  assert.deepEqual(b.plan({ exists: false }, { planned: [] }).map((c) => c.reason), ['absent']);
});

/** A check as verify judges it: exit 0 and its expect matched. */
function passes(c: Check, out: { code: number; stdout: string }): boolean {
  return out.code === 0 && (c.expect?.test(out.stdout) ?? true);
}

test('the bridge check: one ip; flags UP and the address, in the order ip prints them', () => {
  const [check] = bridgeRecipe.verify?.({} as never) ?? [];
  assert.ok(check);
  const show = (flags: string, inet: string): string =>
    `3: openfaas0: <${flags}> mtu 1500 qdisc noqueue state UP group default qlen 1000\n    link/ether 6a:1c:3e:aa:bb:cc brd ff:ff:ff:ff:ff:ff\n${inet}    inet6 fe80::1/64 scope link \n       valid_lft forever preferred_lft forever\n`;
  const inet = (a: string): string => `    inet ${a} brd 10.62.255.255 scope global openfaas0\n       valid_lft forever preferred_lft forever\n`;
  standIn('ip', `cat '${dir}/ip-out'`);
  const verdict = (text: string): boolean => {
    writeFileSync(join(dir, 'ip-out'), text);
    const r = bash(String(check.script));
    assert.deepEqual(r.calls, ['ip addr show dev openfaas0']);
    return passes(check, r);
  };
  assert.equal(verdict(show('BROADCAST,MULTICAST,UP,LOWER_UP', inet('10.62.0.1/16'))), true);
  assert.equal(verdict(show('NO-CARRIER,BROADCAST,MULTICAST,UP', inet('10.62.0.1/16'))), true, 'no ports: no carrier, still up');
  assert.equal(verdict(show('BROADCAST,MULTICAST', inet('10.62.0.1/16'))), false, 'down');
  assert.equal(verdict(show('BROADCAST,MULTICAST,LOWER_UP', inet('10.62.0.1/16'))), false, 'LOWER_UP is not UP');
  assert.equal(verdict(show('BROADCAST,MULTICAST,UP,LOWER_UP', '')), false, 'no address');
  assert.equal(verdict(show('BROADCAST,MULTICAST,UP,LOWER_UP', inet('10.62.0.10/16'))), false, 'another address');
  assert.equal(verdict(show('BROADCAST,MULTICAST,UP,LOWER_UP', inet('10.62.0.1/24'))), false, 'another prefix');
});

test('the forwarding check reads what sysctl -n prints, with no process', () => {
  const check = (base.verify?.({} as never) ?? []).find((c) => c.name === 'IPv4 forwarding is on');
  assert.ok(check);
  const r = bash(String(check.script));
  assert.equal(r.code, 0);
  assert.deepEqual(r.calls, []);
  const sysctl = spawnSync('sysctl', ['-n', 'net.ipv4.conf.all.forwarding'], { encoding: 'utf8' });
  if (sysctl.status === 0) assert.equal(r.stdout, sysctl.stdout);
  assert.equal(passes(check, { code: 0, stdout: '1\n' }), true);
  assert.equal(passes(check, { code: 0, stdout: '0\n' }), false);
});

test('the gateway checks: no process at all (no curl); basic auth as the files hold it, trailing newlines dropped', async () => {
  const checks = faasd.verify?.({ params: faasd.params.parse({}) } as never) ?? [];
  const auth = checks.find((c) => c.name.includes('basic auth'));
  const health = checks.find((c) => c.name === 'gateway /healthz is 200');
  assert.ok(auth && health);
  const secrets = join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  let expected = '';
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/healthz' || req.headers.authorization === `Basic ${Buffer.from(expected).toString('base64')}` ? 200 : 401);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const local = (c: Check): string =>
    String(c.script).replaceAll(FAASD.gateway, gateway).replaceAll(FAASD.userFile, join(secrets, 'user')).replaceAll(FAASD.passwordFile, join(secrets, 'password'));
  // No PATH: any program the checks started (curl, base64, cat) would fail them.
  const run = (c: Check): Promise<{ code: number; stdout: string }> =>
    new Promise((resolve) => {
      const child = spawn('/bin/bash', ['-c', `${PRELUDE.text}\nPATH=/nonexistent\n${local(c)}`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code: code ?? 1, stdout: out }));
    });
  try {
    const login = async (user: string, password: string, as: string): Promise<boolean> => {
      writeFileSync(join(secrets, 'user'), user);
      writeFileSync(join(secrets, 'password'), password);
      expected = as;
      return passes(auth, await run(auth));
    };
    assert.equal(await login('admin', 'pw\n', 'admin:pw'), true);
    assert.equal(await login('admin\n\n', 'a"b\\c d\n\n', 'admin:a"b\\c d'), true);
    assert.equal(await login('admin', '', 'admin:'), true);
    assert.equal(await login('admin', 'pw', 'admin:other'), false);
    assert.deepEqual(await run(health), { code: 0, stdout: '200\n' });
  } finally {
    server.close();
  }
});

test('units active: the batch\'s prefetched state answers as is-active does; anything not active asks systemctl', () => {
  // The stand-in systemd: is-enabled and show for the prefetch, is-active and journalctl for the check.
  standIn(
    'systemctl',
    `case $1 in
  is-enabled) shift; [ "$1" = -- ] && shift; for u in "$@"; do echo enabled; done ;;
  show) shift; for u in "$@"; do case $u in -*|ActiveState|ActiveEnterTimestamp) continue ;; esac; s=active; [ "$u" = faasd.service ] && s=$(cat '${dir}/faasd-state'); printf 'ActiveState=%s\\nActiveEnterTimestamp=x\\n\\n' "$s"; done ;;
  is-active) shift; [ "$1" = --quiet ] && { shift; [ "$1" != faasd ] || [ "$(cat '${dir}/faasd-state')" = active ]; exit; }; rc=0; for u in "$@"; do s=active; [ "$u" = faasd ] && s=$(cat '${dir}/faasd-state'); echo "$s"; [ "$s" = active ] || rc=3; done; exit $rc ;;
esac`,
  );
  standIn('journalctl', 'echo "a line of the journal"');
  const check = (faasd.verify?.({ params: faasd.params.parse({}) } as never) ?? []).find((c) => c.name === 'faasd-provider and faasd are active');
  assert.ok(check);
  const prefetch = 'panel_units_prefetch faasd-provider.service faasd.service containerd.service </dev/null';
  const run = (state: string, withPrefetch: boolean) => {
    writeFileSync(join(dir, 'faasd-state'), state);
    const r = bash(`export PANEL_MODE=verify\n${PRELUDE.text}\n${withPrefetch ? prefetch : ''}\n: >'${log}'\n${String(check.script)}\n`);
    return { ...r, ok: passes(check, r) };
  };
  const cached = run('active', true);
  assert.deepEqual([cached.stdout, cached.code, cached.calls, cached.ok], ['active\nactive\n', 0, [], true]);
  const asked = run('active', false);
  assert.deepEqual([asked.stdout, asked.code, asked.calls, asked.ok], ['active\nactive\n', 0, ['systemctl is-active faasd-provider faasd'], true]);
  const failed = run('failed', true);
  assert.equal(failed.ok, false);
  assert.equal(failed.code, 3);
  assert.match(failed.stdout, /^active\nfailed\npanel: faasd is failed; last lines of its journal/);
  assert.match(failed.stdout, /a line of the journal/);
  // A unit the batch did not read (containerd's check in a script without the fact batch) is asked.
  writeFileSync(join(dir, 'faasd-state'), 'active');
  const other = bash(`export PANEL_MODE=verify\n${PRELUDE.text}\nPANEL_UNIT_ACTIVE[faasd.service]=active\npanel_units_active containerd faasd\n`);
  assert.deepEqual([other.stdout, other.calls], ['active\nactive\n', ['systemctl is-active containerd faasd']]);
});

test('sysctl facts: later files found, sorted and read by bash; readlink only for a file that sets the key; the same overrides', () => {
  const root = join(dir, 'sysctl-root');
  const at = (p: string): string => join(root, p);
  for (const d of ['etc/sysctl.d', 'run/sysctl.d', 'usr/lib/sysctl.d', 'lib/sysctl.d', 'proc/sys/net/ipv4/conf/all']) mkdirSync(at(d), { recursive: true });
  writeFileSync(at('proc/sys/net/ipv4/conf/all/forwarding'), '1\n');
  writeFileSync(at('etc/sysctl.conf'), '# Debian\nnet.ipv4.ip_forward = 0\n');
  symlinkSync('../sysctl.conf', at('etc/sysctl.d/99-sysctl.conf'));
  writeFileSync(at('usr/lib/sysctl.d/99-zz-last.conf'), '-net/ipv4/conf/all/forwarding=  1\n');
  writeFileSync(at('run/sysctl.d/99-protect.conf'), 'net.ipv4.conf.all.forwarding = 0\nnet.ipv4.ip_forward=1\n');
  writeFileSync(at('usr/lib/sysctl.d/99-protect.conf'), 'net.ipv4.ip_forward = 0\n'); // masked by /run's file of the same name
  writeFileSync(at('lib/sysctl.d/99-q-empty.conf'), '');
  writeFileSync(at('etc/sysctl.d/10-early.conf'), 'net.ipv4.ip_forward = 0\n'); // read before 99-panel.conf
  const s = sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' });
  const paths = /(\/usr\/local\/lib\/sysctl\.d|\/usr\/lib\/sysctl\.d|\/run\/sysctl\.d|\/etc\/sysctl\.d|\/etc\/sysctl\.conf|\/lib\/sysctl\.d|\/proc\/sys\/)/g;
  const script = String(s.facts()).replace(paths, (m) => `${root}${m}`);
  for (const tool of ['readlink', 'awk', 'sort']) standIn(tool, `exec /usr/bin/env -S PATH=${process.env.PATH ?? ''} ${tool} "$@"`);
  const r = bash(`export PANEL_MODE=facts\n${PRELUDE.text}\n${script}\n`);
  assert.equal(r.code, 0, r.stdout);
  // One readlink for each of the three files that set a key (not for /etc/sysctl.conf, nor for the files that set none), no awk, no sort.
  assert.deepEqual(r.calls.filter((c) => /^(readlink|awk|sort) /.test(c)).map((c) => c.split(' ')[0]), ['readlink', 'readlink', 'readlink']);
  const facts = s.parse({ stdout: r.stdout, code: 0 });
  assert.equal(facts.runtime, '1');
  assert.deepEqual(facts.overrides, [
    { path: at('run/sysctl.d/99-protect.conf'), target: undefined, value: '1', key: 'net.ipv4.ip_forward' },
    { path: at('etc/sysctl.d/99-sysctl.conf'), target: at('etc/sysctl.conf'), value: '0', key: 'net.ipv4.ip_forward' },
    { path: at('usr/lib/sysctl.d/99-zz-last.conf'), target: undefined, value: '1', key: 'net.ipv4.conf.all.forwarding' },
  ]);
  // Debian as installed: 99-sysctl.conf leads to a sysctl.conf of comments only, and no other later file sets the key: no process at all.
  for (const f of ['usr/lib/sysctl.d/99-zz-last.conf', 'run/sysctl.d/99-protect.conf', 'usr/lib/sysctl.d/99-protect.conf', 'lib/sysctl.d/99-q-empty.conf']) rmSync(at(f));
  writeFileSync(at('etc/sysctl.conf'), '#\n# /etc/sysctl.conf\n#net.ipv4.ip_forward=1\n# net.ipv4.conf.all.forwarding = 1\nkernel.printk = 3 4 1 3\n');
  const debian = bash(`export PANEL_MODE=facts\n${PRELUDE.text}\n${script}\n`);
  assert.deepEqual(s.parse({ stdout: debian.stdout, code: 0 }).overrides, []);
  assert.deepEqual(debian.calls.filter((c) => /^(readlink|awk|sort) /.test(c)), []);
  // Values as systemd-sysctl reads them: blanks around and runs of blanks inside as one space; a line with no '=' sets nothing it names.
  writeFileSync(at('etc/sysctl.conf'), 'net.ipv4.ip_forward\n  net.ipv4.ip_forward =\t0   1 \t\n');
  const runs = s.parse({ stdout: bash(`export PANEL_MODE=facts\n${PRELUDE.text}\n${script}\n`).stdout, code: 0 });
  assert.deepEqual(runs.overrides, [{ path: at('etc/sysctl.d/99-sysctl.conf'), target: at('etc/sysctl.conf'), value: '0 1', key: 'net.ipv4.ip_forward' }]);
  writeFileSync(at('etc/sysctl.conf'), '# Debian\nnet.ipv4.ip_forward = 0\n');
  // Without the link, /etc/sysctl.conf is read last, as itself.
  rmSync(at('etc/sysctl.d/99-sysctl.conf'));
  const unlinked = s.parse({ stdout: bash(`export PANEL_MODE=facts\n${PRELUDE.text}\n${script}\n`).stdout, code: 0 });
  assert.deepEqual(unlinked.overrides.at(-1), { path: at('etc/sysctl.conf'), target: undefined, value: '0', key: 'net.ipv4.ip_forward' });
});
