/** The stack recipes' desired state for a given host and configuration (no host needed). */
import assert from 'node:assert/strict';
import { assertInOrder } from '../../support/order.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import base from '../../../recipes/base.js';
import bridge from '../../../recipes/bridge.js';
import cni from '../../../recipes/cni.js';
import containerd, { CONTAINERD_MEMBERS } from '../../../recipes/containerd.js';
import { previousRelease } from '../../../src/resources/archive.js';
import { HostState } from '../../../src/engine/state.js';
import faasd, { containerNameservers, FAASD } from '../../../recipes/faasd.js';
import { EDGE_REFUSAL, FAASD_CE_NOTICE, OPENFAAS_LICENSE_PATH } from '../../../recipes/faasd-license.js';
import { FileResource as FileRes, planFile } from '../../../src/resources/file.js';
import { redact } from '../../../src/secret.js';
import { recipes } from '../../../recipes/index.js';
import { hostRefusal, osVerdict } from '../../../src/stack/os.js';
import { LETS_ENCRYPT, type HostConfig } from '../../../src/config.js';
import type { RecipeContext, Recipe } from '../../../src/engine/recipe.js';
import type { HostInfo } from '../../../src/host-info.js';
import { artifactSource, ArtifactSet, locateArtifact, type ResolvedArtifact } from '../../../src/artifacts/index.js';
import type { FileResource } from '../../../src/resources/file.js';
import { Secret } from '../../../src/secret.js';
import { tempDir } from '../../support/temp.js';

const debian: HostInfo = {
  osId: 'debian',
  osVersion: '12',
  osPretty: 'Debian GNU/Linux 12 (bookworm)',
  arch: 'amd64',
  rawArch: 'amd64',
  ipv6: true,
  systemd: true,
  hostname: 'h1',
  nameservers: [],
};

const SUM = 'f'.repeat(64);
const dir = tempDir('panel-stack-');
const sums = join(dir, 'SHA256SUMS');
writeFileSync(
  sums,
  [
    `${SUM}  openfaas/faasd/releases/download/0.19.7/faasd`,
    `${SUM}  openfaas/faasd/releases/download/0.19.7/faasd-arm64`,
  ].join('\n') + '\n',
);

function config(over: Partial<HostConfig> = {}): HostConfig {
  return {
    name: 'h1',
    connection: { kind: 'local' },
    groups: [],
    recipes: ['faasd'],
    params: {},
    domains: [],
    acme: { directory: LETS_ENCRYPT },
    progressDir: '/var/lib/panel',
    mirror: 'http://mirror.test:8000',
    checksumsFile: sums,
    ...over,
  };
}

/** The engine resolves declared artifacts before planning; here a known sum, else a stand-in for the release asset's. */
function ctx<P>(r: Recipe<P>, host: HostInfo, cfg: HostConfig, params: Record<string, unknown> = {}): RecipeContext<P> {
  const parsed = r.params.parse(params);
  const resolved = (r.artifacts?.(parsed) ?? []).map((ref): ResolvedArtifact => {
    const loc = locateArtifact(ref.name, ref.version, host.arch ?? 'amd64', artifactSource(cfg));
    const { name, version, arch, url, relPath } = loc;
    return loc.known
      ? { name, version, arch, url, relPath, sha256: loc.known.sha256, sumFrom: loc.known.source }
      : { name, version, arch, url, relPath, sha256: 'e'.repeat(64), sumFrom: 'release-asset', sumUrl: loc.asset!.url };
  });
  return { params: parsed, host, config: cfg, artifacts: new ArtifactSet(resolved) };
}

function keys<P>(r: Recipe<P>, host = debian, cfg = config(), params: Record<string, unknown> = {}): string[] {
  return r.resources(ctx(r, host, cfg, params)).map((x) => x.key);
}

test('registry lists the stack recipes by id, in dependency order', () => {
  const ids = recipes.map((r) => r.id);
  for (const id of ['base', 'containerd', 'cni', 'bridge', 'faasd']) assert.ok(ids.includes(id), id);
  assert.deepEqual(faasd.after, ['containerd', 'cni', 'bridge']);
});

