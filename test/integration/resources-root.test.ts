/**
 * Resource fact and apply scripts run for real inside a copy of a Debian root
 * (systemd-nspawn, not booted, own network namespace): file, template,
 * directory, secretFile, sysctl, download, archive, command, bridge, unit,
 * apt facts. Services need a booted host: see resources-host.test.ts.
 */
import assert from 'node:assert/strict';
import { sh as script } from '../../src/shell.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createHash } from 'node:crypto';
import { apt, archive, bridge, command, directory, download, file, secretFile, sysctl, template, unit } from '../../src/resources/index.js';
import { Secret } from '../../src/secret.js';
import { apply, converge, type Exec, nspawnExec, planAll, readState } from '../unit/resources/harness.js';
import { tempDir } from '../support/temp.js';
import { ensureBase } from '../testbed/base.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

// The root is a copy of the testbed's cached bare-server base (debootstrap, built once
// and shared: test/testbed/base.ts), so CI runs these like every other integration test.
describe('resources on a real Debian root', () => {
  let root = '';
  let work = '';
  let exec: Exec;
  const sh = async (cmd: string): Promise<string> => {
    const r = await exec(cmd);
    assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    const base = await ensureBase();
    work = mkdtempSync(join('/var/tmp', 'panel-res-'));
    root = join(work, 'root');
    execFileSync('cp', ['-a', base, root]);
    exec = nspawnExec(root);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('file: create, converge, repair content and mode, keep 5 backups', async () => {
    const r = file({ path: '/etc/panel-test/a.conf', content: 'one\n', mode: 0o640, owner: 'root', group: 'nogroup' });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first.length, 1);
    assert.equal(first[0]?.action, 'create');
    assert.deepEqual(second, []);
    assert.equal(readFileSync(join(root, 'etc/panel-test/a.conf'), 'utf8'), 'one\n');
    assert.equal(statSync(join(root, 'etc/panel-test/a.conf')).mode & 0o7777, 0o640);

    await sh('echo two > /etc/panel-test/a.conf; chmod 0666 /etc/panel-test/a.conf');
    const drift = await planAll(exec, [r]);
    assert.equal(drift.length, 1);
    assert.equal(drift[0]?.reason, 'content differs, mode 0666 → 0640');
    assert.match(drift[0]?.diff ?? '', /^-two$/m);
    assert.match(drift[0]?.diff ?? '', /^\+one$/m);

    // Only the mode drifts: chmod, no rewrite (the inode stays).
    const c = await converge(exec, [r]);
    assert.deepEqual(c.second, []);
    const ino = statSync(join(root, 'etc/panel-test/a.conf')).ino;
    await sh('chmod 0600 /etc/panel-test/a.conf');
    const m = await converge(exec, [r]);
    assert.equal(m.first[0]?.reason, 'mode 0600 → 0640');
    assert.equal(m.first[0]?.diff, undefined);
    assert.equal(statSync(join(root, 'etc/panel-test/a.conf')).ino, ino);

    for (let i = 0; i < 7; i++) {
      await converge(exec, [file({ path: '/etc/panel-test/a.conf', content: `v${i}\n` })]);
    }
    const backups = readdirSync(join(root, 'var/lib/panel/backups')).filter((n) => n.startsWith('%etc%panel-test%a.conf.'));
    assert.equal(backups.length, 5);
  });

  it('plan leaves the file tree untouched', async () => {
    const snap = 'find /etc /var /opt /usr/local -xdev -printf "%p %s %T@ %m\\n" 2>/dev/null | sort | sha256sum';
    const before1 = await sh(snap);
    const res = [
      file({ path: '/etc/panel-test/never.conf', content: 'x' }),
      directory({ path: '/opt/panel-never' }),
      sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1', file: '/etc/sysctl.d/98-never.conf' }),
      secretFile({ path: '/etc/panel-test/never.secret', generate: script`echo nope` }),
      archive({ url: 'file:///nonexistent/x.tar.gz', sha256: 'a'.repeat(64), into: '/opt/never', members: ['bin/x'] }),
      download({ url: 'file:///nonexistent/x', sha256: 'b'.repeat(64), dest: '/usr/local/bin/never' }),
    ];
    const planned = await planAll(exec, res);
    assert.equal(planned.length, 7);
    assert.equal(await sh(snap), before1);
  });

  it('file validate runs on the temp file before the rename: a rejected file is never live, a new one never appears', async () => {
    const path = '/etc/panel-test/v.conf';
    await converge(exec, [file({ path, content: 'good\n' })]);
    // The validator sees the candidate as "$1" and records what is live at that moment.
    const bad = file({ path, content: 'bad\n', validate: script`cp -- "$2" /etc/panel-test/live-during-validate; grep -q good "$1" || { echo "config test failed: no good line" >&2; exit 3; }` });
    const a = await apply(exec, await planAll(exec, [bad]));
    assert.equal(a.ok, false);
    assert.match(a.stderr, /config test failed: no good line/);
    assert.match(a.stderr, /the live file is unchanged/);
    assert.equal(readFileSync(join(root, 'etc/panel-test/live-during-validate'), 'utf8'), 'good\n');
    assert.equal(readFileSync(join(root, path.slice(1)), 'utf8'), 'good\n');

    const fresh = file({ path: '/etc/panel-test/new.conf', content: 'bad\n', validate: script`false` });
    assert.equal((await apply(exec, await planAll(exec, [fresh]))).ok, false);
    assert.equal(existsSync(join(root, 'etc/panel-test/new.conf')), false);
    // No temp files left behind.
    assert.deepEqual(readdirSync(join(root, 'etc/panel-test')).filter((n) => n.startsWith('.panel-tmp')), []);
  });

  it('template renders and converges; odd paths and content survive quoting', async () => {
    const dir = tempDir('tpl-');
    writeFileSync(join(dir, 't.hbs'), 'name={{name}}\nquote=\'$(touch /tmp/pwned)\' `x` "{{name}}"\n');
    const path = "/etc/panel-test/it's a $(x) file";
    const r = template({ path, source: 't.hbs', data: { name: "a'b $HOME" }, templatesDir: dir });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first.length, 1);
    assert.deepEqual(second, []);
    assert.equal(readFileSync(join(root, path.slice(1)), 'utf8'), 'name=a\'b $HOME\nquote=\'$(touch /tmp/pwned)\' `x` "a\'b $HOME"\n');
    assert.equal(existsSync(join(root, 'tmp/pwned')), false);
  });

  it('directory: create and repair ownership', async () => {
    const r = directory({ path: '/var/lib/panel-test/d', mode: 0o750, owner: 'nobody', group: 'nogroup' });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first[0]?.action, 'create');
    assert.deepEqual(second, []);
    await sh('chown root:root /var/lib/panel-test/d');
    const drift = await planAll(exec, [r]);
    assert.equal(drift[0]?.reason, 'owner root → nobody, group root → nogroup');
    assert.deepEqual((await converge(exec, [r])).second, []);
  });

  it('secretFile: generated on the host, never overwritten, value replaced masked', async () => {
    const path = '/etc/panel-test/pw';
    const gen = secretFile({ path, generate: script`head -c 24 /dev/urandom | base64 | tr -d "/+=\\n"` });
    const { first, second } = await converge(exec, [gen]);
    assert.equal(first[0]?.reason, 'absent');
    assert.deepEqual(second, []);
    const v1 = readFileSync(join(root, path.slice(1)), 'utf8');
    assert.ok(v1.length >= 20);
    assert.equal(statSync(join(root, path.slice(1))).mode & 0o777, 0o600);
    // A second generate never rotates it.
    assert.deepEqual(await planAll(exec, [gen]), []);

    const value = 'the-new-password-123';
    const given = secretFile({ path, value: new Secret(value), generate: script`false` });
    const plan = await planAll(exec, [given]);
    assert.equal(plan[0]?.reason, 'value differs');
    const { script: _s, ...visible } = plan[0] as { script?: string };
    assert.ok(!JSON.stringify(visible).includes(value));
    assert.deepEqual((await converge(exec, [given])).second, []);
    assert.equal(readFileSync(join(root, path.slice(1)), 'utf8'), value);

    await sh(`chmod 0644 ${path}`);
    assert.equal((await planAll(exec, [given]))[0]?.reason, 'mode 0644 → 0600');
    assert.deepEqual((await converge(exec, [given])).second, []);
  });

  it('sysctl: the drop-in is panel\'s whole file (other lines and duplicates are drift), runtime set', async () => {
    const f = '/etc/sysctl.d/99-panel.conf';
    await sh(`printf '# keep me\\nnet.ipv4.conf.all.forwarding=0\\nvm.swappiness = 10\\n net.ipv4.conf.all.forwarding = 1\\n' > ${f}`);
    const r = sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' });
    const { first, second } = await converge(exec, [r]);
    assert.deepEqual(
      first.map((c) => c.reason),
      ['content differs', 'runtime 0 → 1'],
    );
    assert.deepEqual(second.map((c) => c.reason), ['runtime 0 → 1'], 'each nspawn run gets a fresh network namespace');
    assert.equal(readFileSync(join(root, f.slice(1)), 'utf8'), r.dropIn.spec.content.toString());
  });

  it('download: installs from a file:// URL, verifies, caches, refuses a mismatch', async () => {
    const payload = Buffer.alloc(2 * 1024 * 1024, 7); // > 1 MiB: goes through the stat cache
    mkdirSync(join(root, 'srv/mirror'), { recursive: true });
    writeFileSync(join(root, 'srv/mirror/tool'), payload);
    const good = download({ url: 'file:///srv/mirror/tool', sha256: sha(payload), dest: '/usr/local/bin/tool', mode: 0o755 });
    const { first, second } = await converge(exec, [good]);
    assert.equal(first[0]?.reason, 'absent');
    assert.deepEqual(second, []);
    assert.ok(existsSync(join(root, 'var/cache/panel/downloads', sha(payload))));
    // The state record holds the binary with its checksum (the stat cache).
    const recorded = (await readState(exec)).record('/usr/local/bin/tool');
    assert.ok(recorded?.kind === 'binary' && recorded.sha256 === sha(payload) && recorded.existed === false, JSON.stringify(recorded));

    // Damage the binary: detected (size changes → cache miss), re-installed from the cache even with the mirror gone.
    await sh('echo junk >> /usr/local/bin/tool; rm /srv/mirror/tool');
    const drift = await planAll(exec, [good]);
    assert.equal(drift[0]?.reason, 'checksum differs');
    assert.deepEqual((await converge(exec, [good])).second, []);

    writeFileSync(join(root, 'srv/mirror/tool'), 'evil');
    const wrong = 'c'.repeat(64);
    const bad = download({ url: 'file:///srv/mirror/tool', sha256: wrong, dest: '/usr/local/bin/tool', mode: 0o755 });
    const a = await apply(exec, await planAll(exec, [bad]));
    assert.equal(a.ok, false);
    assert.match(a.stderr, new RegExp(`checksum mismatch for file:///srv/mirror/tool: expected ${wrong}, got ${sha('evil')}`));
    assert.equal(sha(readFileSync(join(root, 'usr/local/bin/tool'))), sha(payload), 'dest untouched');
  });

  it('archive: extract with strip, record members, re-extract when a member changes', async () => {
    const src = tempDir('arc-');
    mkdirSync(join(src, 'pkg/bin'), { recursive: true });
    writeFileSync(join(src, 'pkg/bin/big'), Buffer.alloc(3 * 1024 * 1024, 1));
    writeFileSync(join(src, 'pkg/bin/small'), '#!/bin/sh\necho small\n');
    execFileSync('tar', ['-czf', join(root, 'srv/pkg.tar.gz'), '-C', src, 'pkg']);
    const tgz = readFileSync(join(root, 'srv/pkg.tar.gz'));
    const r = archive({ url: 'file:///srv/pkg.tar.gz', sha256: sha(tgz), into: '/opt/pkg', strip: 1, members: ['bin/big', 'bin/small'], mode: 0o755 });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first[0]?.reason, 'not extracted');
    assert.deepEqual(second, []);
    assert.equal(statSync(join(root, 'opt/pkg/bin/small')).mode & 0o777, 0o755);
    assert.deepEqual(readdirSync(join(root, 'opt/pkg')), ['bin'], 'no temp dir left behind');

    await sh('echo "echo tampered" > /opt/pkg/bin/small');
    assert.equal((await planAll(exec, [r]))[0]?.reason, 'bin/small: checksum differs');
    await sh('rm /opt/pkg/bin/big');
    assert.equal((await planAll(exec, [r]))[0]?.reason, 'bin/big: absent, bin/small: checksum differs');
    assert.deepEqual((await converge(exec, [r])).second, []);

    // A new archive version (different sha) means extract again.
    const r2 = archive({ url: 'file:///srv/pkg.tar.gz', sha256: sha(tgz), into: '/opt/pkg', strip: 1, members: ['bin/big', 'bin/small', 'bin/missing'] });
    const a = await apply(exec, await planAll(exec, [r2]));
    assert.equal(a.ok, false);
    assert.match(a.stderr, /has no member bin\/missing/);
  });

  it('stat cache: deep facts rehash, plain facts trust size+mtime+inode', async () => {
    const payload = Buffer.alloc(2 * 1024 * 1024, 9);
    writeFileSync(join(root, 'srv/blob'), payload);
    const r = download({ url: 'file:///srv/blob', sha256: sha(payload), dest: '/opt/blob' });
    await converge(exec, [r]);
    // Same size, mtime restored, same inode: only --deep can see it (that is what --deep is for).
    await sh('t=$(stat -c %y /opt/blob); printf "\\x0a" | dd of=/opt/blob bs=1 seek=100 conv=notrunc 2>/dev/null; touch -d "$t" /opt/blob');
    assert.deepEqual(await planAll(exec, [r]), []);
    const deep = await planAll(exec, [r], true);
    assert.equal(deep[0]?.reason, 'checksum differs');
  });

  it('command: runs only when the check fails', async () => {
    const r = command({ name: 'marker', check: script`test -f /var/lib/panel-test/marker`, run: script`mkdir -p /var/lib/panel-test && touch /var/lib/panel-test/marker`, reason: 'no marker' });
    const { first, second } = await converge(exec, [r]);
    assert.equal(first[0]?.reason, 'no marker');
    assert.deepEqual(second, []);
  });

  it('bridge: created with its address, up (within one network namespace run)', async () => {
    const r = bridge({ name: 'pnl0', address: '10.63.0.1/16' });
    // Each nspawn run has a fresh namespace, so do facts → apply → facts in one script via the harness primitives.
    const first = await planAll(exec, [r]);
    assert.equal(first[0]?.reason, 'absent');
    const script = first[0]?.script ?? '';
    const out = await sh(`set -e\n${script}\nip -j -4 addr show dev pnl0`);
    assert.match(out, /"local":"10\.63\.0\.1","prefixlen":16/);
  });

  it('unit: written, no daemon-reload without a running systemd', async () => {
    const r = unit({ name: 'panel-test.service', content: '[Service]\nExecStart=/bin/true\n' });
    const d = unit({ name: 'panel-test.service', dropIn: 'proxy', content: '[Service]\nEnvironment=X=1\n' });
    assert.equal(d.key, 'unit:panel-test.service.d/proxy.conf');
    const { first, second } = await converge(exec, [r, d]);
    assert.equal(first.length, 2);
    assert.deepEqual(second, []);
    assert.ok(existsSync(join(root, 'etc/systemd/system/panel-test.service.d/proxy.conf')));
  });

  it('apt: facts from dpkg; a missing package fails with apt\'s own words', async () => {
    assert.deepEqual(await planAll(exec, [apt({ packages: ['bash', 'coreutils'] })]), []);
    const r = apt({ packages: ['bash', 'panel-no-such-package'] });
    const plan = await planAll(exec, [r]);
    assert.equal(plan[0]?.target, 'panel-no-such-package');
    const a = await apply(exec, plan);
    assert.equal(a.ok, false);
    assert.match(a.stderr, /panel: apt-get (install|update)/);
  });
});
