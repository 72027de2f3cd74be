import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ArtifactError,
  artifactFor,
  artifactProblem,
  ChecksumsFileError,
  loadChecksumsFile,
  parseChecksums,
  resolveArtifact,
} from '../../src/artifacts/index.js';
import { tempDir } from '../support/temp.js';

const SUM = 'a'.repeat(64);

test('containerd resolves to the upstream release URL with the pinned sum', () => {
  const a = resolveArtifact('containerd', '1.7.27', 'amd64');
  assert.equal(a.url, 'https://github.com/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.equal(a.relPath, 'containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.equal(a.sha256, '5b038fb22ab5dbb1ce57dd3d8f102460cd8619ff2afc78870837b06e8c4e840a');
  assert.equal(a.sumFrom, 'pinned');
  assert.equal(resolveArtifact('containerd', '1.7.27', 'arm64').sha256, '3f03ea60c7dacddf890be3ab18f7ef859d9d104b19627f52038d7984361912bc');
});

test('CNI plugins resolve per architecture', () => {
  const amd = resolveArtifact('cni-plugins', '0.9.1', 'amd64');
  assert.equal(amd.url, 'https://github.com/containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-amd64-v0.9.1.tgz');
  assert.equal(amd.sha256, '962100bbc4baeaaa5748cdbfce941f756b1531c2eadb290129401498bfac21e7');
  const arm = resolveArtifact('cni-plugins', '0.9.1', 'arm64');
  assert.equal(arm.relPath, 'containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-arm64-v0.9.1.tgz');
  assert.equal(arm.sha256, 'ef17764ffd6cdcb16d76401bac1db6acc050c9b088f1be5efa0e094ea3b01df0');
});

test('faasd uses the -arm64 asset on arm64 and has no pinned sum: refused with a how-to', () => {
  assert.throws(
    () => resolveArtifact('faasd', '0.19.7', 'amd64'),
    (e: Error) =>
      e instanceof ArtifactError &&
      e.message.includes('openfaas/faasd/releases/download/0.19.7/faasd') &&
      e.message.includes('--checksums'),
  );
  const table = new Map([['openfaas/faasd/releases/download/0.19.7/faasd-arm64', SUM]]);
  const a = resolveArtifact('faasd', '0.19.7', 'arm64', { checksums: table });
  assert.equal(a.url, 'https://github.com/openfaas/faasd/releases/download/0.19.7/faasd-arm64');
  assert.equal(a.sha256, SUM);
  assert.equal(a.sumFrom, 'checksums-file');
});

test('--mirror replaces https://github.com and keeps GitHub paths', () => {
  const a = resolveArtifact('containerd', '1.7.27', 'amd64', { mirror: 'http://10.0.0.1:8080/gh/' });
  assert.equal(a.url, 'http://10.0.0.1:8080/gh/containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz');
  assert.throws(() => resolveArtifact('containerd', '1.7.27', 'amd64', { mirror: 'ftp://x' }));
  assert.throws(() => resolveArtifact('containerd', '1.7.27', 'amd64', { mirror: 'http://x/?a=1' }));
});

test('--checksums wins over the pinned table (a private mirror serving its own build)', () => {
  const rel = 'containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz';
  const a = resolveArtifact('containerd', '1.7.27', 'amd64', { checksums: new Map([[rel, SUM]]) });
  assert.equal(a.sha256, SUM);
});

test('versions cannot smuggle path segments or shell', () => {
  assert.throws(() => resolveArtifact('containerd', '../1.7.27', 'amd64'), ArtifactError);
  assert.throws(() => resolveArtifact('containerd', '1.7.27;rm -rf /', 'amd64'), ArtifactError);
  assert.throws(() => resolveArtifact('containerd', '', 'amd64'), ArtifactError);
});

test('an unknown version is refused, naming the file to list', () => {
  assert.throws(() => resolveArtifact('containerd', '9.9.9', 'amd64'), /containerd-9\.9\.9-linux-amd64\.tar\.gz/);
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

test('loadChecksumsFile reads a file and names it when missing', () => {
  const dir = tempDir('panel-sums-');
  const f = join(dir, 'SHA256SUMS');
  writeFileSync(f, `${SUM}  openfaas/faasd/releases/download/0.19.7/faasd\n`);
  const cfg = { mirror: 'http://m', checksumsFile: f };
  assert.equal(artifactFor(cfg, 'faasd', '0.19.7', 'amd64').url, 'http://m/openfaas/faasd/releases/download/0.19.7/faasd');
  assert.equal(artifactProblem(cfg, 'faasd', '0.19.7', 'amd64'), undefined);
  assert.match(artifactProblem(cfg, 'faasd', '0.19.7', 'arm64') ?? '', new RegExp(`${f.replace(/[/.]/g, '\\$&')} does not list it either`));
  assert.match(artifactProblem({}, 'faasd', '0.19.7', undefined) ?? '', /architecture/);
  assert.throws(() => loadChecksumsFile(join(dir, 'missing')), /missing: cannot read checksums file \(ENOENT\)/);
});