test('OS refusal: CentOS, Ubuntu 18.04, s390x and no systemd are refused before any change', () => {
  assert.equal(hostRefusal(debian), undefined);
  assert.equal(hostRefusal({ ...debian, osVersion: '13' }), undefined);
  for (const v of ['22.04', '24.04', '26.04']) assert.equal(hostRefusal({ ...debian, osId: 'ubuntu', osVersion: v }), undefined);
  const centos = { ...debian, osId: 'centos', osVersion: '7', osPretty: 'CentOS Linux 7 (Core)' };
  const refusal = hostRefusal(centos) ?? '';
  assert.equal(refusal, 'unsupported OS CentOS Linux 7 (Core) (centos 7); panel supports Debian 12, 13 or Ubuntu 22.04, 24.04, 26.04 (--allow-unsupported-os to try anyway)');
  assert.doesNotMatch(refusal, /\n/, 'one line');
  // Untested releases are refused too: 20.04 is not in the testbed.
  assert.match(hostRefusal({ ...debian, osId: 'ubuntu', osVersion: '20.04', osPretty: 'Ubuntu 20.04.6 LTS' }) ?? '', /unsupported OS Ubuntu 20\.04/);
  // Allowed: proceeds (no refusal), and says so as a warning for the recap; arch and systemd still refuse.
  const allowedMessage = 'CentOS Linux 7 (Core) (centos 7) is not a release panel is tested on (Debian 12, 13 or Ubuntu 22.04, 24.04, 26.04); proceeding because of --allow-unsupported-os';
  const warned: string[] = [];
  assert.equal(hostRefusal(centos, true, (m) => warned.push(m)), undefined);
  assert.deepEqual(warned, [allowedMessage]);
  assert.deepEqual(osVerdict(centos, true), { kind: 'allowed-unsupported', message: allowedMessage });
  const quiet: string[] = [];
  assert.equal(hostRefusal(debian, true, (m) => quiet.push(m)), undefined);
  assert.deepEqual(quiet, [], 'a supported release is not a warning, with or without the flag');
  const viaBase: string[] = [];
  assert.equal(base.precheck?.({ ...ctx(base, centos, config(), { allowUnsupportedOs: true }), warn: (m) => viaBase.push(m) }), undefined);
  assert.deepEqual(viaBase, [allowedMessage]);
  assert.deepEqual(osVerdict(debian, true), { kind: 'supported' });
  assert.match(hostRefusal({ ...centos, systemd: false }, true) ?? '', /systemd/);
  assert.match(hostRefusal({ ...debian, osId: 'ubuntu', osVersion: '18.04', osPretty: 'Ubuntu 18.04.6 LTS' }) ?? '', /unsupported OS Ubuntu 18\.04/);
  assert.match(hostRefusal({ ...debian, osVersion: '11' }) ?? '', /debian 11/);
  assert.match(hostRefusal({ ...debian, arch: undefined, rawArch: 's390x' }) ?? '', /unsupported architecture s390x/);
  assert.match(hostRefusal({ ...debian, systemd: false }) ?? '', /systemd/);
  assert.ok(base.precheck?.(ctx(base, { ...debian, osId: 'centos', osVersion: '7' }, config())));
});

test('base: packages, forwarding sysctl, overlay (faasd does not need br_netfilter)', () => {
  const k = keys(base);
  assert.ok(k.some((x) => x.startsWith('apt:') && x.includes('runc') && x.includes('bridge-utils') && x.includes('iptables')));
  assert.ok(k.includes('sysctl:net.ipv4.conf.all.forwarding'));
  assert.deepEqual(k.filter((x) => x.startsWith('kmod:')), ['kmod:overlay']);
  assert.deepEqual(keys(base, debian, config(), { kernelModules: 'overlay,br_netfilter' }).filter((x) => x.startsWith('kmod:')), ['kmod:overlay', 'kmod:br_netfilter']);
  assert.equal(base.params.safeParse({ kernelModules: 'overlay,../x' }).success, false);
});

/** The unit file's text a containerd recipe would install. */
function unitText(rs: readonly { key: string }[]): string {
  const u = rs.find((r) => r.key === 'unit:containerd.service') as unknown as FileRes | undefined;
  assert.ok(u);
  return u.spec.content.toString();
}

