/**
 * Host profiles and releases of the testbed, each property seen on a booted host:
 * the cloud-like profile (ufw, systemd-resolved, needrestart, no kmod, dpkg lock
 * at boot), Debian 13 with its own apt repository, and the Ubuntu-26.04-like
 * profile (uutils coreutils, sudo-rs). A plain Debian 12 host is the control.
 * Every host of every profile runs real container tasks (runc in a cgroup of
 * its own, a session keyring), as a server does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tcpOpen } from '../testbed/procs.js';
import { BOOT_LOCK_SECONDS, startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { ssh } from '../support/ssh.js';
import { ARTIFACT_PATHS } from '../testbed/mirror.js';

describe('testbed profiles', { timeout: 15 * 60_000 }, () => {
  let bed: Testbed;
  let cloud: TestHost;
  let plain: TestHost;
  let trixie: TestHost;
  let uu: TestHost;
  /** Whether the dpkg lock was held right after the bed came up (probed first, in before()). */
  let lockAtStart: { code: number; out: string };

  before(async () => {
    bed = await startTestbed({
      hosts: 4,
      profile: ['cloud-like', 'plain', 'plain', 'ubuntu-26.04-like'],
      release: ['bookworm', 'bookworm', 'trixie', 'trixie'],
      pebble: false,
    });
    [cloud, plain, trixie, uu] = bed.hosts as [TestHost, TestHost, TestHost, TestHost];
    const r = await bed.exec(cloud, 'dpkg --configure -a');
    lockAtStart = { code: r.code, out: r.stdout + r.stderr };
  });

  after(async () => {
    await bed?.stop();
  });

  it('names each host release and profile', () => {
    assert.deepEqual(
      bed.hosts.map((h) => `${h.release}/${h.profile}`),
      ['bookworm/cloud-like', 'bookworm/plain', 'trixie/plain', 'trixie/ubuntu-26.04-like'],
    );
  });

  it('cloud-like: dpkg lock held at boot, released after a few seconds', async () => {
    assert.notEqual(lockAtStart.code, 0, lockAtStart.out);
    assert.match(lockAtStart.out, /lock.*(locked|held) by/i);
    const deadline = Date.now() + (BOOT_LOCK_SECONDS + 20) * 1000;
    let r = await bed.exec(cloud, 'dpkg --configure -a');
    while (r.code !== 0 && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 500));
      r = await bed.exec(cloud, 'dpkg --configure -a');
    }
    assert.equal(r.code, 0, r.stderr);
    const plainLock = await bed.exec(plain, 'dpkg --configure -a');
    assert.equal(plainLock.code, 0, 'a plain host holds no lock at boot');
  });

  it('cloud-like: ufw active, default deny incoming, ssh, http and https allowed', async () => {
    const r = await bed.exec(cloud, 'ufw status verbose');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Status: active$/m);
    assert.match(r.stdout, /Default: deny \(incoming\)/);
    assert.match(r.stdout, /^22\/tcp\s+ALLOW IN\s+Anywhere\s*$/m);
    assert.match(r.stdout, /^80,443\/tcp\s+ALLOW IN\s+Anywhere\s*$/m);
    // Denied for real: a listener on 8081 answers inside, not from the bed; ssh does.
    await bed.exec(cloud, 'systemd-run --unit=probe-8081 python3 -m http.server 8081 --bind 0.0.0.0');
    const inside = await bed.exec(cloud, 'for i in $(seq 50); do python3 -c "import socket; socket.create_connection((\'127.0.0.1\', 8081), 1)" 2>/dev/null && exit 0; sleep 0.1; done; exit 1');
    assert.equal(inside.code, 0, 'the listener runs');
    assert.equal(await tcpOpen(cloud.address, 8081, 2000), false, 'ufw drops 8081 from outside');
    assert.equal(await tcpOpen(cloud.address, 22, 2000), true);
    const ok = await ssh(bed, cloud, 'root', 'true');
    assert.equal(ok.code, 0, ok.stderr);
    const none = await bed.exec(plain, 'command -v ufw');
    assert.notEqual(none.code, 0, 'the plain host has no ufw');
  });

  it('cloud-like: systemd-resolved stub in /etc/resolv.conf, upstream servers behind it', async () => {
    const r = await bed.exec(cloud, 'systemctl is-active systemd-resolved; readlink /etc/resolv.conf; grep ^nameserver /etc/resolv.conf; grep ^nameserver /run/systemd/resolve/resolv.conf');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'active',
      '../run/systemd/resolve/stub-resolv.conf',
      'nameserver 127.0.0.53',
      `nameserver ${bed.bridgeAddress}`,
    ]);
  });

  it('cloud-like: needrestart installed and set to ask; no kmod (no modprobe)', async () => {
    const r = await bed.exec(cloud, 'command -v needrestart; cat /etc/needrestart/conf.d/*.conf; dpkg-query -W -f=\'${Status}\\n\' needrestart');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\/needrestart$/m);
    assert.match(r.stdout, /^\$nrconf\{restart\} = 'i';$/m);
    assert.match(r.stdout, /install ok installed/);
    const mod = await bed.exec(cloud, 'command -v modprobe');
    assert.notEqual(mod.code, 0, mod.stdout);
    const control = await bed.exec(plain, 'command -v modprobe');
    assert.equal(control.code, 0, 'the plain host has modprobe');
  });

  it('cloud-like: kmod from the bed repo gives a modprobe that knows the built-in modules', async () => {
    const r = await bed.exec(cloud, 'export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a; apt-get update -qq && apt-get install -y -qq kmod >/dev/null && modprobe -n -v overlay; echo rc=$?');
    assert.match(r.stdout, /rc=0$/m, r.stderr);
  });

  it('Debian 13 host: trixie, with its own apt repository', async () => {
    const r = await ssh(bed, trixie, 'root', 'cat /etc/debian_version; cat /etc/apt/sources.list.d/*.list; export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq nginx >/dev/null && nginx -v');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^13\./m);
    assert.ok(bed.aptUrls.trixie, 'the bed serves a trixie repository');
    assert.match(r.stdout, new RegExp(`deb \\[trusted=yes\\] ${bed.aptUrls.trixie ?? ''}/ \\./`));
    assert.match(r.stderr, /nginx\/1\.26\./);
  });

  it('ubuntu-26.04-like: coreutils are uutils, sudo is sudo-rs (reached as deploy)', async () => {
    const r = await ssh(
      bed,
      uu,
      'deploy',
      'readlink -f "$(command -v stat)"; dpkg -S "$(readlink -f "$(command -v stat)")"; stat --version | head -1; sudo --version 2>&1 | head -1; sudo -n id -u',
    );
    assert.equal(r.code, 0, r.stderr);
    const [path, owner, stat, sudo, uid] = r.stdout.trim().split('\n');
    assert.equal(path, '/usr/bin/coreutils');
    assert.match(owner ?? '', /^rust-coreutils: /);
    assert.match(stat ?? '', /^stat 0\.\d+\.\d+$/, 'uutils 0.x (GNU says "stat (GNU coreutils) 9.x")');
    assert.match(sudo ?? '', /sudo-rs/);
    assert.equal(uid, '0');
    // Every command name panel's scripts use is uutils; GNU's stays only as NAME.gnu.
    const names = 'stat sha256sum mktemp install cp mv ln rm cat head tail tr date base64 dirname basename chmod chown mkdir touch cut sort uniq wc env id printf echo test readlink realpath sleep tee';
    const all = await bed.exec(uu, `for n in ${names}; do p=$(command -v $n) || { echo "missing $n"; continue; }; [[ $p != /* ]] && continue; echo "$n $(readlink -f $p)"; done`);
    for (const line of all.stdout.trim().split('\n')) assert.match(line, / \/usr\/bin\/coreutils$/, line);
    const control = await bed.exec(trixie, 'readlink -f "$(command -v stat)"; sudo --version 2>&1 | head -1');
    assert.match(control.stdout, /^\/usr\/bin\/stat\nSudo version/);
  });

  it('every host runs a container task with ctr (runc, writable cgroup controllers, session keyring)', async () => {
    // The mirror's containerd and Debian's runc; a rootfs that is the host's own /usr, read-only.
    const script = String.raw`set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -q runc curl > /dev/null
curl -fsS "$MIRROR/$CTD" | tar -xz -C /usr/local
(setsid /usr/local/bin/containerd > /tmp/containerd.log 2>&1 &)
for i in $(seq 50); do ctr version >/dev/null 2>&1 && break; sleep 0.2; done
mkdir -p /tmp/ctr-root/usr /tmp/ctr-root/proc /tmp/ctr-root/dev /tmp/ctr-root/sys
mount --bind -o ro /usr /tmp/ctr-root/usr
for d in bin sbin lib lib64; do ln -sfn usr/$d /tmp/ctr-root/$d; done
ctr run --rm --rootfs /tmp/ctr-root probe /bin/sh -c 'echo in-container; grep -E "^[0-9]+:(memory|pids):" /proc/self/cgroup; cat /proc/self/attr/current 2>/dev/null; true'
`;
    for (const h of bed.hosts) {
      const r = await bed.exec(h, `MIRROR=${bed.mirrorUrl} CTD=${ARTIFACT_PATHS.containerd} bash -s`, { input: script, timeoutMs: 180_000 });
      assert.equal(r.code, 0, `${h.name} (${h.profile}): ${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^in-container$/m, `${h.name}: ${r.stdout}`);
      // The task's own memory and pids cgroups (containerd's /default/<id>, in the host's subtree), not the host's.
      assert.match(r.stdout, /^\d+:memory:\/\S*\/default\/probe$/m, `${h.name}: ${r.stdout}`);
      assert.match(r.stdout, /^\d+:pids:\/\S*\/default\/probe$/m, `${h.name}: ${r.stdout}`);
    }
  });
});
