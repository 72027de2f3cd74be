/**
 * SshTransport against real sshd (testbed: systemd-nspawn Debian hosts).
 * Users: root, deploy (passwordless sudo), nosudo (no sudo), one key for all.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Connection } from '../../src/config.js';
import { ConnectError, TransportError, openTransport, type Transport } from '../../src/transport/index.js';
import { fingerprint } from '../../src/transport/known-hosts.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { tempDir } from '../support/temp.js';

let bed: Testbed;
let h: TestHost;
let dir: string;
const open: Transport[] = [];

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false });
  h = bed.hosts[0]!;
  dir = tempDir('panel-transport-');
});
after(async () => {
  await Promise.all(open.map((t) => t.close().catch(() => undefined)));
  await bed?.stop();
});

type Ssh = Extract<Connection, { kind: 'ssh' }>;
const conn = (over: Partial<Ssh> = {}): Ssh => ({
  kind: 'ssh',
  address: h.address,
  port: 22,
  user: 'root',
  keyFile: h.keyFile,
  knownHosts: bed.knownHostsFile,
  ...over,
});

async function connect(over: Partial<Ssh> = {}, opts: { readyTimeoutMs?: number } = {}): Promise<Transport> {
  const t = await openTransport(conn(over), 'host1', opts);
  open.push(t);
  return t;
}

/** The ConnectError thrown by opening `c`, or a failed assertion if it opened. */
async function refusal(over: Partial<Ssh>, opts: { readyTimeoutMs?: number } = {}): Promise<ConnectError> {
  try {
    const t = await connect(over, opts);
    await t.close();
  } catch (e) {
    assert.ok(e instanceof ConnectError, `expected ConnectError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e;
  }
  assert.fail('connection was expected to be refused');
}

test('exec as root: output, exit code as a result, script on stdin, stats', async () => {
  const t = await connect();
  const r = await t.exec('whoami; echo "$0"; echo oops >&2; exit 3');
  assert.deepEqual(r, { code: 3, stdout: 'root\nbash\n', stderr: 'oops\n' });
  const before = { ...t.stats };
  for (let i = 0; i < 3; i++) assert.equal((await t.exec('true')).code, 0);
  assert.equal(t.stats.channels, before.channels + 3, 'one channel per exec');
  const echo = await t.exec(`head -c 1000 /dev/zero`);
  assert.equal(echo.stdout.length, 1000);
  assert.ok(t.stats.bytesReceived >= before.bytesReceived + 1000);
  assert.ok(t.stats.bytesSent > before.bytesSent);
  // The wire carries the payload plus the SSH handshake, channel framing and MACs.
  const s = t.stats;
  assert.ok(s.wireBytesReceived > s.bytesReceived + 1000, `wire in ${s.wireBytesReceived} vs payload ${s.bytesReceived}`);
  assert.ok(s.wireBytesSent > s.bytesSent + 1000, `wire out ${s.wireBytesSent} vs payload ${s.bytesSent}`);
  assert.ok(s.wireBytesReceived >= before.wireBytesReceived + 1000);
});

test('deploy runs root commands through sudo -n; sudo:false runs as deploy', async () => {
  const t = await connect({ user: 'deploy' });
  assert.equal((await t.exec('whoami')).stdout, 'root\n');
  assert.equal((await t.exec('whoami', { sudo: false })).stdout, 'deploy\n');
  // put/get go through sudo as well.
  await t.put('/root/panel-deploy-put', Buffer.from('via sudo'), 0o600);
  assert.equal((await bed.exec(h, 'stat -c "%a %U" /root/panel-deploy-put; cat /root/panel-deploy-put')).stdout, '600 root\nvia sudo');
  assert.equal((await t.get('/root/panel-deploy-put'))?.toString(), 'via sudo');
});

test('nosudo fails at connect with the clear no-sudo line', async () => {
  const e = await refusal({ user: 'nosudo' });
  assert.equal(e.kind, 'no-sudo');
  assert.match(e.message, new RegExp(`^nosudo@${h.address.replace(/\./g, '\\.')}:22: user nosudo cannot run sudo without a password \\(sudo -n failed: .+\\)$`));
  // Without sudo (explicitly disabled) the same user connects and runs as itself.
  const t = await connect({ user: 'nosudo', sudo: false });
  assert.equal((await t.exec('whoami')).stdout, 'nosudo\n');
});

test('unknown host is refused; --trust-new-host records it (0600) and it is known afterwards', async () => {
  const kh = join(dir, 'new', 'known_hosts');
  const e = await refusal({ knownHosts: kh });
  assert.equal(e.kind, 'host-key-unknown');
  assert.equal(
    e.message,
    `root@${h.address}:22: host key not known (${h.hostKeyFingerprint}); verify it and re-run with --trust-new-host to record it in ${kh}`,
  );
  const t = await connect({ knownHosts: kh, trustNewHost: true });
  assert.equal((await t.exec('echo ok')).stdout, 'ok\n');
  const text = readFileSync(kh, 'utf8');
  assert.equal(statSync(kh).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'new')).mode & 0o777, 0o700);
  const [name, type, b64] = text.trim().split(' ');
  assert.equal(name, h.address);
  assert.equal(type, 'ssh-ed25519');
  assert.equal(fingerprint(Buffer.from(b64 ?? '', 'base64')), h.hostKeyFingerprint);
  const t2 = await connect({ knownHosts: kh });
  assert.equal((await t2.exec('echo again')).stdout, 'again\n');
  assert.equal(readFileSync(kh, 'utf8'), text, 'nothing appended for a known host');
});

test('changed host key is refused, naming both fingerprints, even with --trust-new-host', async () => {
  const other = join(dir, 'other');
  const { execFileSync } = await import('node:child_process');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const pub = readFileSync(`${other}.pub`, 'utf8').trim().split(' ');
  const kh = join(dir, 'changed_known_hosts');
  writeFileSync(kh, `${h.address} ${pub[0]} ${pub[1]}\n`);
  const oldFp = fingerprint(Buffer.from(pub[1] ?? '', 'base64'));
  for (const trustNewHost of [false, true]) {
    const e = await refusal({ knownHosts: kh, trustNewHost });
    assert.equal(e.kind, 'host-key-changed');
    assert.equal(
      e.message,
      `root@${h.address}:22: HOST KEY CHANGED — known_hosts has ${oldFp}, host presented ${h.hostKeyFingerprint}; refusing (possible man-in-the-middle)`,
    );
  }
  assert.equal(readFileSync(kh, 'utf8').split('\n').length, 2, 'known_hosts untouched');
});

test('revoked host key is refused', async () => {
  const kh = join(dir, 'revoked_known_hosts');
  writeFileSync(kh, `${readFileSync(bed.knownHostsFile, 'utf8')}@revoked * ${h.knownHostsLine.split(' ').slice(1).join(' ')}\n`);
  const e = await refusal({ knownHosts: kh });
  assert.equal(e.kind, 'host-key-revoked');
  assert.ok(e.message.includes(h.hostKeyFingerprint));
});

test('pinned fingerprint overrides known_hosts: right pin accepted, wrong pin refused', async () => {
  const empty = join(dir, 'empty_known_hosts');
  const t = await connect({ knownHosts: empty, fingerprint: h.hostKeyFingerprint });
  assert.equal((await t.exec('echo pinned')).stdout, 'pinned\n');
  const wrong = `SHA256:${createHash('sha256').update('not the key').digest('base64').replace(/=+$/, '')}`;
  const e = await refusal({ fingerprint: wrong }); // known_hosts would accept; the pin wins
  assert.equal(e.kind, 'host-key-changed');
  assert.ok(e.message.includes(wrong) && e.message.includes(h.hostKeyFingerprint), e.message);
});

test('closed port and unused address fail quickly with one clear line', async () => {
  const refused = await refusal({ port: 2 });
  assert.equal(refused.kind, 'unreachable');
  assert.equal(refused.message, `root@${h.address}:2: connection refused (is sshd running?)`);

  const unused = `${h.address.split('.').slice(0, 3).join('.')}.250`;
  const started = Date.now();
  const gone = await refusal({ address: unused }, { readyTimeoutMs: 4000 });
  assert.ok(['unreachable', 'timeout'].includes(gone.kind), gone.kind);
  assert.match(gone.message, new RegExp(`^root@${unused.replace(/\./g, '\\.')}:22: (host unreachable|timed out)`));
  // Timing is the behaviour here: readyTimeoutMs bounds a silent address (ssh2's own default is
  // 20 s). The bound is loose, for a loaded 2-core runner.
  assert.ok(Date.now() - started < 4000 + 10_000, `took ${Date.now() - started} ms`);
});

test('authentication failure names the user and the key', async () => {
  const other = join(dir, 'wrongkey');
  const { execFileSync } = await import('node:child_process');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const e = await refusal({ keyFile: other });
  assert.equal(e.kind, 'auth');
  assert.equal(e.message, `root@${h.address}:22: authentication failed for user root (tried key ${other})`);
});

test('20 concurrent execs on one connection all succeed, at most 8 at once', async () => {
  const t = await connect({ user: 'deploy' });
  await bed.exec(h, 'rm -rf /tmp/conc && mkdir /tmp/conc');
  const before = t.stats.channels;
  // Two rounds back to back: the second opens channels right as the first ones close.
  for (let round = 0; round < 2; round++) {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.exec(`touch /tmp/conc/${i}; n=$(ls /tmp/conc | wc -l); sleep 0.4; rm /tmp/conc/${i}; echo "$n"`),
      ),
    );
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const peak = Math.max(...results.map((r) => Number(r.stdout.trim())));
    assert.ok(peak <= 8, `peak concurrency ${peak}`);
    assert.ok(peak >= 4, `channels ran in parallel (peak ${peak})`);
  }
  assert.equal(t.stats.channels, before + 40);
});

test('a 2 MB script and a 2 MB put/get round-trip intact', async () => {
  const t = await connect({ user: 'deploy' });
  const payload = randomBytes(1536 * 1024).toString('base64'); // ~2 MB of script text
  const script = `cat > /tmp/panel-big.txt <<'EOF'\n${payload}\nEOF\nsha256sum < /tmp/panel-big.txt`;
  assert.ok(script.length > 2_000_000);
  const r = await t.exec(script);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.split(' ')[0], createHash('sha256').update(`${payload}\n`).digest('hex'));

  const data = randomBytes(2 * 1024 * 1024);
  await t.put('/opt/panel-test/big.bin', data, 0o640);
  const remote = await bed.exec(h, 'sha256sum /opt/panel-test/big.bin; stat -c %a /opt/panel-test/big.bin; ls -A /opt/panel-test');
  assert.equal(remote.stdout, `${createHash('sha256').update(data).digest('hex')}  /opt/panel-test/big.bin\n640\nbig.bin\n`);
  const back = await t.get('/opt/panel-test/big.bin');
  assert.ok(back?.equals(data), 'get returns the same bytes');
  assert.equal(await t.get('/opt/panel-test/absent'), undefined);
});

test('timeoutMs kills the command and returns 124', async () => {
  const t = await connect({ user: 'deploy' });
  const r = await t.exec('sleep 31.5; touch /tmp/panel-timeout-finished; echo never', { timeoutMs: 500 });
  assert.equal(r.code, 124);
  assert.equal(r.stdout, '');
  // Killed, not waited for: the command never reached its end (the check below shows it is gone).
  assert.equal((await bed.exec(h, 'test -e /tmp/panel-timeout-finished && echo finished || echo killed')).stdout, 'killed\n');
  assert.equal((await bed.exec(h, 'pgrep -f "sleep 3[1]" || true')).stdout.trim(), '', 'the remote command is gone');
});

test('a lost connection is an exception naming the host, for running and later execs', async () => {
  const t = await connect({ user: 'nosudo', sudo: false });
  // Settle into a value at once: the rejection may arrive while we are still
  // awaiting the kill, and an unobserved rejection would fail the run.
  const running = t.exec('sleep 30').then(
    () => undefined,
    (e: unknown) => e,
  );
  await new Promise((r) => setTimeout(r, 300));
  await bed.exec(h, `pkill -KILL -f '^sshd: nosudo' || true`);
  const err = await running;
  assert.ok(err instanceof TransportError && err.message.startsWith(`nosudo@${h.address}:22: connection lost`), String(err));
  await assert.rejects(t.exec('true'), (e: unknown) => e instanceof TransportError && /connection lost/.test(e.message));
});
