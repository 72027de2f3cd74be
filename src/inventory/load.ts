/**
 * loadInventory: fleet.yaml → validated, merged HostConfigs, or every
 * problem found, each as `fleet.yaml:LINE:COL: message`.
 *
 * Stages, each stopping the pipeline when it fails (later stages would
 * only report consequences of the earlier problem):
 *   1. YAML syntax, duplicate keys           (positions from yaml)
 *   2. schema: types, formats, unknown keys  (zod issue path → YAML node)
 *   3. cross-entry checks: groups, duplicate hosts and domains, recipe ids
 *   4. CLI flags, secrets, merging, --limit
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { checkInventory } from './check.js';
import { errorMap, issueProblems, prefixed, suggest } from './messages.js';
import { paramProblems } from './params.js';
import { limitHosts, resolveInventory } from './resolve.js';
import * as S from './schema.js';
import { locate, parseSource, type Source } from './source.js';
import { err, ok, type Result } from '../result.js';
import {
  formatInventoryError,
  type CliOverrides,
  type DocPath,
  type InventoryError,
  type InventoryHost,
  type LoadOptions,
  type Problem,
} from './types.js';

/** Keys a strict object at `path` accepts, for "did you mean" hints. */
function allowedAt(path: DocPath): readonly string[] {
  const last = path[path.length - 1];
  if (path.length === 0) return Object.keys(S.inventory.shape);
  if (last === 'acme') return Object.keys(S.acme.shape);
  if (last === 'password') return Object.keys(S.password.shape);
  if (path[0] === 'hosts' && path.length === 2) return Object.keys(S.host.shape);
  if (path[0] === 'groups' && path.length === 2) return Object.keys(S.group.shape);
  return Object.keys(S.vars.shape);
}