test('containerd 2.3.4 (--set containerd.version=2.3.4): tarball, runc 1.4.3 from its release, config migration, 2.x unit; restarted by exactly those but runc', () => {
  const v23 = { version: '2.3.4' };
  assert.deepEqual(containerd.artifacts?.(containerd.params.parse(v23)), [{ name: 'containerd', version: '2.3.4' }, { name: 'runc', version: '1.4.3' }]);
  const rs = containerd.resources(ctx(containerd, debian, config(), v23));
  const k = rs.map((r) => r.key);
  assert.deepEqual(k, [
    'archive:/usr/local:containerd-2.3.4-linux-amd64.tar.gz',
    'download:/usr/local/sbin/runc',
    'command:migrate /etc/containerd/config.toml to config version 3',
    'unit:containerd.service',
    'service:containerd',
  ]);
  const runc = rs.find((r) => r.key === 'download:/usr/local/sbin/runc') as unknown as { o: { url: string } };
  assert.equal(runc.o.url, 'http://mirror.test:8000/opencontainers/runc/releases/download/v1.4.3/runc.amd64');
  const service = rs.find((r) => r.key === 'service:containerd')!;
  assert.deepEqual(service.references?.map((x) => x.key), [k[0], k[2], k[3]]);
  const text = unitText(rs);
  assert.doesNotMatch(text, /LimitNOFILE/, "2.x's own unit has no LimitNOFILE");
  assert.match(text, /^After=network\.target dbus\.service$/m);
  assert.match(text, /^ExecStart=\/usr\/local\/bin\/containerd$/m);
  const arm = containerd.resources(ctx(containerd, { ...debian, arch: 'arm64', rawArch: 'arm64' }, config(), v23)).map((r) => r.key);
  assert.ok(arm.includes('archive:/usr/local:containerd-2.3.4-linux-arm64.tar.gz'));
  // The migration: only a file older than version 3, by the new binary's own `config migrate`, keeping a backup.
  const migrate = rs.find((r) => r.key.startsWith('command:migrate')) as unknown as { o: { check: { text: string }; run: { text: string } } };
  assert.match(migrate.o.check.text, /version\[\[:space:\]\]\*=\[\[:space:\]\]\*3/);
  assert.match(migrate.o.run.text, /panel_write \/etc\/containerd\/config\.toml .* always '' '\/usr\/local\/bin\/containerd config migrate'/);
  const verify = containerd.verify?.(ctx(containerd, debian, config(), v23)) ?? [];
  assert.ok(verify.some((c) => c.expect?.test('/usr/local/sbin/runc\n')));
  assert.ok(!verify.some((c) => c.name.includes('runc') && c.expect?.test('/usr/sbin/runc\n')), 'Debian\'s runc found first is a failure');
});

test('containerd default 1.7.34: its own 1.7 unit (LimitNOFILE=infinity), no runc download, no migration', () => {
  const params = { version: '1.7.34' };
  assert.deepEqual(containerd.params.parse({}), containerd.params.parse(params), 'the default is the 1.7 line');
  assert.deepEqual(containerd.artifacts?.(containerd.params.parse(params)), [{ name: 'containerd', version: '1.7.34' }]);
  const rs = containerd.resources(ctx(containerd, debian, config(), params));
  assert.deepEqual(rs.map((r) => r.key), ['archive:/usr/local:containerd-1.7.34-linux-amd64.tar.gz', 'unit:containerd.service', 'service:containerd']);
  const text = unitText(rs);
  assert.match(text, /^LimitNOFILE=infinity$/m);
  assert.match(text, /^After=network\.target local-fs\.target dbus\.service$/m);
  // Lines panel has no unit for are refused by the schema, before any connection.
  for (const v of ['1.6.20', '2.0.5', '2.4.0', '3.0.0']) assert.equal(containerd.params.safeParse({ version: v }).success, false, v);
  for (const v of ['1.7.27', '1.7.34', '2.3.0', '2.3.4']) assert.equal(containerd.params.safeParse({ version: v }).success, true, v);
});

