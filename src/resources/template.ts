/**
 * A file rendered from templates/<source> with Handlebars (noEscape: these are
 * config files, not HTML; strict: a missing variable is an error, never an
 * empty string in a config). Rendering happens when the resource is built, so
 * a bad template fails before anything touches a host.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { embedded, type Precompiled } from '../embedded.js';
import { loadHandlebars, loadHandlebarsRuntime, loadPrecompiled } from '../lazy-cjs.js';
import { packageRoot, templatesDir } from '../paths.js';
import type { TemplateOptions } from './api.js';
import { checkPath, FileResource } from './file.js';
import { DEFAULT_MODE, DEFAULT_OWNER } from './write.js';

type Compiled = (data: unknown) => string;
const cache = new Map<string, { compiled: Compiled; source: string }>();

// Loaded on the first render, not at start-up: `panel --help`, `recipes` and `schema` render nothing.
let handlebars: typeof import('handlebars') | undefined;
function compile(source: string): Compiled {
  handlebars ??= loadHandlebars();
  return handlebars.compile(source, { noEscape: true, strict: true });
}

/** The build's precompiled templates (scripts/precompile-templates.mjs), by file name; empty when not built. */
let precompiled: Precompiled | undefined;
let runtime: typeof import('handlebars') | undefined;
function fromBuild(path: string, source: string): Compiled | undefined {
  if (dirname(path) !== templatesDir) return undefined;
  if (precompiled === undefined) {
    try {
      precompiled = embedded !== undefined ? embedded.precompiled() : loadPrecompiled(join(packageRoot, 'dist', 'templates.compiled.cjs'));
    } catch {
      precompiled = {};
    }
  }
  const entry = precompiled[path.slice(templatesDir.length + 1)];
  // Made from another version of the file (edited since the build): compile what is there now.
  if (entry === undefined || entry.sha256 !== createHash('sha256').update(source).digest('hex')) return undefined;
  runtime ??= loadHandlebarsRuntime();
  return runtime.template(entry.spec);
}

/** panel's own templates come from inside the single executable when it is one; any other file from disk. */
function readSource(path: string): string {
  if (embedded === undefined || dirname(path) !== templatesDir) return readFileSync(path, 'utf8');
  const text = embedded.templates[basename(path)];
  if (text === undefined) throw new Error('no such template in this executable');
  return text;
}

function load(path: string): { compiled: Compiled; source: string } {
  const hit = cache.get(path);
  if (hit) return hit;
  let source: string;
  try {
    source = readSource(path);
  } catch (e) {
    throw new Error(`template ${path}: cannot read: ${(e as Error).message}`);
  }
  const entry = { compiled: fromBuild(path, source) ?? compile(source), source };
  cache.set(path, entry);
  return entry;
}

/** Render templates/<source> (or `dir`/<source>) with `data`; errors name the template and the variable. */
export function renderTemplate(source: string, data: unknown, dir: string = templatesDir): string {
  const path = isAbsolute(source) ? source : join(dir, source);
  const { compiled, source: text } = load(path);
  try {
    return compiled(data);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /^"([^"]+)" not defined in .* - (\d+):(\d+)/.exec(msg);
    if (m) {
      const line = text.split('\n')[Number(m[2]) - 1]?.trim() ?? '';
      throw new Error(`template ${source}: missing variable "${m[1]}" at line ${m[2]}: ${line}`);
    }
    throw new Error(`template ${source}: ${msg}`);
  }
}

export function template(o: TemplateOptions): FileResource {
  checkPath('template', o.path);
  const content = renderTemplate(o.source, o.data, o.templatesDir);
  return new FileResource({
    key: `file:${o.path}`,
    path: o.path,
    content: Buffer.from(content, 'utf8'),
    mode: o.mode ?? DEFAULT_MODE.file,
    owner: o.owner ?? DEFAULT_OWNER.user,
    group: o.group ?? DEFAULT_OWNER.group,
    secret: o.secret ?? false,
    ...(o.validate !== undefined ? { validate: o.validate } : {}),
  });
}
