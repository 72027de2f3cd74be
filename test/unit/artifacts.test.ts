import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  ArtifactError,
  artifactSource,
  changedSumRefusal,
  ChecksumsFileError,
  fetchHere,
  loadChecksumsFile,
  locateArtifact,
  parseChecksumAsset,
  parseChecksums,
  parseHostFetch,
  ReleaseSums,
  resolveArtifact,
  type AssetFetch,
  type ResolvedArtifact,
} from '../../src/artifacts/index.js';
import { tempDir } from '../support/temp.js';
import type { Arch } from '../../src/host-info.js';
import type { ArtifactName } from '../../src/artifacts/index.js';

const SUM = 'a'.repeat(64);
const FAASD_REL = 'openfaas/faasd/releases/download/0.19.7/faasd';

/** Resolve with a fetcher that must not be called (the sum is known). */
async function known(name: ArtifactName, version: string, arch: Arch, source = {}): Promise<ResolvedArtifact> {
  const r = await resolveArtifact(locateArtifact(name, version, arch, source), {
    fetchAsset: () => Promise.reject(new Error('no fetch expected')),
  });
  assert.ok(r.ok, r.ok ? '' : r.error);
  return r.value;
}

function serving(files: Record<string, string>): (url: string) => Promise<AssetFetch> {
  return async (url) => {
    const path = new URL(url).pathname.slice(1);
    const body = files[path];
    return body === undefined ? { ok: false, error: 'HTTP 404 Not Found', reached: true } : { ok: true, text: body };
  };
}