test('containerd upgrade from 1.7.27: the plan says so, and the archive installs the new release', () => {
  const rs = containerd.resources(ctx(containerd, debian, config(), { version: '2.3.4' }));
  const tarball = rs[0]!;
  const old = 'containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz';
  const state = new HostState({ ...HostState.empty().data, artifacts: { [old]: { sha256: 'a'.repeat(64), source: 'pinned', at: '2026-01-01T00:00:00Z' } } });
  const members = new Map(CONTAINERD_MEMBERS.map((m) => [m, { sha256: 'b'.repeat(64), mode: 0o755 }]));
  const [change] = tarball.plan({ members }, { planned: [], state });
  assert.equal(change?.reason, 'upgrade from v1.7.27');
  assert.equal(change?.target, 'containerd-2.3.4-linux-amd64.tar.gz → /usr/local');
  assert.equal(previousRelease(HostState.empty(), old), undefined);
  const [fresh] = tarball.plan({ members: new Map() }, { planned: [], state: HostState.empty() });
  assert.equal(fresh?.reason, 'not extracted');
  // The release put in place last decides, even where this release's own older record still matches.
  const cur = 'containerd/containerd/releases/download/v2.3.4/containerd-2.3.4-linux-amd64.tar.gz';
  const both = (last: string): HostState =>
    new HostState({ ...HostState.empty().data, artifacts: { [old]: { sha256: 'a'.repeat(64), source: 'pinned', at: last === old ? '2026-02-01T00:00:00Z' : '2026-01-01T00:00:00Z' }, [cur]: { sha256: 'c'.repeat(64), source: 'pinned', at: last === cur ? '2026-02-01T00:00:00Z' : '2026-01-01T00:00:00Z' } } });
  assert.equal(previousRelease(both(old), cur), 'v1.7.27');
  assert.equal(previousRelease(both(cur), cur), undefined, 'converged: nothing to say');
  const older = containerd.resources(ctx(containerd, debian, config(), { version: '1.7.27' }))[0]!;
  assert.equal(older.plan({ members }, { planned: [], state: both(cur) })[0]?.reason, 'downgrade from v2.3.4');
});

test('containerd: --proxy adds a drop-in', () => {
  const k = keys(containerd, debian, config({ proxy: 'http://proxy:3128' }));
  assert.ok(k.some((x) => x.startsWith('unit:containerd.service') && x !== 'unit:containerd.service'), k.join(' '));
});

test('cni: v1.9.1 by default, v0.9.1 on request; plugins into /opt/cni/bin, README.md and LICENSE left out, and the conflist', () => {
  const k = keys(cni);
  assert.ok(k.includes('archive:/opt/cni/bin:cni-plugins-linux-amd64-v1.9.1.tgz'), k.join(' '));
  assert.ok(k.includes('file:/etc/cni/net.d/10-openfaas.conflist'));
  assert.ok(keys(cni, debian, config(), { version: '0.9.1' }).includes('archive:/opt/cni/bin:cni-plugins-linux-amd64-v0.9.1.tgz'));
  const tarball = cni.resources(ctx(cni, debian, config())).find((r) => r.key.startsWith('archive:')) as unknown as { o: { leaveOut: readonly string[]; sha256: string }; script(): { text: string } };
  assert.deepEqual(tarball.o.leaveOut, ['README.md', 'LICENSE']);
  assert.match(tarball.script().text, /for __m in README\.md LICENSE; do rm -f -- "\$__tmpd\/\$__m"/);
  // Pinned from upstream's published .tgz.sha256 (provenance in src/artifacts/table.ts).
  assert.equal(tarball.o.sha256, 'b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303');
});

test('bridge: openfaas0', () => {
  assert.deepEqual(keys(bridge), ['bridge:openfaas0']);
});

test('faasd declares its binary (and faas-cli when asked) as artifacts; the download carries where the sum came from', () => {
  assert.deepEqual(faasd.artifacts?.(faasd.params.parse({})), [{ name: 'faasd', version: '0.19.7' }]);
  assert.deepEqual(faasd.artifacts?.(faasd.params.parse({ faasCli: true })), [
    { name: 'faasd', version: '0.19.7' },
    { name: 'faas-cli', version: '0.17.8' },
  ]);
  const bin = faasd.resources(ctx(faasd, debian, config({ checksumsFile: undefined }))).find((r) => r.key === 'download:/usr/local/bin/faasd') as unknown as { o: { artifact: unknown } };
  assert.deepEqual(bin.o.artifact, {
    path: 'openfaas/faasd/releases/download/0.19.7/faasd',
    source: 'release-asset',
    sumUrl: 'http://mirror.test:8000/openfaas/faasd/releases/download/0.19.7/faasd.sha256',
  });
});