function toErrors(file: string, source: Source | undefined, problems: readonly Problem[]): InventoryError[] {
  const located = problems.map((p) => ({ file, ...(source !== undefined && !p.flag ? locate(source, p.path, p.at) : { line: 0, col: 0 }), message: p.message }));
  located.sort((a, b) => a.line - b.line || a.col - b.col);
  // One YAML node can violate the same rule along two routes (e.g. through an alias); say it once.
  const seen = new Set<string>();
  return located.filter((e) => {
    const k = formatInventoryError(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  }).map((e) => (e.line === 0 ? { file: e.file, message: e.message } : e));
}

const FLAGS: Record<string, string> = {
  domains: '--domain',
  email: '--mail',
  key: '--key',
  registryAuth: '--registry-auth',
  openfaasLicense: '--openfaas-license',
  fingerprint: '--fingerprint',
  checksums: '--checksums',
  knownHosts: '--known-hosts',
  acmeCaFile: '--acme-ca',
  acmeProfile: '--acme-profile',
  acmeResolver: '--acme-resolver',
  trustArtifacts: '--trust-artifact',
  mirror: '--mirror',
  proxy: '--proxy',
  noProxy: '--no-proxy',
  recipes: '--recipes',
  acmeDirectory: '--acme-directory',
  progressDir: '--progress-dir',
};

/** CLI values reach the same shells as file values, so they pass the same checks. */
const overridesSchema = z.object({
  domains: S.domains.optional(),
  email: S.email.optional(),
  key: S.varsShape.key,
  registryAuth: S.varsShape.registryAuth,
  openfaasLicense: S.varsShape.openfaasLicense,
  checksums: S.varsShape.checksums,
  knownHosts: S.varsShape.knownHosts,
  acmeCaFile: S.acme.shape.caFile,
  acmeProfile: S.acme.shape.profile,
  acmeResolver: S.acme.shape.resolver,
  trustArtifacts: S.varsShape.trustArtifacts,
  fingerprint: S.fingerprint.optional(),
  mirror: S.varsShape.mirror,
  proxy: S.varsShape.proxy,
  noProxy: S.varsShape.noProxy,
  recipes: S.varsShape.recipes,
  acmeDirectory: S.acme.shape.directory,
  progressDir: S.varsShape.progressDir,
});

function checkOverrides(file: string, o: CliOverrides, options: LoadOptions): Result<CliOverrides, InventoryError[]> {
  const known = options.knownRecipes ?? (options.recipeParams !== undefined ? [...options.recipeParams.keys()] : undefined);
  const parsed = overridesSchema.safeParse(o, { error: errorMap });
  const errors: InventoryError[] = [];
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const flag = FLAGS[String(iss.path[0])] ?? String(iss.path[0]);
      errors.push({ file, message: prefixed([flag], iss.message.replace(new RegExp(`^${String(iss.path[0])} (?=must |needs )`), '')) });
    }
    return err(errors);
  }
  if (known !== undefined) {
    for (const id of parsed.data.recipes ?? []) {
      if (!known.includes(id)) errors.push({ file, message: `--recipes: unknown recipe "${id}" (known: ${known.join(', ')})` });
    }
    for (const id of Object.keys(o.params ?? {})) {
      const near = suggest(id, known);
      if (!known.includes(id)) errors.push({ file, message: `--set ${id}.${Object.keys(o.params?.[id] ?? {})[0] ?? ''}: unknown recipe "${id}"${near !== undefined ? ` (did you mean "${near}"?)` : ` (known: ${known.join(', ')})`}` });
    }
  }
  if (options.recipeParams !== undefined) {
    const label = (recipe: string, keyPath: readonly (string | number)[]): string => `--set ${recipe}${keyPath.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
    for (const p of paramProblems(o.params, options.recipeParams, { path: [], label }, false)) errors.push({ file, message: p.message });
  }
  if (errors.length > 0) return err(errors);
  // Keep the normalised values (punycode domains, noProxy as one string) and everything the schema does not cover.
  return ok({
    ...o,
    ...(parsed.data.domains !== undefined ? { domains: parsed.data.domains } : {}),
    ...(parsed.data.noProxy !== undefined ? { noProxy: parsed.data.noProxy } : {}),
    ...(parsed.data.trustArtifacts !== undefined ? { trustArtifacts: parsed.data.trustArtifacts } : {}),
  });
}

/** Every level's params against the recipes' schemas, located where they are written. */
function checkParams(inv: S.Inventory, options: LoadOptions): Problem[] {
  const schemas = options.recipeParams;
  if (schemas === undefined) return [];
  const out: Problem[] = [];
  if (inv.defaults) out.push(...paramProblems(inv.defaults.params, schemas, { path: ['defaults'] }, false));
  for (const [g, entry] of Object.entries(inv.groups ?? {})) {
    if (entry.vars) out.push(...paramProblems(entry.vars.params, schemas, { path: ['groups', g, 'vars'] }, false));
  }
  for (const [name, host] of Object.entries(inv.hosts)) out.push(...paramProblems(host.params, schemas, { path: ['hosts', name] }, false));
  return out;
}

/**
 * The one path from inventory data to HostConfigs: schema, cross-entry
 * checks, recipe parameters, CLI flags, merging, --limit. `source` gives
 * positions for data parsed from a file; the inventory the CLI builds from
 * --host flags has none (file '').
 */
export function resolveInventoryData(
  data: unknown,
  file: string,
  source: Source | undefined,
  overrides: CliOverrides = {},
  options: LoadOptions = {},
): Result<InventoryHost[], InventoryError[]> {
  const parsed = S.inventory.safeParse(data, { error: errorMap });
  if (!parsed.success) return err(toErrors(file, source, issueProblems(parsed.error.issues, allowedAt)));
  const inv = parsed.data;

  const knownRecipes = options.knownRecipes ?? (options.recipeParams !== undefined ? [...options.recipeParams.keys()] : undefined);
  const semantic = [...checkInventory(inv, knownRecipes), ...checkParams(inv, options)];
  if (semantic.length > 0) return err(toErrors(file, source, semantic));

  const cli = checkOverrides(file, overrides, options);
  if (!cli.ok) return cli;

  const cwd = options.cwd ?? process.cwd();
  const resolved = resolveInventory(inv, cli.value, {
    baseDir: source !== undefined ? dirname(resolve(cwd, file)) : cwd,
    homeDir: options.homeDir ?? homedir(),
    cwd,
    env: options.env ?? process.env,
    ...(options.readSecretFile !== undefined ? { readSecretFile: options.readSecretFile } : {}),
    ...(options.recipeParams !== undefined ? { recipeParams: options.recipeParams } : {}),
    ...(options.fileExists !== undefined ? { fileExists: options.fileExists } : {}),
  });
  if (!resolved.ok) return err(toErrors(file, source, resolved.error));

  const limited = limitHosts(resolved.value, options.limit ?? []);
  if (!limited.ok) return err(limited.error.map((message) => ({ file, message })));
  for (const [key, flag] of [['domains', '--domain'], ['fingerprint', '--fingerprint']] as const) {
    if (overrides[key] !== undefined && limited.value.length !== 1) {
      return err([{ file, message: `${flag} applies to one host, but ${limited.value.length} hosts are selected (use --limit <host>)` }]);
    }
  }
  return ok(limited.value);
}

/**
 * Validate and resolve inventory text. `file` is used in messages as given
 * (so they match what the user typed) and to resolve relative paths.
 */
export function loadInventoryText(
  text: string,
  file: string,
  overrides: CliOverrides = {},
  options: LoadOptions = {},
): Result<InventoryHost[], InventoryError[]> {
  const { source, errors: syntax } = parseSource(text);
  if (syntax.length > 0) return err(syntax.map((e) => ({ file, ...e })));

  let data: unknown;
  try {
    // yaml throws (only) when aliases expand past maxAliasCount: a "billion laughs" file.
    data = source.doc.toJS({ maxAliasCount: 1000 });
  } catch (e) {
    return err([{ file, message: `cannot expand YAML aliases: ${e instanceof Error ? e.message : String(e)}` }]);
  }
  return resolveInventoryData(data, file, source, overrides, options);
}

/** Read and load fleet.yaml; an unreadable file is an error without position. */
export function loadInventory(
  path: string,
  overrides: CliOverrides = {},
  options: LoadOptions = {},
): Result<InventoryHost[], InventoryError[]> {
  let text: string;
  try {
    text = readFileSync(resolve(options.cwd ?? process.cwd(), path), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : e instanceof Error ? e.message : String(e);
    return err([{ file: path, message: `cannot read the inventory: ${why}` }]);
  }
  return loadInventoryText(text, path, overrides, options);
}
