/**
 * scripts/install.sh (the one-liner's script) without a host: shellcheck
 * (Debian's), and its refusals, each before any download (the mirror given
 * is a closed port, so a script that went on would fail differently).
 * Installing, idempotence and the checksum refusal run on testbed hosts:
 * test/integration/one-binary.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../support/temp.js';

const SCRIPT = join(packageRoot, 'scripts', 'install.sh');
const CLOSED = ['--mirror', 'http://127.0.0.1:9'];

test('install.sh passes shellcheck', () => {
  const r = spawnSync('shellcheck', ['--severity=style', SCRIPT], { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'shellcheck is installed (apt-get install shellcheck)');
  assert.equal(r.status, 0, r.stdout);
});

/** Runs install.sh with `uname` answering `system` and `machine`, optionally inside a wrapper (argv prefix). */
function run(o: { system?: string; machine?: string; osRelease?: string; asNobody?: boolean; args?: readonly string[] }): { code: number | null; stderr: string } {
  const dir = tempDir('panel-install-sh-');
  writeFileSync(
    join(dir, 'uname'),
    `#!/bin/sh\ncase "$1" in -s) echo ${o.system ?? 'Linux'} ;; -m) echo ${o.machine ?? 'x86_64'} ;; *) exec /bin/uname "$@" ;; esac\n`,
  );
  chmodSync(join(dir, 'uname'), 0o755);
  chmodSync(dir, 0o755);
  let argv = ['bash', SCRIPT, ...(o.args ?? [...CLOSED, '-d', 'example.com'])];
  if (o.osRelease !== undefined) {
    // Another distribution's /etc/os-release, in a mount namespace of this command only.
    writeFileSync(join(dir, 'os-release'), o.osRelease);
    argv = ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind "$0" /etc/os-release && exec "$@"`, join(dir, 'os-release'), ...argv];
  }
  if (o.asNobody) argv = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env: { ...process.env, PATH: `${dir}:${process.env['PATH']}` }, timeout: 30_000 });
  return { code: r.status, stderr: r.stderr };
}

test('install.sh refuses, in one line and before any download: another OS, another architecture, another distribution, not root, a bad --mirror', { skip: process.getuid?.() !== 0 ? 'needs root (mount namespace, setpriv)' : false }, () => {
  const cases: Array<[Parameters<typeof run>[0], RegExp]> = [
    [{ system: 'Darwin' }, /^panel install\.sh: panel runs on Linux \(Debian or Ubuntu\); this is Darwin$/],
    [{ machine: 'riscv64' }, /^panel install\.sh: no panel build for the riscv64 architecture \(there are amd64 and arm64\)$/],
    [{ osRelease: 'ID=fedora\nVERSION_ID=41\n' }, /^panel install\.sh: panel supports Debian and Ubuntu; this is 'fedora' \(--allow-unsupported-os to try anyway\)$/],
    [{ asNobody: true }, /^panel install\.sh: run as root: curl -fsSL …\/install\.sh \| sudo bash -s -- -d example\.com -m me@example\.com$/],
    [{ args: ['-d', 'example.com', '--mirror'] }, /^panel install\.sh: --mirror needs a URL$/],
    [{ args: ['--mirror=ftp://mirror.example', '-d', 'example.com'] }, /^panel install\.sh: --mirror: expected an http\(s\) URL, got 'ftp:\/\/mirror\.example'$/],
  ];
  for (const [o, want] of cases) {
    const r = run(o);
    assert.equal(r.code, 1, `${JSON.stringify(o)}: ${r.stderr}`);
    assert.match(r.stderr.trimEnd(), want, JSON.stringify(o));
  }
  // The same checks let a supported machine through to the download (which the closed port refuses).
  const through = run({ osRelease: 'ID=ubuntu\nVERSION_ID="26.04"\n' });
  assert.match(through.stderr, /cannot download http:\/\/127\.0\.0\.1:9\/panel-sh\/panel\/releases\/latest\/download\/SHA256SUMS/);
});
