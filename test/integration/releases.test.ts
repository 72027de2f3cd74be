/**
 * Issue 15 on four testbed hosts in one fleet run (inventory, as a user runs it):
 * Debian 12 as root, Debian 12 as deploy (GNU sudo), Debian 13 as deploy, and the
 * Ubuntu-26.04-like host (uutils coreutils, sudo-rs) as deploy. The full stack
 * with a certificate from Pebble converges on all four; a second run has 0
 * changes; nginx -t has no warning on nginx 1.22 (Debian 12) or 1.26 (Debian 13).
 * NOTE: faasd is the testbed's stand-in (test/testbed/faasd-standin/main.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { standInChecksumsFile } from '../testbed/mirror.js';
import { assertVerified } from '../support/verifies.js';

let bed: Testbed;
let cwd: string;
/** [name, user] in host order. */
const HOSTS = [
  ['deb12-root', 'root'],
  ['deb12-deploy', 'deploy'],
  ['deb13-deploy', 'deploy'],
  ['ubuntu2604-deploy', 'deploy'],
] as const;
const FAAS_CLI_HOST = 'deb13-deploy';
const STACK_VERIFIES = ['containerd is active', 'faasd-provider and faasd are active', 'nginx is active', 'nginx configuration is valid'];
const domainOf = (name: string): string => `${name}.panel.test`;

before(async () => {
  bed = await startTestbed({
    hosts: 4,
    release: ['bookworm', 'bookworm', 'trixie', 'trixie'],
    profile: ['plain', 'plain', 'plain', 'ubuntu-26.04-like'],
  });
  cwd = mkdtempSync(join(tmpdir(), 'panel-releases-'));
  for (const [i, [name]] of HOSTS.entries()) await bed.dns.add(domainOf(name), (bed.hosts[i] as TestHost).address);
  const yaml = [
    'defaults:',
    `  key: ${bed.keyFile}`,
    `  knownHosts: ${bed.knownHostsFile}`,
    `  mirror: ${bed.mirrorUrl}`,
    // Only the Debian-built containerd and CNI tarballs: their bytes are not upstream's, so the
    // sums panel pins for those versions cannot match. faasd (and faas-cli) take the path every
    // user takes: verified against their release's own checksum asset.
    `  checksums: ${standInChecksumsFile(bed.checksumsFile)}`,
    '  email: ops@panel.test',
    '  recipes: [base, containerd, cni, bridge, faasd, nginx, certificate]',
    '  acme:',
    `    directory: ${bed.acme.directory}`,
    `    caFile: ${bed.acme.caFile}`,
    'hosts:',
    ...HOSTS.flatMap(([name, user], i) => [
      `  ${name}:`,
      `    address: ${(bed.hosts[i] as TestHost).address}`,
      `    user: ${user}`,
      `    domains: [${domainOf(name)}]`,
      // One host opts in to faas-cli (off by default), so its download and its verify run somewhere.
      ...(name === FAAS_CLI_HOST ? ['    params:', '      faasd: { faasCli: true }'] : []),
    ]),
  ].join('\n');
  writeFileSync(join(cwd, 'fleet.yaml'), `${yaml}\n`);
});

after(async () => {
  await bed?.stop();
  if (cwd) rmSync(cwd, { recursive: true, force: true });
});

// The ACME account key goes to a scratch XDG config dir, not the runner's home.
const run = (): Promise<CliRun> =>
  panel(['install', '-i', 'fleet.yaml', '--json', '--yes'], { cwd, env: { XDG_CONFIG_HOME: cwd }, timeoutMs: 1_200_000 });

function explain(r: CliRun): string {
  return `exit ${r.code}\nstderr: ${r.stderr.slice(-4000)}\nstdout: ${r.stdout.slice(-4000)}`;
}

function changesByHost(r: CliRun): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of events(r).filter((x) => x.type === 'change')) {
    const c = e['change'] as { resource: string; reason: string };
    const host = String(e['host']);
    out.set(host, [...(out.get(host) ?? []), `${c.resource} ${c.reason}`]);
  }
  return out;
}

