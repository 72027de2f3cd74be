/**
 * Where each artifact's sum comes from, through the CLI on a real (nspawn)
 * host, against the bed's mirror, which publishes upstream's checksum assets
 * in upstream's formats (faasd.sha256 says `bin/faasd`). NOTE: the faasd the
 * mirror serves is the testbed's STAND-IN (test/testbed/faasd-standin/main.ts).
 *
 * Only --mirror and the connection flags, plus --checksums for the bed's own
 * Debian-built containerd/CNI tarballs (see test/support/bed-args.ts): faasd
 * has no pinned sum and is verified against its release's faasd.sha256.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostArgs, mirrorArgs, mirrorDir } from '../support/bed-args.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { CHECKSUM_ASSETS } from '../testbed/mirror.js';

let bed: Testbed;
let host: TestHost;

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false });
  host = bed.hosts[0]!;
});

after(async () => {
  await bed?.stop();
});

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;

interface ArtifactEvent {
  name: string;
  source: string;
  sha256: string;
  sumUrl?: string;
  path: string;
}

function artifacts(run: CliRun): Map<string, ArtifactEvent> {
  return new Map(events(run).filter((e) => e.type === 'artifact').map((e) => {
    const a = e['artifact'] as ArtifactEvent;
    return [a.name, a];
  }));
}

const publishedFaasdSum = (): string => readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.faasd), 'utf8').split(/\s+/)[0]!;

async function exists(path: string): Promise<boolean> {
  return (await bed.exec(host, `test -e ${path}`)).code === 0;
}

test('the bed publishes faasd.sha256 as make hashgen writes it (bin/ prefix)', () => {
  assert.match(readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.faasd), 'utf8'), /^[0-9a-f]{64} {2}bin\/faasd\n$/);
  assert.match(readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.faasCli), 'utf8'), /^[0-9a-f]{64} {2}faas-cli\n$/);
  assert.match(readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.containerd), 'utf8'), /^[0-9a-f]{64} {2}containerd-1\.7\.34-linux-amd64\.tar\.gz\n$/);
  assert.match(readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.cni), 'utf8'), /^[0-9a-f]{64} {2}cni-plugins-linux-amd64-v1\.9\.1\.tgz\n$/);
});

test('plan says where each sum comes from: faasd from its release checksum asset, with the URL', async () => {
  const run = await panel(['plan', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', 'faasd', '--set', 'faasd.faasCli=true', '--json']);
  assert.equal(run.code, 0, explain(run));
  const a = artifacts(run);
  const faasd = a.get('faasd');
  assert.equal(faasd?.source, 'release-asset');
  assert.equal(faasd?.sumUrl, `${bed.mirrorUrl}/${CHECKSUM_ASSETS.faasd}`);
  assert.equal(faasd?.sha256, publishedFaasdSum());
  const cli = a.get('faas-cli');
  assert.deepEqual([cli?.source, cli?.sumUrl], ['release-asset', `${bed.mirrorUrl}/${CHECKSUM_ASSETS.faasCli}`]);
  assert.equal(cli?.sha256, readFileSync(join(mirrorDir(bed), CHECKSUM_ASSETS.faasCli), 'utf8').split(/\s+/)[0]);
  assert.equal(a.get('containerd')?.source, 'checksums-file');
  assert.equal(a.get('cni-plugins')?.source, 'checksums-file');

  const human = await panel(['plan', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', 'faasd']);
  assert.equal(human.code, 0, explain(human));
  assert.match(human.stdout, new RegExp(`faasd 0\\.19\\.7 \\(amd64\\) sha256 ${publishedFaasdSum().slice(0, 12)}…: release checksum asset ${bed.mirrorUrl}/openfaas/faasd/releases/download/0\\.19\\.7/faasd\\.sha256`));
  assert.match(human.stdout, /containerd 1\.7\.34 \(amd64\) sha256 [0-9a-f]{12}…: given with --checksums/);
});

test('--require-pinned refuses faasd in one line before any change', async () => {
  const run = await panel(['install', '--yes', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', 'faasd', '--require-pinned']);
  assert.equal(run.code, 1, explain(run));
  const lines = (run.stdout + run.stderr).split('\n').filter((l) => l.includes('--require-pinned refuses'));
  assert.ok(lines.length >= 1, explain(run));
  assert.match(lines[0]!, /recipe faasd: faasd 0\.19\.7 \(amd64\): no sha256 is pinned for openfaas\/faasd\/releases\/download\/0\.19\.7\/faasd and .*STANDIN-SHA256SUMS does not list it, and --require-pinned refuses the release's own checksum asset/);
  // containerd's recipe comes first, yet nothing was installed: the refusal is made while planning.
  assert.equal(await exists('/usr/local/bin/containerd'), false);
});

test('a checksum asset that is not there is refused naming its URL', async () => {
  const elsewhere = `${bed.mirrorUrl}/elsewhere`;
  const args = mirrorArgs(bed).map((x) => (x === bed.mirrorUrl ? elsewhere : x));
  const run = await panel(['install', '--yes', ...hostArgs(bed, host), ...args, '--recipes', 'faasd']);
  assert.equal(run.code, 1, explain(run));
  assert.ok(
    (run.stdout + run.stderr).includes(`the release's checksum asset ${elsewhere}/openfaas/faasd/releases/download/0.19.7/faasd.sha256 could not be fetched: HTTP 404`),
    explain(run),
  );
  assert.equal(await exists('/usr/local/bin/containerd'), false);
});

test('a different published sum for the same version is refused showing both, as a changed host key is', async () => {
  // The demo recipe installs the same faasd release artifact (and CNI), without the whole stack.
  const demo = ['install', '--yes', ...hostArgs(bed, host), ...mirrorArgs(bed), '--recipes', 'demo', '--json'];
  const first = await panel(demo);
  assert.equal(first.code, 0, explain(first));
  const recorded = publishedFaasdSum();
  assert.equal(artifacts(first).get('faasd')?.source, 'release-asset');
  const state = JSON.parse((await bed.exec(host, 'cat /var/lib/panel/state.json')).stdout) as { artifacts: Record<string, { sha256: string; source: string }> };
  assert.deepEqual(
    { ...state.artifacts['openfaas/faasd/releases/download/0.19.7/faasd'], at: undefined },
    { sha256: recorded, source: 'release-asset', at: undefined },
  );

  // The mirror now publishes another sum for faasd 0.19.7 (and, say, another binary).
  const asset = join(mirrorDir(bed), CHECKSUM_ASSETS.faasd);
  const other = 'c'.repeat(64);
  writeFileSync(`${asset}.new`, `${other}  bin/faasd\n`);
  renameSync(`${asset}.new`, asset);
  const before = (await bed.exec(host, 'sha256sum /opt/panel-demo/bin/tool')).stdout;
  const second = await panel(demo.filter((x) => x !== '--json'));
  assert.equal(second.code, 1, explain(second));
  const text = second.stdout + second.stderr;
  assert.match(text, /the published sha256 of faasd 0\.19\.7 \(amd64\) CHANGED/);
  assert.ok(text.includes(`recorded on this host: ${recorded}`), explain(second));
  assert.ok(text.includes(`now published:         ${other} (${bed.mirrorUrl}/${CHECKSUM_ASSETS.faasd})`), explain(second));
  assert.equal((await bed.exec(host, 'sha256sum /opt/panel-demo/bin/tool')).stdout, before);

  writeFileSync(`${asset}.new`, `${recorded}  bin/faasd\n`);
  renameSync(`${asset}.new`, asset);
  const third = await panel(demo);
  assert.equal(third.code, 0, explain(third));
});

test('a mirror only the host can reach: the host fetches the checksum asset itself', async () => {
  // The machine running panel cannot resolve this name; the host can (after the demo, it has curl).
  const port = new URL(bed.mirrorUrl).port;
  const r = await bed.exec(host, `echo '${bed.bridgeAddress} panel-mirror.invalid' >> /etc/hosts`);
  assert.equal(r.code, 0, r.stderr);
  const privateMirror = `http://panel-mirror.invalid:${port}`;
  await assert.rejects(fetch(`${privateMirror}/${CHECKSUM_ASSETS.faasd}`), 'this machine must not reach it, or the test proves nothing');
  const args = mirrorArgs(bed).map((x) => (x === bed.mirrorUrl ? privateMirror : x));
  const run = await panel(['plan', ...hostArgs(bed, host), ...args, '--recipes', 'demo', '--json']);
  assert.equal(run.code, 0, explain(run));
  const faasd = artifacts(run).get('faasd');
  assert.equal(faasd?.source, 'release-asset');
  assert.equal(faasd?.sumUrl, `${privateMirror}/${CHECKSUM_ASSETS.faasd}`);
  assert.equal(faasd?.sha256, publishedFaasdSum());
});
