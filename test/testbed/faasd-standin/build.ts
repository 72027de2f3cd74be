/**
 * Build the faasd STAND-IN (main.ts beside this file) into one amd64 Node
 * single executable, the way scripts/build-binary.mjs builds panel (shared
 * code in scripts/sea.mjs): hosts have no Node.
 */
import { build } from 'esbuild';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageRoot } from '../mirror.js';

// Functions, not constants: mirror.ts imports this module and defines packageRoot (a cycle).
const source = (): string => join(packageRoot, 'test', 'testbed', 'faasd-standin', 'main.ts');
const seaModule = (): string => join(packageRoot, 'scripts', 'sea.mjs');

interface SeaModule {
  seaBlob(bundle: string, work: string): Buffer;
  seaExecutable(blob: Buffer, arch: 'amd64' | 'arm64', out: string): Promise<void>;
}

/** What the executable is made of: part of the mirror cache's recipe. */
export async function faasdStandinRecipe(): Promise<string> {
  const yamlPkg = await readFile(join(packageRoot, 'node_modules', 'yaml', 'package.json'), 'utf8');
  return JSON.stringify([await readFile(source(), 'utf8'), await readFile(seaModule(), 'utf8'), (JSON.parse(yamlPkg) as { version: string }).version]);
}

/** Write the executable to `out`, using `work` (created, then removed) for the bundle and blob. */
export async function buildFaasdStandin(out: string, work: string): Promise<void> {
  await mkdir(work, { recursive: true });
  const bundle = join(work, 'faasd.cjs');
  await build({
    entryPoints: [source()],
    outfile: bundle,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    absWorkingDir: packageRoot,
    legalComments: 'none',
    logLevel: 'error',
  });
  const sea = (await import(pathToFileURL(seaModule()).href)) as SeaModule;
  await sea.seaExecutable(sea.seaBlob(bundle, work), 'amd64', out);
  await rm(work, { recursive: true, force: true });
}
