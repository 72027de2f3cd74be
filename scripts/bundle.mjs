/**
 * The CLI as a few ES modules (dist/bundle/), built after tsc: Node starts
 * `panel` from them instead of from ~180 separate files (zod alone is 95),
 * which roughly halves the CPU spent loading modules (`panel recipes`:
 * 0.32 s → 0.18 s user+sys on the 2-core runner). Lazy imports stay lazy
 * (code splitting: ACME, listr2, the inventory schema load only when a
 * command needs them).
 *
 * Left out, loaded by Node from node_modules as before: CommonJS that finds
 * files at run time (ssh2), and the CommonJS packages panel already loads
 * only on demand through createRequire (handlebars, diff: src/lazy-cjs.ts) or
 * a dynamic import (acme-client). The single executable bundles all of them
 * (scripts/build-binary.mjs).
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zodEnglishOnly } from './zod-english.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, 'dist', 'src', 'cli', 'main.js')],
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['ssh2', 'handlebars', 'diff', 'acme-client'],
  plugins: [zodEnglishOnly],
  // Bundled CommonJS (commander) calls require() for Node's own modules; an ES module has none.
  banner: { js: "import { createRequire as __panelCreateRequire } from 'node:module'; const require = __panelCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
