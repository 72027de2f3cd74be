import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawn, spawnSync } from 'node:child_process';
import { bashArgv, bashCommandLine, exitCode, isTimeoutExit, wholeScript } from '../../src/transport/command.js';
import { Semaphore } from '../../src/transport/semaphore.js';
import { describeConnectFailure, displayName, hostKeyPreference } from '../../src/transport/ssh-connect.js';

test('semaphore never exceeds its limit and serves everyone', async () => {
  const sem = new Semaphore(3);
  let active = 0;
  let peak = 0;
  const results = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      sem.use(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        return i;
      }),
    ),
  );
  assert.equal(peak, 3);
  assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i));
  // A failing holder releases its slot.
  await assert.rejects(sem.use(() => Promise.reject(new Error('x'))));
  assert.equal(await sem.use(async () => 'ok'), 'ok');
});

test('the command line is fixed: bash -s after umask 022, sudo -n, numeric timeout only', () => {
  assert.equal(bashCommandLine({ sudo: false }), "bash -c 'umask 022 && exec bash -s'");
  assert.equal(bashCommandLine({ sudo: true }), "sudo -n bash -c 'umask 022 && exec bash -s'");
  assert.deepEqual(bashArgv({ sudo: true, timeoutMs: 1500 }), ['sudo', '-n', 'timeout', '-k', '5s', '1.500s', 'bash', '-c', 'umask 022 && exec bash -s']);
});

/** A script as exec runs it: the fixed command line, the wrapped script on stdin. */
function runWhole(stdin: string): { code: number | null; stdout: string; stderr: string } {
  const [cmd, ...args] = bashArgv({ sudo: false });
  const r = spawnSync(cmd!, args, { input: stdin, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('wholeScript: read whole, run as bash -s ran it; a script cut short runs nothing', () => {
  const script = [
    "f() { printf 'f:%s\\n' \"$1\"; }",
    "trap 'echo trap' EXIT",
    'f one',
    // A command reading stdin sees its end, not the rest of the script.
    'echo "stdin:[$(cat)]"',
    "cat <<'E'",
    'here $HOME',
    'E',
    'f "$0"',
    'false',
  ].join('\n');
  assert.deepEqual(runWhole(wholeScript(script)), { code: 1, stdout: 'f:one\nstdin:[]\nhere $HOME\nf:bash\ntrap\n', stderr: '' });
  assert.equal(runWhole(wholeScript('echo a; exit 7; echo b')).code, 7);
  assert.deepEqual(runWhole(wholeScript('echo a\ntrue')), { code: 0, stdout: 'a\n', stderr: '' });
  // Cut anywhere after the first line: not one line runs.
  const whole = wholeScript('echo first\necho second');
  for (const cut of [whole.indexOf('echo first'), whole.indexOf('echo second') + 6, whole.length - 3]) {
    assert.deepEqual(runWhole(whole.slice(0, cut)), { code: 255, stdout: '', stderr: 'panel: the script arrived incomplete; nothing ran\n' });
  }
});

test('wholeScript: the script runs once its last byte arrives, before stdin ends', async () => {
  const [cmd, ...args] = bashArgv({ sudo: false });
  const child = spawn(cmd!, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // stdin stays open: a loader that waited for its end would never run the script.
  child.stdin.write(wholeScript('echo ran; exit 3'));
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(null);
    }, 10_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  child.stdin.destroy();
  assert.deepEqual({ code, out }, { code: 3, out: 'ran\n' });
});

test('exit codes: signals become 128+n, timeouts 124', () => {
  assert.equal(exitCode(3, null, false), 3);
  assert.equal(exitCode(null, 'KILL', false), 137);
  assert.equal(exitCode(null, 'SIGTERM', false), 143);
  assert.equal(exitCode(0, null, true), 124);
  assert.equal(isTimeoutExit(124, 1000, 500), true);
  assert.equal(isTimeoutExit(124, 100, 500), false);
  assert.equal(isTimeoutExit(124, 1000, undefined), false);
});

test('display names bracket IPv6', () => {
  assert.equal(displayName({ kind: 'ssh', address: '10.0.0.5', port: 22, user: 'root' }), 'root@10.0.0.5:22');
  assert.equal(displayName({ kind: 'ssh', address: 'fd00::5', port: 2222, user: 'deploy' }), 'deploy@[fd00::5]:2222');
});

test('host key preference puts known types first', () => {
  assert.deepEqual(hostKeyPreference(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.equal(hostKeyPreference([])[0], 'ssh-ed25519');
  assert.equal(hostKeyPreference(['ecdsa-sha2-nistp256'])[0], 'ecdsa-sha2-nistp256');
  assert.equal(hostKeyPreference(['ssh-rsa']).length, 7);
});

test('connect failures become one clear line', () => {
  const ctx = { host: 'web', display: 'deploy@10.0.0.5:22', user: 'deploy', tried: 'key /k', readyTimeoutMs: 15000 };
  const e = (msg: string, extra: Record<string, string>) => Object.assign(new Error(msg), extra);
  const cases: Array<[Error, string, string]> = [
    [e('connect ECONNREFUSED', { code: 'ECONNREFUSED' }), 'unreachable', 'deploy@10.0.0.5:22: connection refused (is sshd running?)'],
    [e('x', { level: 'client-authentication' }), 'auth', 'deploy@10.0.0.5:22: authentication failed for user deploy (tried key /k)'],
    [e('Timed out while waiting for handshake', { level: 'client-timeout' }), 'timeout', 'deploy@10.0.0.5:22: timed out after 15 s waiting for SSH (host down or port filtered?)'],
    [e('x', { code: 'EHOSTUNREACH' }), 'unreachable', 'deploy@10.0.0.5:22: host unreachable (no route to host)'],
  ];
  for (const [err, kind, msg] of cases) {
    const ce = describeConnectFailure(err, ctx);
    assert.equal(ce.kind, kind);
    assert.equal(ce.message, msg);
    assert.equal(ce.host, 'web');
  }
});