test('faasd: layout, secrets, templates, units and services', () => {
  const k = keys(faasd);
  for (const want of [
    'download:/usr/local/bin/faasd',
    'directory:/var/lib/faasd',
    'directory:/var/lib/faasd/secrets',
    'directory:/var/lib/faasd-provider',
    'file:/var/lib/faasd/secrets/basic-auth-user',
    'file:/var/lib/faasd/secrets/basic-auth-password',
    'file:/var/lib/faasd/docker-compose.yaml',
    'file:/var/lib/faasd/prometheus.yml',
    'file:/var/lib/faasd/resolv.conf',
    'unit:faasd-provider.service',
    'unit:faasd.service',
    'service:faasd-provider',
    'service:faasd',
  ]) {
    assert.ok(k.includes(want), `${want} missing from ${k.join(' ')}`);
  }
  assertInOrder(k, ['service:faasd-provider', 'service:faasd']);
  assert.ok(!k.includes('file:/var/lib/faasd/.docker/config.json'));
});

test('faasd: basic-auth files 0644 in a 0700 root directory, as upstream makeFile writes them', () => {
  // The gateway and queue-worker images run as non-root users and read these
  // files through bind mounts; 0600 root makes the real gateway panic at start.
  const rs = faasd.resources(ctx(faasd, debian, config(), {}));
  const modeOf = (key: string): number | undefined => {
    const r = rs.find((x) => x.key === key) as unknown as { spec?: { mode?: number }; mode?: number; o?: { mode?: number } } | undefined;
    return r?.spec?.mode ?? r?.mode ?? r?.o?.mode;
  };
  assert.equal(modeOf('file:/var/lib/faasd/secrets/basic-auth-user'), 0o644);
  assert.equal(modeOf('file:/var/lib/faasd/secrets/basic-auth-password'), 0o644);
  assert.equal(modeOf('directory:/var/lib/faasd/secrets'), 0o700);
});

test('faasd: -p password and --registry-auth', () => {
  const auth = join(dir, 'config.json');
  writeFileSync(auth, JSON.stringify({ auths: { 'registry.test': { auth: 'dTpw' } } }));
  const k = keys(faasd, debian, config({ password: new Secret('s3cret-pass'), registryAuth: auth }));
  assert.ok(k.includes('file:/var/lib/faasd/.docker/config.json'));
  writeFileSync(auth, 'not json');
  assert.throws(() => keys(faasd, debian, config({ registryAuth: auth })), /--registry-auth .*not JSON/);
});

test('faasd CE licence: one line when the binary is about to land (plan, first install), none once it is there; never a question', () => {
  const binary = faasd.resources(ctx(faasd, debian, config())).find((r) => r.key === 'download:/usr/local/bin/faasd');
  assert.ok(binary);
  const said: string[] = [];
  const changes = binary.plan({ exists: false }, { planned: [], warn: (m) => said.push(m) });
  assert.equal(changes.length, 1, 'the binary is still installed');
  assert.deepEqual(said, [FAASD_CE_NOTICE]);
  assert.doesNotMatch(FAASD_CE_NOTICE, /\n|\?/, 'one line, not a prompt');
  assert.match(FAASD_CE_NOTICE, /personal, non-commercial use only/);
  assert.match(FAASD_CE_NOTICE, /at most 15 functions/);
  assert.match(FAASD_CE_NOTICE, /github\.com\/openfaas\/faasd\/blob\/0\.19\.7\/EULA\.md/);
  const again: string[] = [];
  const installed = { exists: true as const, type: 'file' as const, owned: { mode: 0o755, owner: 'root', group: 'root' }, size: 1, sha256: 'f'.repeat(64) };
  assert.deepEqual(binary.plan(installed, { planned: [], warn: (m) => again.push(m) }), []);
  assert.deepEqual(again, [], 'a converged host is not told again');
});

