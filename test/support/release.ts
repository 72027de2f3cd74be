/** panel's single executables, install.sh and SHA256SUMS for tests: `npm run build:binary`'s output, from the built dist/. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../src/paths.js';

/**
 * Builds dist/release/ from the current dist/ (scripts/build-binary.mjs keeps
 * the executables while the bundle and runtimes are unchanged, so a test run
 * pays for them once) and returns its path.
 */
export function releaseDir(): string {
  const r = spawnSync(process.execPath, [join(packageRoot, 'scripts', 'build-binary.mjs')], { cwd: packageRoot, encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`scripts/build-binary.mjs failed (exit ${r.status}): ${r.stderr.slice(-2000)}${r.error?.message ?? ''}`);
  return join(packageRoot, 'dist', 'release');
}
