/** The engine's artifact step: each declared artifact resolved for the host's architecture, the host asked only when the mirror is unreachable from here. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReleaseSums, type AssetFetch } from '../../../src/artifacts/index.js';
import { LETS_ENCRYPT, type HostConfig } from '../../../src/config.js';
import { resolveHostArtifacts } from '../../../src/engine/artifacts.js';
import type { HostInfo } from '../../../src/host-info.js';
import type { ExecResult, Transport } from '../../../src/transport/types.js';

const SUM = 'd'.repeat(64);
const info: HostInfo = { osId: 'debian', osVersion: '12', osPretty: 'Debian 12', arch: 'arm64', rawArch: 'arm64', ipv6: false, systemd: true, hostname: 'h1', nameservers: [] };
const config: HostConfig = { name: 'h1', connection: { kind: 'local' }, groups: [], recipes: [], params: {}, domains: [], acme: { directory: LETS_ENCRYPT }, progressDir: '/var/lib/panel', mirror: 'http://m.test' };

/** A host whose only behaviour is answering the fallback fetch. */
function hostAnswering(res: ExecResult): Transport & { scripts: string[] } {
  const scripts: string[] = [];
  return {
    name: 'h1',
    scripts,
    exec: async (script) => (scripts.push(script), res),
    put: async () => undefined,
    get: async () => undefined,
    session: () => Promise.reject(new Error('not used')),
    forward: () => Promise.reject(new Error('not used')),
    stats: { channels: 0, bytesSent: 0, bytesReceived: 0, wireBytesSent: 0, wireBytesReceived: 0 },
    close: async () => undefined,
  };
}

const unreachable = (): Promise<AssetFetch> => Promise.resolve({ ok: false, error: 'cannot connect (ENOTFOUND)', reached: false });

test('the host architecture picks the build; the asset is fetched here when reachable, the host is not asked', async () => {
  const host = hostAnswering({ code: 1, stdout: '', stderr: '' });
  const sums = new ReleaseSums(async (url) => ({ ok: true, text: url.endsWith('/faasd-arm64.sha256') ? `${SUM}  bin/faasd-arm64\n` : '' }));
  const r = await resolveHostArtifacts([{ name: 'faasd', version: '0.19.7' }], info, config, sums, host);
  assert.ok(r.ok, r.ok ? '' : r.error);
  const a = r.value.get('faasd', '0.19.7');
  assert.deepEqual([a.url, a.sha256, a.sumFrom], ['http://m.test/openfaas/faasd/releases/download/0.19.7/faasd-arm64', SUM, 'release-asset']);
  assert.deepEqual(host.scripts, []);
});

test('a mirror unreachable from here is fetched by the host; both failures are named when neither can', async () => {
  const ok = hostAnswering({ code: 0, stdout: `${SUM}  bin/faasd-arm64\n`, stderr: '' });
  const r = await resolveHostArtifacts([{ name: 'faasd', version: '0.19.7' }], info, config, new ReleaseSums(unreachable), ok);
  assert.ok(r.ok && r.value.get('faasd', '0.19.7').sha256 === SUM);
  assert.equal(ok.scripts.length, 1);
  assert.match(ok.scripts[0]!, /curl -fsSL .* -- http:\/\/m\.test\/openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd-arm64\.sha256/);

  const no = hostAnswering({ code: 6, stdout: '', stderr: 'curl: (6) Could not resolve host: m.test' });
  const bad = await resolveHostArtifacts([{ name: 'faasd', version: '0.19.7' }], info, config, new ReleaseSums(unreachable), no);
  assert.ok(!bad.ok);
  assert.match(bad.error, /faasd-arm64\.sha256 could not be fetched: cannot connect \(ENOTFOUND\) here; fetched by the host: curl: \(6\) Could not resolve host: m\.test/);
});

test('pinned sums need no fetch; an unknown architecture is refused', async () => {
  const host = hostAnswering({ code: 1, stdout: '', stderr: '' });
  const none = new ReleaseSums(() => Promise.reject(new Error('no fetch expected')));
  const r = await resolveHostArtifacts([{ name: 'containerd', version: '1.7.27' }], info, config, none, host);
  assert.ok(r.ok && r.value.get('containerd', '1.7.27').sumFrom === 'pinned');
  const s390 = await resolveHostArtifacts([{ name: 'containerd', version: '1.7.27' }], { ...info, arch: undefined, rawArch: 's390x' }, config, none, host);
  assert.deepEqual(s390, { ok: false, error: 'no containerd build for this architecture (s390x)' });
});

test('prefetch asks for both builds\' checksum assets, or only the remembered architecture\'s', async () => {
  const { prefetchArtifacts } = await import('../../../src/engine/artifacts.js');
  const { loadRegistry } = await import('../../../src/cli/registry.js');
  const registry = await loadRegistry();
  const fleetHost: HostConfig = { ...config, recipes: ['faasd'] };
  const asked = (arch?: 'amd64' | 'arm64'): string[] => {
    const urls: string[] = [];
    prefetchArtifacts(fleetHost, registry, new ReleaseSums(async (url) => (urls.push(url), { ok: false, error: 'stand-in', reached: true })), arch);
    return urls.map((u) => u.slice(u.lastIndexOf('/') + 1)).sort();
  };
  const both = asked();
  assert.ok(both.some((u) => u.includes('arm64')) && both.some((u) => !u.includes('arm64')), both.join(' '));
  const amd64 = asked('amd64');
  assert.ok(amd64.length > 0 && amd64.every((u) => !u.includes('arm64')), amd64.join(' '));
  assert.ok(amd64.length < both.length);
});