test('--openfaas-license: a 0600 root secret file at /var/lib/faasd/secrets/openfaas_license, masked in diffs and in every sink', () => {
  const lic = join(dir, 'openfaas_license');
  const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwYW5lbC10ZXN0In0.c2lnbmF0dXJlLW9mLWxpY2VuY2U';
  writeFileSync(lic, `${jwt}\n`);
  assert.ok(!keys(faasd).includes(`file:${OPENFAAS_LICENSE_PATH}`), 'nothing without the flag');
  const r = faasd.resources(ctx(faasd, debian, config({ openfaasLicense: lic }))).find((x) => x.key === `file:${OPENFAAS_LICENSE_PATH}`);
  assert.ok(r instanceof FileRes);
  assert.equal(r.spec.mode, 0o600);
  assert.equal(r.spec.owner, 'root');
  assert.equal(r.spec.secret, true);
  const [change] = planFile(r.spec, { exists: false });
  assert.ok(change);
  assert.doesNotMatch(JSON.stringify({ ...change, script: undefined }), new RegExp(jwt.slice(0, 20)));
  assert.equal(redact(`licence ${jwt} read`), 'licence ******** read');
  writeFileSync(lic, '  \n');
  assert.throws(() => faasd.resources(ctx(faasd, debian, config({ openfaasLicense: lic }))), /--openfaas-license .*empty/);
  assert.throws(() => faasd.resources(ctx(faasd, debian, config({ openfaasLicense: join(dir, 'nope') }))), /--openfaas-license .*cannot read \(ENOENT\)/);
});

test('faasd.edition=edge is refused before any change, saying why (an OCI image, not a verifiable release asset)', () => {
  assert.equal(faasd.precheck?.(ctx(faasd, debian, config())), undefined);
  assert.equal(faasd.precheck?.(ctx(faasd, debian, config(), { edition: 'edge' })), EDGE_REFUSAL);
  assert.match(EDGE_REFUSAL, /ghcr\.io\/openfaasltd\/faasd-pro/);
  assert.equal(faasd.params.safeParse({ edition: 'pro' }).success, false);
});

test('verify checks never put the password on a command line', () => {
  const checks = faasd.verify?.(ctx(faasd, debian, config())) ?? [];
  const auth = checks.find((c) => c.script.includes('/system/functions'));
  assert.ok(auth);
  // The password file's path, never its content: bash reads and encodes it (panel_http_code).
  assert.equal(String(auth.script), `panel_http_code ${FAASD.gateway}/system/functions ${FAASD.userFile} ${FAASD.passwordFile}`);
  const cd = containerd.verify?.(ctx(containerd, debian, config())) ?? [];
  assert.ok(cd.some((c) => c.expect?.test('Client:\n  Version: 1.7.27\nServer:\n  Version: 1.7.27')));
});

test('params: bad versions are rejected by the schema', () => {
  assert.equal(containerd.params.safeParse({ version: '1.7.27; reboot' }).success, false);
  assert.equal(faasd.params.safeParse({ nameservers: ['not-an-ip'] }).success, false);
});

test('faasd resolv.conf: the host\'s upstream IPv4 servers, 8.8.8.8 only as the last fallback, the parameter overrides', () => {
  assert.deepEqual(containerNameservers({ nameservers: ['10.0.0.2', '2001:db8::53', '10.0.0.3', '10.0.0.4', '10.0.0.5'] }, undefined), ['10.0.0.2', '10.0.0.3', '10.0.0.4']);
  assert.deepEqual(containerNameservers({ nameservers: ['2001:db8::53'] }, undefined), ['8.8.8.8']);
  assert.deepEqual(containerNameservers({ nameservers: [] }, undefined), ['8.8.8.8']);
  assert.deepEqual(containerNameservers({ nameservers: ['10.0.0.2'] }, ['1.1.1.1']), ['1.1.1.1']);
  const resolv = faasd.resources(ctx(faasd, { ...debian, nameservers: ['192.0.2.53'] }, config())).find((r) => r.key === 'file:/var/lib/faasd/resolv.conf');
  assert.equal((resolv as FileResource | undefined)?.spec.content.toString(), 'nameserver 192.0.2.53\n');
  assert.ok(faasd.resources(ctx(faasd, debian, config())).some((r) => r.key === 'ufw:allow in on openfaas0 port 8081/tcp'));
});
