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
import { errorMap, issueProblems } from './messages.js';
import { limitHosts, resolveInventory } from './resolve.js';
import * as S from './schema.js';
import { locate, parseSource, type Source } from './source.js';
import {
  err,
  formatInventoryError,
  ok,
  type CliOverrides,
  type DocPath,
  type InventoryError,
  type InventoryHost,
  type LoadOptions,
  type Problem,
  type Result,
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

function toErrors(file: string, source: Source, problems: readonly Problem[]): InventoryError[] {
  const located = problems.map((p) => ({ file, ...locate(source, p.path, p.at), message: p.message }));
  located.sort((a, b) => a.line - b.line || a.col - b.col);
  // One YAML node can violate the same rule along two routes (e.g. through an alias); say it once.
  const seen = new Set<string>();
  return located.filter((e) => {
    const k = formatInventoryError(e);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const FLAGS: Record<string, string> = {
  domains: '--domain',
  email: '--email',
  mirror: '--mirror',
  proxy: '--proxy',
  noProxy: '--no-proxy',
  recipes: '--recipes',
  acmeDirectory: '--acme-directory',
  progressDir: '--progress-dir',
};

/** CLI values reach the same shells as file values, so they pass the same checks. */
const overridesSchema = z.object({
  domains: z.array(S.domain).optional(),
  email: S.email.optional(),
  mirror: S.varsShape.mirror,
  proxy: S.varsShape.proxy,
  noProxy: S.varsShape.noProxy,
  recipes: S.varsShape.recipes,
  acmeDirectory: S.acme.shape.directory,
  progressDir: S.varsShape.progressDir,
});

function checkOverrides(file: string, o: CliOverrides, known: readonly string[] | undefined): Result<CliOverrides, InventoryError[]> {
  const parsed = overridesSchema.safeParse(o, { error: errorMap });
  const errors: InventoryError[] = [];
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const flag = FLAGS[String(iss.path[0])] ?? String(iss.path[0]);
      errors.push({ file, message: `${flag}: ${iss.message}` });
    }
    return err(errors);
  }
  if (known !== undefined) {
    for (const id of parsed.data.recipes ?? []) {
      if (!known.includes(id)) errors.push({ file, message: `--recipes: unknown recipe "${id}" (known: ${known.join(', ')})` });
    }
    for (const id of Object.keys(o.params ?? {})) {
      if (!known.includes(id)) errors.push({ file, message: `--set: unknown recipe "${id}" (known: ${known.join(', ')})` });
    }
  }
  if (errors.length > 0) return err(errors);
  // Keep the normalised values (punycode domains) and everything the schema does not cover.
  const normalised: CliOverrides = { ...o };
  return ok(parsed.data.domains !== undefined ? { ...normalised, domains: parsed.data.domains } : normalised);
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

  const parsed = S.inventory.safeParse(data, { error: errorMap });
  if (!parsed.success) return err(toErrors(file, source, issueProblems(parsed.error.issues, allowedAt)));
  const inv = parsed.data;

  const semantic = checkInventory(inv, options.knownRecipes);
  if (semantic.length > 0) return err(toErrors(file, source, semantic));

  const cli = checkOverrides(file, overrides, options.knownRecipes);
  if (!cli.ok) return cli;

  const resolved = resolveInventory(inv, cli.value, {
    baseDir: dirname(resolve(options.cwd ?? process.cwd(), file)),
    homeDir: options.homeDir ?? homedir(),
    cwd: options.cwd ?? process.cwd(),
    env: options.env ?? process.env,
    ...(options.readSecretFile !== undefined ? { readSecretFile: options.readSecretFile } : {}),
  });
  if (!resolved.ok) return err(toErrors(file, source, resolved.error));

  const limited = limitHosts(resolved.value, options.limit ?? []);
  if (!limited.ok) return err(limited.error.map((message) => ({ file, message })));
  if (overrides.domains !== undefined && limited.value.length !== 1) {
    return err([{ file, message: `--domain applies to one host, but ${limited.value.length} hosts are selected (use --limit <host>)` }]);
  }
  return ok(limited.value);
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
