/**
 * Issue 25, panel.sh's way: one download and one command on a bare server.
 * Two testbed hosts with no Node: Debian 12 reached as root, and the
 * Ubuntu-26.04-like host (uutils coreutils, sudo-rs) reached as the sudo user
 * deploy. On each, over real SSH, the one-liner
 *   curl -fsSL MIRROR/…/install.sh | sudo bash -s -- -d NAME -m MAIL …
 * fetches the single executable from the bed's mirror (`npm run build:binary`,
 * served there by publishPanelRelease), verifies it against SHA256SUMS, puts it
 * in /usr/local/bin/panel and runs `panel install` in local mode on the host:
 * the full stack converges with a Pebble certificate and HTTPS answers. Then,
 * on the host: the one-liner again changes nothing, `panel check`,
 * `panel uninstall --dry-run` and `panel renew` work, and the renewal timer
 * runs the installed executable. install.sh refuses a download whose sum
 * does not match and installs nothing.
 *
 * Flags beyond -d/-m are the testbed's own, as with every test: --mirror, the
 * --checksums of the bed's Debian-built containerd/CNI tarballs, Pebble's
 * --acme-directory and --acme-ca (both files copied onto the host first).
 * The bed's base is debootstrap's minbase, which has no curl (a Debian or
 * Ubuntu server image has it): curl is installed from the bed's apt
 * repository before the one-liner, and nothing else is.
 * NOTE: faasd is the testbed's stand-in (test/testbed/faasd-standin/main.ts).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { mirrorDir } from '../support/bed-args.js';
import { releaseDir } from '../support/release.js';
import { ssh, type Ssh } from '../support/ssh.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { PANEL_RELEASE_PATH, publishPanelRelease, standInChecksumsFile } from '../testbed/mirror.js';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../support/temp.js';
import { FUNCTION_IMAGE } from '../support/gateway-container.js';

let bed: Testbed;
let release: string;

/** [name, user, whether the user needs sudo] in host order. */
const HOSTS = [
  { name: 'deb12-root', user: 'root', home: '/root' },
  { name: 'ubuntu2604-deploy', user: 'deploy', home: '/home/deploy' },
] as const;
const domainOf = (name: string): string => `${name}.panel.test`;
const MAIL = 'ops@panel.test';

/** Single-quoted for sh. */
const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `panel install`'s arguments on host i, as a user would pass them through the one-liner. */
function installArgs(i: number): string[] {
  const h = HOSTS[i]!;
  return [
    '-d', domainOf(h.name), '-m', MAIL,
    '--mirror', bed.mirrorUrl,
    '--checksums', `${h.home}/STANDIN-SHA256SUMS`,
    '--acme-directory', bed.acme.directory,
    '--acme-ca', `${h.home}/pebble-ca.pem`,
  ];
}

/** The one-liner, typed on the host by its user. */
function oneLiner(i: number, extra: readonly string[] = []): string {
  return `curl -fsSL ${q(`${bed.mirrorUrl}/${PANEL_RELEASE_PATH}/install.sh`)} | sudo bash -s -- ${[...installArgs(i), ...extra].map(q).join(' ')}`;
}

function onHost(i: number, cmd: string): Promise<Ssh> {
  const h = HOSTS[i]!;
  return ssh(bed, bed.hosts[i] as TestHost, h.user, `cd ${h.home} && ${cmd}`);
}

function explain(r: Ssh): string {
  return `exit ${r.code}\nstderr: ${r.stderr.slice(-4000)}\nstdout: ${r.stdout.slice(-4000)}`;
}

/** `type: change` events of a --json run. */
function changes(r: Ssh): string[] {
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; change?: { resource: string; reason: string } })
    .filter((e) => e.type === 'change')
    .map((e) => `${e.change?.resource} ${e.change?.reason}`);
}