test('containerd resolves to the upstream release URL with the pinned sum', async () => {
  const a = await known('containerd', '1.7.27', 'amd64');
  assert.equal(a.url, 'https://github.com/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.equal(a.relPath, 'containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.equal(a.sha256, '5b038fb22ab5dbb1ce57dd3d8f102460cd8619ff2afc78870837b06e8c4e840a');
  assert.equal(a.sumFrom, 'pinned');
  assert.equal((await known('containerd', '1.7.27', 'arm64')).sha256, '3f03ea60c7dacddf890be3ab18f7ef859d9d104b19627f52038d7984361912bc');
});

test('CNI plugins resolve per architecture', async () => {
  const amd = await known('cni-plugins', '0.9.1', 'amd64');
  assert.equal(amd.url, 'https://github.com/containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-amd64-v0.9.1.tgz');
  assert.equal(amd.sha256, '962100bbc4baeaaa5748cdbfce941f756b1531c2eadb290129401498bfac21e7');
  const arm = await known('cni-plugins', '0.9.1', 'arm64');
  assert.equal(arm.relPath, 'containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-arm64-v0.9.1.tgz');
  assert.equal(arm.sha256, 'ef17764ffd6cdcb16d76401bac1db6acc050c9b088f1be5efa0e094ea3b01df0');
});

test('each artifact\'s checksum asset sits beside it, named as upstream publishes it', () => {
  const at = (n: ArtifactName, v: string, arch: Arch) => locateArtifact(n, v, arch, { mirror: 'http://m' }).asset!;
  assert.deepEqual(
    [at('faasd', '0.19.7', 'amd64'), at('faasd', '0.19.7', 'arm64')].map((a) => [a.url, a.named]),
    [
      ['http://m/openfaas/faasd/releases/download/0.19.7/faasd.sha256', 'bin/faasd'],
      ['http://m/openfaas/faasd/releases/download/0.19.7/faasd-arm64.sha256', 'bin/faasd-arm64'],
    ],
  );
  assert.deepEqual([at('faas-cli', '0.17.8', 'amd64').url, at('faas-cli', '0.17.8', 'amd64').named], ['http://m/openfaas/faas-cli/releases/download/0.17.8/faas-cli.sha256', 'faas-cli']);
  const ctd = at('containerd', '1.7.27', 'amd64');
  assert.equal(ctd.url, 'http://m/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz.sha256sum');
  assert.equal(ctd.named, 'containerd-1.7.27-linux-amd64.tar.gz');
  const cni = at('cni-plugins', '0.9.1', 'arm64');
  assert.equal(cni.url, 'http://m/containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-arm64-v0.9.1.tgz.sha256');
  assert.equal(cni.named, 'cni-plugins-linux-arm64-v0.9.1.tgz');
});

test('upstream formats parse: faasd\'s bin/ prefix, shasum and sha256sum lines; another file\'s sum is refused', () => {
  const hashgen = `${'AB'.repeat(32)}  bin/faasd\n`;
  assert.deepEqual(parseChecksumAsset(hashgen, 'bin/faasd', 'x'), { ok: true, value: 'ab'.repeat(32) });
  assert.deepEqual(parseChecksumAsset(`${SUM} *faas-cli\r\n`, 'faas-cli', 'x'), { ok: true, value: SUM });
  const wrong = parseChecksumAsset(`${SUM}  bin/faasd-arm64\n`, 'bin/faasd', "faasd's `make hashgen`");
  assert.ok(!wrong.ok && /expected one line "<sha256>  bin\/faasd" as faasd's `make hashgen` writes it, got a sum for "bin\/faasd-arm64"/.test(wrong.error));
  assert.ok(!parseChecksumAsset(`${SUM}  faasd\n${SUM}  faasd\n`, 'faasd', 'x').ok);
  assert.ok(!parseChecksumAsset('<html>Not Found</html>', 'faasd', 'x').ok);
  assert.ok(!parseChecksumAsset(`${'a'.repeat(63)}  faasd`, 'faasd', 'x').ok);
});

test('no pinned sum: faasd is verified against its release\'s faasd.sha256 from the same mirror', async () => {
  const fetched: string[] = [];
  const files = serving({ [`${FAASD_REL}.sha256`]: `${SUM}  bin/faasd\n` });
  const r = await resolveArtifact(locateArtifact('faasd', '0.19.7', 'amd64', { mirror: 'http://m/' }), {
    fetchAsset: (u) => (fetched.push(u), files(u)),
  });
  assert.ok(r.ok);
  assert.equal(r.value.url, `http://m/${FAASD_REL}`);
  assert.equal(r.value.sha256, SUM);
  assert.equal(r.value.sumFrom, 'release-asset');
  assert.equal(r.value.sumUrl, `http://m/${FAASD_REL}.sha256`);
  assert.deepEqual(fetched, [`http://m/${FAASD_REL}.sha256`]);
});

test('a checksum asset that cannot be fetched is refused naming its URL and the way out', async () => {
  const r = await resolveArtifact(locateArtifact('faasd', '0.19.7', 'arm64', { mirror: 'http://m' }), { fetchAsset: serving({}) });
  assert.ok(!r.ok);
  assert.match(r.error, /^faasd 0\.19\.7 \(arm64\): no sha256 is pinned, and the release's checksum asset http:\/\/m\/openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd-arm64\.sha256 could not be fetched: HTTP 404 Not Found\./);
  assert.match(r.error, /--checksums FILE with a line "<sha256>  openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd-arm64"/);
  assert.ok(!r.error.includes('\n'), 'one line');
});

test('--require-pinned refuses the release asset without fetching; pinned and given sums pass', async () => {
  const opts = { requirePinned: true, fetchAsset: () => Promise.reject(new Error('must not fetch')) };
  const r = await resolveArtifact(locateArtifact('faasd', '0.19.7', 'amd64'), opts);
  assert.ok(!r.ok);
  assert.match(r.error, /^faasd 0\.19\.7 \(amd64\): no sha256 is pinned for openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd, and --require-pinned refuses the release's own checksum asset/);
  assert.ok((await resolveArtifact(locateArtifact('containerd', '1.7.27', 'amd64'), opts)).ok);
  const given = await resolveArtifact(locateArtifact('faasd', '0.19.7', 'amd64', { checksums: new Map([[FAASD_REL, SUM]]) }), opts);
  assert.ok(given.ok && given.value.sumFrom === 'checksums-file');
});

test('--mirror replaces https://github.com and keeps GitHub paths', () => {
  const a = locateArtifact('containerd', '1.7.27', 'amd64', { mirror: 'http://10.0.0.1:8080/gh/' });
  assert.equal(a.url, 'http://10.0.0.1:8080/gh/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.throws(() => locateArtifact('containerd', '1.7.27', 'amd64', { mirror: 'ftp://x' }));
  assert.throws(() => locateArtifact('containerd', '1.7.27', 'amd64', { mirror: 'http://x/?a=1' }));
});

test('--checksums wins over the pinned table (a private mirror serving its own build)', async () => {
  const rel = 'containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz';
  const a = await known('containerd', '1.7.27', 'amd64', { checksums: new Map([[rel, SUM]]) });
  assert.equal(a.sha256, SUM);
  assert.equal(a.sumFrom, 'checksums-file');
});

test('versions cannot smuggle path segments or shell', () => {
  assert.throws(() => locateArtifact('containerd', '../1.7.27', 'amd64'), ArtifactError);
  assert.throws(() => locateArtifact('containerd', '1.7.27;rm -rf /', 'amd64'), ArtifactError);
  assert.throws(() => locateArtifact('containerd', '', 'amd64'), ArtifactError);
});

test('a changed published sum for the same version is refused showing both sums; pinned or given sums replace the record', () => {
  const NEW = 'b'.repeat(64);
  const published: ResolvedArtifact = { name: 'faasd', version: '0.19.7', arch: 'amd64', url: `http://m/${FAASD_REL}`, relPath: FAASD_REL, sha256: NEW, sumFrom: 'release-asset', sumUrl: `http://m/${FAASD_REL}.sha256` };
  const refused = changedSumRefusal({ sha256: SUM, source: 'release-asset', at: '2026-11-22T13:00:00Z' }, published);
  const refusal = refused.ok ? '' : refused.error;
  assert.match(refusal, /the published sha256 of faasd 0\.19\.7 \(amd64\) CHANGED/);
  assert.match(refusal, new RegExp(`recorded on this host: ${SUM} \\(release-asset, 2026-11-22T13:00:00Z\\)`));
  assert.match(refusal, new RegExp(`now published: +${NEW} \\(http://m/openfaas/faasd/releases/download/0\\.19\\.7/faasd\\.sha256\\)`));
  assert.ok(changedSumRefusal({ sha256: NEW, source: 'release-asset' }, published).ok);
  assert.ok(changedSumRefusal(undefined, published).ok);
  assert.ok(changedSumRefusal({ sha256: SUM, source: 'release-asset' }, { ...published, sumFrom: 'checksums-file' }).ok);
});

test('parseChecksums reads sha256sum output (text and binary mode, ./ and / prefixes, comments)', () => {
  const t = parseChecksums(
    [
      '# mirror sums',
      '',
      `${SUM}  ./openfaas/faasd/releases/download/0.19.7/faasd`,
      `${'B'.repeat(64)} */containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-arm64.tar.gz`,
    ].join('\n'),
    'sums.txt',
  );
  assert.equal(t.get('openfaas/faasd/releases/download/0.19.7/faasd'), SUM);
  assert.equal(t.get('containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-arm64.tar.gz'), 'b'.repeat(64));
});

test('parseChecksums locates bad lines as FILE:LINE', () => {
  assert.throws(() => parseChecksums(`${SUM}  a\nnot a sum line\n`, 'sums.txt'), (e: Error) => e instanceof ChecksumsFileError && e.message.startsWith('sums.txt:2: '));
  assert.throws(() => parseChecksums(`abc123  a\n`, 'f'), /^ChecksumsFileError: f:1: sha256 must be 64 hex digits, got 6$|f:1: sha256 must be 64 hex digits, got 6/);
  assert.throws(() => parseChecksums(`${SUM}\n`, 'f'), /f:1: expected/);
  assert.throws(() => parseChecksums(`${SUM}  a\n${'c'.repeat(64)}  ./a\n`, 'f'), /f:2: a listed twice with different sums/);
});

test('loadChecksumsFile reads a file and names it when missing', async () => {
  const dir = tempDir('panel-sums-');
  const f = join(dir, 'SHA256SUMS');
  writeFileSync(f, `${SUM}  ${FAASD_REL}\n`);
  const source = artifactSource({ mirror: 'http://m', checksumsFile: f });
  const a = await known('faasd', '0.19.7', 'amd64', source);
  assert.equal(a.url, `http://m/${FAASD_REL}`);
  assert.equal(a.sumFrom, 'checksums-file');
  const arm = await resolveArtifact(locateArtifact('faasd', '0.19.7', 'arm64', source), { checksumsFile: f, requirePinned: true, fetchAsset: serving({}) });
  assert.ok(!arm.ok && arm.error.includes(`${f} does not list it`));
  assert.throws(() => loadChecksumsFile(join(dir, 'missing')), /missing: cannot read checksums file \(ENOENT\)/);
});

let server: Server;
let base = '';
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok.sha256') res.end(`${SUM}  bin/faasd\n`);
    else if (req.url === '/moved') res.writeHead(302, { location: '/ok.sha256' }).end();
    else if (req.url === '/big') res.end('x'.repeat(100_000));
    else res.writeHead(404).end('nope');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

test('fetchHere follows redirects, reports HTTP errors as answers and a dead address as unreachable', async () => {
  assert.deepEqual(await fetchHere(`${base}/moved`), { ok: true, text: `${SUM}  bin/faasd\n` });
  assert.deepEqual(await fetchHere(`${base}/gone`), { ok: false, error: 'HTTP 404 Not Found', reached: true });
  const big = await fetchHere(`${base}/big`);
  assert.ok(!big.ok && big.reached && /not a checksum file/.test(big.error));
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const dead = await fetchHere(`http://127.0.0.1:${port}/x.sha256`);
  assert.ok(!dead.ok && !dead.reached && /ECONNREFUSED/.test(dead.error));
});

test('ReleaseSums fetches each URL once per run, however many hosts ask', async () => {
  let calls = 0;
  const sums = new ReleaseSums(async () => (calls++, { ok: true, text: 'x' }));
  await Promise.all([sums.fetch('u'), sums.fetch('u'), sums.fetch('v')]);
  assert.equal(calls, 2);
});

test('the host fallback tells an HTTP error (answered) from no route', () => {
  assert.deepEqual(parseHostFetch(`${SUM}  faasd\n`, 0, ''), { ok: true, text: `${SUM}  faasd\n` });
  assert.deepEqual(parseHostFetch('', 22, 'curl: (22) The requested URL returned error: 404'), { ok: false, reached: true, error: 'fetched by the host: curl: (22) The requested URL returned error: 404' });
  assert.deepEqual(parseHostFetch('', 7, 'curl: (7) Failed to connect'), { ok: false, reached: false, error: 'fetched by the host: curl: (7) Failed to connect' });
});

test('runc: runc.<arch> from its release, its sum picked by name from the one runc.sha256sum the release publishes for every file', () => {
  const loc = locateArtifact('runc', '1.4.3', 'arm64', { mirror: 'http://m' });
  assert.equal(loc.url, 'http://m/opencontainers/runc/releases/download/v1.4.3/runc.arm64');
  assert.equal(loc.asset?.url, 'http://m/opencontainers/runc/releases/download/v1.4.3/runc.sha256sum');
  assert.equal(loc.asset?.named, 'runc.arm64');
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  const asset = `${A}  runc.amd64\n${B}  runc.arm64\n${'c'.repeat(64)}  runc.tar.xz\n`;
  assert.deepEqual(parseChecksumAsset(asset, 'runc.arm64', 'x', true), { ok: true, value: B });
  assert.deepEqual(parseChecksumAsset(asset, 'runc.amd64', 'x', true), { ok: true, value: A });
  // Not listed, listed twice, or a line that is not a sum: refused, never guessed.
  assert.equal(parseChecksumAsset(asset, 'runc.riscv64', 'x', true).ok, false);
  assert.equal(parseChecksumAsset(`${asset}${A}  runc.arm64\n`, 'runc.arm64', 'x', true).ok, false);
  assert.equal(parseChecksumAsset(`${asset}<html>\n`, 'runc.arm64', 'x', true).ok, false);
  // The one-line assets keep refusing a many-line file.
  assert.equal(parseChecksumAsset(asset, 'runc.arm64', 'x').ok, false);
});

test('CNI v1.9.1 sums are pinned (upstream .tgz.sha256 as quoted by several projects)', async () => {
  assert.equal((await known('cni-plugins', '1.9.1', 'amd64')).sha256, 'b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303');
  assert.equal((await known('cni-plugins', '1.9.1', 'arm64')).sha256, '56171987d3947707c3563db2f4001bccaf50fd63468611b9f3cbecb1375ee7ec');
});
