/**
 * Keys with passphrases, through the CLI as users run it (issue 14): a real
 * ed25519 key with a passphrase, authorized on a real (nspawn) host, loaded
 * into a real ssh-agent with ssh-add (the passphrase given by an SSH_ASKPASS
 * script, as a desktop session does); panel, given no --key, signs through
 * the agent at SSH_AUTH_SOCK. Given the key file itself, panel refuses in one
 * `panel:` line that says to use ssh-agent. The passphrase never appears in
 * any output. Also the host-key rules through the CLI: unknown refused
 * without --trust-new-host, recorded with it, a changed key refused even with
 * it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fingerprint } from '../../src/transport/known-hosts.js';
import { panel, type CliRun } from '../support/panel-cli.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

const PASSPHRASE = 'correct horse 7 battery staple';

let bed: Testbed;
let host: TestHost;
let dir: string;
let key: string;
let keyFp: string;
let agent: ChildProcess | undefined;
let sock: string;
/** HOME for the CLI: no ~/.ssh keys to fall back on, so only the agent can authenticate. */
let home: string;

before(async () => {
  dir = tempDir('panel-agent-');
  home = join(dir, 'home');
  execFileSync('mkdir', ['-p', home]);
  key = join(dir, 'id_pass');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'panel agent test', '-f', key]);
  const pub = readFileSync(`${key}.pub`, 'utf8');
  keyFp = fingerprint(Buffer.from(pub.split(' ')[1]!, 'base64'));

  bed = await startTestbed({ hosts: 1, pebble: false });
  host = bed.hosts[0]!;
  const r = await bed.exec(host, 'cat >> /root/.ssh/authorized_keys', { input: pub });
  assert.equal(r.code, 0, r.stderr);

  sock = join(dir, 'agent.sock');
  agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((res) => setTimeout(res, 50));
  assert.ok(existsSync(sock), 'ssh-agent did not start');
  // ssh-add reads the passphrase from the askpass program (forced: no terminal here).
  const askpass = join(dir, 'askpass.sh');
  writeFileSync(askpass, `#!/bin/sh\nprintf '%s\\n' '${PASSPHRASE}'\n`);
  chmodSync(askpass, 0o700);
  execFileSync('ssh-add', [key], {
    env: { PATH: process.env['PATH'], SSH_AUTH_SOCK: sock, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', DISPLAY: ':0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  assert.match(execFileSync('ssh-add', ['-l'], { env: { SSH_AUTH_SOCK: sock } }).toString(), new RegExp(keyFp.replace(/\+/g, '\\+')));
});

after(async () => {
  if (agent?.pid !== undefined) agent.kill('SIGTERM');
  await bed?.stop();
});

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
const target = (): string[] => ['--host', `root@${host.address}`, '--recipes', 'demo', '--set', 'demo.artifacts=false'];

/** The CLI with (or without) our agent, and a HOME without keys; never the runner's own agent (an empty SSH_AUTH_SOCK is none). */
function cli(args: string[], withAgent: boolean): Promise<CliRun> {
  return panel(args, { env: { HOME: home, SSH_AUTH_SOCK: withAgent ? sock : '' } });
}

function noPassphrase(run: CliRun): void {
  for (const part of [PASSPHRASE, 'correct horse']) {
    assert.ok(!run.stdout.includes(part) && !run.stderr.includes(part), 'the passphrase was printed');
  }
}

/** sshd's own log line for the last login with our key (proves the agent's key was the one used). */
async function acceptedWithAgentKey(): Promise<boolean> {
  const r = await bed.exec(host, 'journalctl -u ssh -u sshd --no-pager -o cat | grep "Accepted publickey for root" || true');
  return r.stdout.includes(keyFp);
}

test('a passphrase key loaded into ssh-agent: panel plan without --key connects through SSH_AUTH_SOCK', async () => {
  const run = await cli(['plan', ...target(), '--known-hosts', bed.knownHostsFile], true);
  assert.equal(run.code, 0, explain(run));
  assert.ok(await acceptedWithAgentKey(), 'sshd did not log a login with the agent-held key');
  noPassphrase(run);
});

test('the same key given with --key and no agent: one panel: line saying to use ssh-agent, no connection', async () => {
  // Any connection, even one refused before auth, leaves a line in sshd's log.
  const sshdLog = async (): Promise<string> => (await bed.exec(host, 'journalctl -u ssh -u sshd --no-pager -o cat | wc -l')).stdout;
  const before = await sshdLog();
  const run = await cli(['plan', ...target(), '--known-hosts', bed.knownHostsFile, '--key', key], false);
  assert.equal(run.code, 1, explain(run));
  const lines = (run.stdout + run.stderr).split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, explain(run));
  assert.match(lines[0]!, new RegExp(`^panel: --key ${key}: key file ${key} is passphrase-protected.*ssh-agent \\(ssh-add ${key}\\).*SSH_AUTH_SOCK`));
  assert.equal(await sshdLog(), before, 'no connection was made');
  noPassphrase(run);
});

test('through the CLI with the agent: unknown host refused, recorded with --trust-new-host; a changed key refused even with it', async () => {
  const kh = join(dir, 'known_hosts');
  const unknown = await cli(['plan', ...target(), '--known-hosts', kh], true);
  assert.equal(unknown.code, 1, explain(unknown));
  assert.ok((unknown.stdout + unknown.stderr).includes(`root@${host.address}:22: host key not known (${host.hostKeyFingerprint}); verify it and re-run with --trust-new-host`), explain(unknown));
  assert.equal(existsSync(kh), false, 'nothing recorded without --trust-new-host');

  const trusted = await cli(['plan', ...target(), '--known-hosts', kh, '--trust-new-host'], true);
  assert.equal(trusted.code, 0, explain(trusted));
  assert.ok(readFileSync(kh, 'utf8').startsWith(`${host.address} ssh-ed25519 `));

  // known_hosts now says this address has another key (a real one, of another machine).
  const other = join(dir, 'other_host_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
  const [type, b64] = readFileSync(`${other}.pub`, 'utf8').trim().split(' ');
  const changedKh = join(dir, 'changed_known_hosts');
  writeFileSync(changedKh, `${host.address} ${type} ${b64}\n`);
  const changed = await cli(['plan', ...target(), '--known-hosts', changedKh, '--trust-new-host'], true);
  assert.equal(changed.code, 1, explain(changed));
  assert.ok(
    (changed.stdout + changed.stderr).includes(`HOST KEY CHANGED — known_hosts has ${fingerprint(Buffer.from(b64!, 'base64'))}, host presented ${host.hostKeyFingerprint}; refusing`),
    explain(changed),
  );
  assert.equal(readFileSync(changedKh, 'utf8'), `${host.address} ${type} ${b64}\n`, 'known_hosts untouched');
  for (const r of [unknown, trusted, changed]) noPassphrase(r);
});