before(async () => {
  release = releaseDir();
  bed = await startTestbed({ hosts: 2, release: ['bookworm', 'trixie'], profile: ['plain', 'ubuntu-26.04-like'] });
  await publishPanelRelease(mirrorDir(bed), release);
  const standIn = readFileSync(standInChecksumsFile(bed.checksumsFile), 'utf8');
  const ca = readFileSync(bed.acme.caFile, 'utf8');
  for (const [i, h] of HOSTS.entries()) {
    const host = bed.hosts[i] as TestHost;
    await bed.dns.add(domainOf(h.name), host.address);
    // The files the testbed's flags name, where the user keeps them.
    for (const [file, text] of [['STANDIN-SHA256SUMS', standIn], ['pebble-ca.pem', ca]] as const) {
      assert.equal((await bed.exec(host, `cat > ${h.home}/${file} && chown ${h.user}: ${h.home}/${file}`, { input: text })).code, 0);
    }
    const curl = await bed.exec(host, 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null', { timeoutMs: 300_000 });
    assert.equal(curl.code, 0, curl.stderr);
  }
});

after(async () => {
  await bed?.stop();
});

test('no Node on the hosts: the one-liner installs the executable and the full stack converges with a Pebble certificate; HTTPS answers', async () => {
  for (const [i, h] of HOSTS.entries()) {
    const host = bed.hosts[i] as TestHost;
    const node = await bed.exec(host, 'command -v node nodejs npm; [ ! -e /usr/lib/node_modules ] || echo /usr/lib/node_modules');
    assert.equal(node.stdout.trim(), '', `${h.name}: no node or npm: ${node.stdout}`);
    const r = await onHost(i, oneLiner(i, ['--json']));
    assert.equal(r.code, 0, `${h.name}: ${explain(r)}`);
    assert.match(r.stdout, /installed \/usr\/local\/bin\/panel \(panel-linux-amd64, sha256 [0-9a-f]{64}\)/);
    assert.ok(changes(r).length > 0, `${h.name}: the first run changed something`);
    // The certificate is Pebble's, for this name: curl verifies against Pebble's root.
    await bed.exec(host, 'cat > /tmp/pebble-root.pem', { input: await bed.acme.rootCaPem() });
    const https = await bed.exec(
      host,
      `curl -sS -o /dev/null -w '%{http_code}' --resolve ${domainOf(h.name)}:443:127.0.0.1 --cacert /tmp/pebble-root.pem https://${domainOf(h.name)}/ui/`,
    );
    assert.equal(`${https.code} ${https.stdout}`, '0 401', `${h.name}: HTTPS to the gateway: ${https.stderr}`);
  }
});

test('the default install runs faasd\'s contract: the gateway task non-root, /healthz on :8080 and over HTTPS, a function deployed through the API answering over HTTPS from its own task, the function asking faasd\'s resolv.conf\'s server', async () => {
  for (const [i, h] of HOSTS.entries()) {
    const host = bed.hosts[i] as TestHost;
    const on = async (cmd: string): Promise<string> => {
      const r = await bed.exec(host, cmd);
      assert.equal(r.code, 0, `${h.name}: ${cmd}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    const https = (path: string): Promise<string> =>
      on(`curl -sS -w '\\n%{http_code}' --resolve ${domainOf(h.name)}:443:127.0.0.1 --cacert /tmp/pebble-root.pem ${q(`https://${domainOf(h.name)}${path}`)}`);
    const uid = (await on(`stat -c %u /proc/$(ctr -n openfaas tasks ls | awk '$1 == "gateway" { print $2 }')`)).trim();
    assert.notEqual(uid, '0', `${h.name}: the gateway task runs as root`);
    assert.equal((await on("curl -sS -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:8080/healthz")).trim(), '200', h.name);
    assert.match(await https('/healthz'), /\n200$/, `${h.name}: /healthz over HTTPS`);
    // Deployed as a user does: the gateway's API with the admin credentials (from a file, never in argv).
    const deploy = JSON.stringify({ service: 'hello', image: FUNCTION_IMAGE, envVars: { fn_name: 'hello' } });
    const post = await on(`printf 'user = "admin:%s"\\n' "$(cat /var/lib/faasd/secrets/basic-auth-password)" > /run/panel-curl-auth
curl -sS -o /dev/null -w '%{http_code}' -K /run/panel-curl-auth -X POST --data-binary ${q(deploy)} http://127.0.0.1:8080/system/functions; rm -f /run/panel-curl-auth`);
    assert.equal(post.trim(), '200', h.name);
    await on('for i in $(seq 100); do curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/function/hello && break; sleep 0.2; done; true');
    assert.match(await on('ctr -n openfaas-fn tasks ls'), /^hello\s+\d+\s+RUNNING/m, h.name);
    assert.match(await https('/function/hello'), /^function hello from \S+ uid 100\n[\s\S]*\n200$/, `${h.name}: the function's own task (its image user) over HTTPS`);
    // faasd mounts /var/lib/faasd/resolv.conf as the container's: the container asks that file's
    // server. These profiles give the host no resolver, so panel wrote faasd's fallback (8.8.8.8),
    // which no test host reaches: the function's answer names that server either way (cloud-host,
    // whose host has one, shows the name resolved).
    const server = /^nameserver\s+(\S+)/m.exec(await on('cat /var/lib/faasd/resolv.conf'))?.[1];
    assert.ok(server, `${h.name}: faasd's resolv.conf names a server`);
    const esc = (x: string): string => x.replace(/\./g, '\\.');
    assert.match(
      await https(`/hello/resolve?name=${domainOf(h.name)}`),
      new RegExp(`^(${esc(domainOf(h.name))} ${esc(host.address)} via ${esc(server)}\n\n200|no answer from ${esc(server)}\n\n502)$`),
      h.name,
    );
  }
});

test('the one-liner again changes nothing: the executable is kept, panel install has 0 changes', async () => {
  for (const [i, h] of HOSTS.entries()) {
    const before_ = await bed.exec(bed.hosts[i] as TestHost, 'stat -c %i:%Y /usr/local/bin/panel');
    const r = await onHost(i, oneLiner(i, ['--json']));
    assert.equal(r.code, 0, `${h.name}: ${explain(r)}`);
    assert.match(r.stdout, /\/usr\/local\/bin\/panel is already this release/);
    assert.deepEqual(changes(r), [], `${h.name}: a second run changes nothing`);
    const after_ = await bed.exec(bed.hosts[i] as TestHost, 'stat -c %i:%Y /usr/local/bin/panel');
    assert.equal(after_.stdout, before_.stdout, `${h.name}: the executable was not replaced`);
  }
});

test('panel check, panel uninstall --dry-run and panel renew work on the host (as root, and as deploy with sudo)', async () => {
  for (const [i, h] of HOSTS.entries()) {
    const args = installArgs(i).map(q).join(' ');
    const check = await onHost(i, `sudo panel check ${args}`);
    assert.equal(check.code, 0, `${h.name} check: ${explain(check)}`);
    const dry = await onHost(i, 'sudo panel uninstall --dry-run');
    assert.equal(dry.code, 0, `${h.name} uninstall --dry-run: ${explain(dry)}`);
    assert.match(dry.stdout, /nginx/, `${h.name}: the removal plan names what panel installed`);
    const still = await bed.exec(bed.hosts[i] as TestHost, 'systemctl is-active nginx faasd');
    assert.equal(still.stdout, 'active\nactive\n', `${h.name}: --dry-run removed nothing`);
    const renew = await onHost(i, `sudo panel renew -d ${q(domainOf(h.name))} -m ${MAIL} --acme-directory ${q(bed.acme.directory)} --acme-ca ${q(`${h.home}/pebble-ca.pem`)}`);
    assert.equal(renew.code, 0, `${h.name} renew: ${explain(renew)}`);
  }
});

test('the renewal timer panel installed runs the installed executable, and it succeeds', async () => {
  for (const [i, h] of HOSTS.entries()) {
    const host = bed.hosts[i] as TestHost;
    const unit = await bed.exec(host, 'systemctl cat panel-renew.service; systemctl is-enabled panel-renew.timer');
    assert.match(unit.stdout, /^ExecStart="\/usr\/local\/bin\/panel" "renew" "-d" /m, `${h.name}: ${unit.stdout}`);
    assert.match(unit.stdout, /^enabled$/m);
    const run = await bed.exec(host, 'systemctl start panel-renew.service && systemctl show -p Result --value panel-renew.service', { timeoutMs: 300_000 });
    assert.equal(`${run.code} ${run.stdout.trim()}`, '0 success', `${h.name}: ${run.stderr}`);
  }
});

test('install.sh refuses a download whose sum does not match SHA256SUMS, and installs nothing', async () => {
  const i = 0;
  const host = bed.hosts[i] as TestHost;
  const sum = await bed.exec(host, 'sha256sum /usr/local/bin/panel');
  await bed.mirrorFaults.set(`${PANEL_RELEASE_PATH}/panel-linux-amd64`, { kind: 'body', body: 'not panel' });
  try {
    // Another sum published for the executable: the installed one no longer matches, so install.sh downloads.
    await bed.exec(host, 'mv /usr/local/bin/panel /usr/local/bin/panel.kept && printf x > /usr/local/bin/panel');
    const r = await onHost(i, oneLiner(i));
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stderr, /^panel install\.sh: checksum mismatch for panel-linux-amd64: SHA256SUMS says [0-9a-f]{64}, the download is [0-9a-f]{64}; nothing installed$/m);
    assert.equal((await bed.exec(host, 'cat /usr/local/bin/panel')).stdout, 'x', 'the file in place is untouched');
  } finally {
    await bed.mirrorFaults.clear();
    await bed.exec(host, 'mv -f /usr/local/bin/panel.kept /usr/local/bin/panel');
  }
  assert.equal((await bed.exec(host, 'sha256sum /usr/local/bin/panel')).stdout, sum.stdout);
});

const SEA_FUSE_FLIPPED = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2:1';

test('the release: SHA256SUMS matches the files; the arm64 executable (nothing here runs it) is an AArch64 ELF carrying the same panel as the amd64 one', () => {
  const sums = readFileSync(join(release, 'SHA256SUMS'), 'utf8');
  for (const name of ['panel-linux-amd64', 'panel-linux-arm64', 'install.sh']) {
    const hex = createHash('sha256').update(readFileSync(join(release, name))).digest('hex');
    assert.ok(sums.includes(`${hex}  ${name}\n`), `${name} in SHA256SUMS`);
  }
  const machine = (name: string): number => readFileSync(join(release, name)).readUInt16LE(18);
  assert.equal(machine('panel-linux-amd64'), 0x3e, 'EM_X86_64');
  assert.equal(machine('panel-linux-arm64'), 0xb7, 'EM_AARCH64');
  // The blob (bundle + SEA header) is architecture-independent: the same bytes follow the fuse's note in both.
  for (const name of ['panel-linux-amd64', 'panel-linux-arm64']) {
    const bytes = readFileSync(join(release, name));
    assert.ok(bytes.includes(SEA_FUSE_FLIPPED), `${name}: the SEA fuse is flipped (a blob is injected)`);
    assert.ok(bytes.includes('# Managed by panel (recipe certificate): renews certificates'), `${name}: the templates travel inside`);
  }
});

test('npm run build:binary is reproducible: a second build from the same checkout has the same SHA256SUMS', () => {
  const other = tempDir('panel-release-again-');
  const r = spawnSync(process.execPath, [join(packageRoot, 'scripts', 'build-binary.mjs'), other], { cwd: packageRoot, encoding: 'utf8', timeout: 900_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(other, 'SHA256SUMS'), 'utf8'), readFileSync(join(release, 'SHA256SUMS'), 'utf8'));
});