test('one fleet run converges the full stack with a certificate on all four hosts', async () => {
  const first = await run();
  assert.equal(first.code, 0, explain(first));
  assertVerified(first, STACK_VERIFIES, { hosts: HOSTS.map(([name]) => name), explain: explain(first) });
  assertVerified(first, ['faas-cli runs'], { hosts: [FAAS_CLI_HOST], explain: explain(first) });
  // Every host verified faasd (and the opted-in one faas-cli) against its release's checksum asset.
  const sources = [...new Set(events(first)
    .filter((e) => e.type === 'artifact')
    .map((e) => ({ host: String(e['host']), ...(e['artifact'] as { name: string; source?: string }) }))
    .filter((a) => a.name === 'faasd' || a.name === 'faas-cli')
    .map((a) => `${a.host} ${a.name} ${String(a.source)}`))].sort();
  assert.deepEqual(sources, [...HOSTS.map(([name]) => `${name} faasd release-asset`), `${FAAS_CLI_HOST} faas-cli release-asset`].sort(), explain(first));
  const changed = changesByHost(first);
  assert.equal(changed.size, 4, `every host changed: ${[...changed.keys()].join(', ')}`);
  for (const [i, [name]] of HOSTS.entries()) {
    const h = bed.hosts[i] as TestHost;
    // /ui/ is the gateway's UI behind basic auth: 401 proves TLS with Pebble's chain and the proxy.
    await bed.exec(h, 'cat > /tmp/pebble-root.pem', { input: await bed.acme.rootCaPem() });
    const r = await bed.exec(
      h,
      `curl -sS -o /dev/null -w '%{http_code}' --resolve ${domainOf(name)}:443:127.0.0.1 --cacert /tmp/pebble-root.pem https://${domainOf(name)}/ui/`,
    );
    assert.equal(`${r.code} ${r.stdout}`, '0 401', `${name}: HTTPS to the gateway: ${r.stderr}`);
  }
});

test('a second run has 0 changes on each host', async () => {
  const second = await run();
  assert.equal(second.code, 0, explain(second));
  assert.deepEqual(Object.fromEntries(changesByHost(second)), {});
});

test('nginx -t has no warning on nginx 1.22 (Debian 12) or 1.26 (Debian 13)', async () => {
  for (const [i, [name]] of HOSTS.entries()) {
    const r = await bed.exec(bed.hosts[i] as TestHost, 'nginx -v 2>&1; nginx -t 2>&1; grep -c "http2 on;" /etc/nginx/conf.d/panel.conf || true');
    assert.match(r.stdout, /syntax is ok/, `${name}: ${r.stdout}`);
    assert.doesNotMatch(r.stdout, /\[warn\]|\[emerg\]/, `${name}: ${r.stdout}`);
    const trixie = (bed.hosts[i] as TestHost).release === 'trixie';
    assert.match(r.stdout, trixie ? /nginx\/1\.26\./ : /nginx\/1\.22\./, name);
    // 1.25.1+ takes `http2 on;`; before that, `listen … http2`.
    assert.match(r.stdout, trixie ? /^[1-9]\d*$/m : /^0$/m, `${name}: http2 directive`);
  }
});

test('files panel wrote are root-owned and not in the sudo user\'s home', async () => {
  for (const [i, [name, user]] of HOSTS.entries()) {
    const h = bed.hosts[i] as TestHost;
    const loose = await bed.exec(h, String.raw`find /etc/nginx/conf.d /etc/panel /var/www/panel-acme /etc/cni /opt/cni /var/lib/faasd /usr/local/bin /var/lib/panel /var/cache/panel \( -perm -g+w -o -perm -o+w \) ! -type l -printf '%m %u %p\n'`);
    assert.equal(loose.stdout, '', `${name}: loose modes`);
    if (user === 'root') continue;
    const home = await bed.exec(h, `find /home/${user} -mindepth 1 -newer /etc/hostname ! -path '/home/${user}/.ssh*' -printf '%p\\n'`);
    assert.equal(home.stdout, '', `${name}: panel wrote into ${user}'s home`);
  }
});

test('an unsupported release is refused in one line; --allow-unsupported-os proceeds and the recap says so', async () => {
  const h = bed.hosts[2] as TestHost;
  const fake = 'cp /usr/lib/os-release /tmp/os-release.orig && sed -i \'s/^VERSION_ID=.*/VERSION_ID="14"/; s/^PRETTY_NAME=.*/PRETTY_NAME="Debian GNU\\/Linux 14 (forky)"/\' /usr/lib/os-release';
  assert.equal((await bed.exec(h, fake)).code, 0);
  try {
    const args = ['plan', ...hostArgs(bed, h, 'deploy'), ...mirrorArgs(bed), '--recipes', 'base'];
    const refused = await panel(args);
    assert.equal(refused.code, 1, explain(refused));
    const lines = refused.stderr.split('\n').filter((l) => l.includes('unsupported OS'));
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0] ?? '', /unsupported OS Debian GNU\/Linux 14 \(forky\) \(debian 14\); panel supports Debian 12, 13 or Ubuntu 22\.04, 24\.04, 26\.04 \(--allow-unsupported-os to try anyway\)$/);
    const allowed = await panel([...args, '--allow-unsupported-os']);
    assert.equal(allowed.code, 0, explain(allowed));
    const recap = allowed.stdout.slice(allowed.stdout.lastIndexOf('\nhost '));
    assert.match(
      recap,
      /^\S+: warning: Debian GNU\/Linux 14 \(forky\) \(debian 14\) is not a release panel is tested on \(Debian 12, 13 or Ubuntu 22\.04, 24\.04, 26\.04\); proceeding because of --allow-unsupported-os$/m,
      allowed.stdout,
    );
  } finally {
    await bed.exec(h, 'cp /tmp/os-release.orig /usr/lib/os-release');
  }
});
