/**
 * The build's precompiled templates (scripts/precompile-templates.mjs): a
 * render loads Handlebars' runtime, not its compiler, renders exactly what
 * the compiler would, and keeps strict mode's located errors.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageRoot, templatesDir } from '../../src/paths.js';

const require = createRequire(import.meta.url);

// These read the build's own dist/templates.compiled.cjs (npm run build) and never write it.
const BUILT = join(packageRoot, 'dist', 'templates.compiled.cjs');

test('the build\'s precompiled templates are those of the current sources, with the options panel compiles with', () => {
  // What the precompile script makes of the sources now, byte for byte: a stale build, or one
  // made with other options, differs.
  const now = execFileSync(process.execPath, [join(packageRoot, 'scripts', 'precompile-templates.mjs'), '--print'], { encoding: 'utf8' });
  assert.ok(existsSync(BUILT), `${BUILT} is missing: run npm run build`);
  assert.ok(readFileSync(BUILT, 'utf8') === now, `${BUILT} is stale: run npm run build`);
  const built = require(BUILT) as Record<string, { sha256: string }>;
  const names = readdirSync(templatesDir).filter((f) => f.endsWith('.hbs')).sort();
  assert.ok(names.length > 0);
  assert.deepEqual(Object.keys(built).sort(), names);
  for (const n of names) assert.equal(built[n]!.sha256, createHash('sha256').update(readFileSync(join(templatesDir, n), 'utf8')).digest('hex'), n);
});

test('a render uses the precompiled template: same output, strict errors located, the compiler never loaded', () => {
  // A fresh process, so that nothing else has loaded the compiler already.
  const probe = `
    import { renderTemplate } from ${JSON.stringify(join(packageRoot, 'src', 'resources', 'template.ts'))};
    import { createRequire } from 'node:module';
    const out = { text: renderTemplate('resolv.conf.hbs', { nameservers: ['192.0.2.1', '2001:db8::1'] }) };
    try { renderTemplate('faasd.service.hbs', {}); } catch (e) { out.error = e.message; }
    out.compiler = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/handlebars/compiler/'));
    console.log(JSON.stringify(out));`;
  const r = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8' })) as { text: string; error: string; compiler: boolean };
  assert.equal(r.text, 'nameserver 192.0.2.1\nnameserver 2001:db8::1\n');
  assert.match(r.error, /^template faasd\.service\.hbs: missing variable "\w+" at line \d+: /);
  assert.equal(r.compiler, false, 'the Handlebars compiler was loaded');
});
