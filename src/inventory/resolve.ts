/**
 * Merges the inventory levels into one HostConfig per host:
 *   defaults → each group's vars, in the order the groups are declared
 *   (a host in two groups gets the later group's value) → host → CLI flags.
 * A more specific level replaces a value (lists included: `recipes` on a
 * host replaces the group's list); `params` and `acme` are merged instead
 * (params deep-merged per recipe, acme field by field), so a host can
 * change one recipe parameter without restating the rest.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_PROGRESS_DIR, LETS_ENCRYPT, type DomainName, type HostConfig } from '../config.js';
import { Secret } from '../secret.js';
import { suggest } from './messages.js';
import { paramProblems, type RecipeParams } from './params.js';
import { expandPath } from './paths.js';
import type { ArtifactName } from '../artifacts/table.js';
import type { Inventory, Vars } from './schema.js';
import { err, ok, type Result } from '../result.js';
import type { CliOverrides, DocPath, InventoryHost, Problem } from './types.js';

export interface ResolveContext {
  /** Directory of fleet.yaml: relative paths in the file are resolved against it. */
  readonly baseDir: string;
  readonly homeDir: string;
  /** Directory relative CLI paths are resolved against. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readSecretFile?: (path: string) => Result<string, string>;
  /** Recipe parameter schemas: the merged params of each host must satisfy them. */
  readonly recipeParams?: RecipeParams;
  /** When given, the local files a host needs must exist. */
  readonly fileExists?: (path: string) => boolean;
}

interface Layer {
  readonly vars: Vars;
  /** Where this level lives in the document, for error positions. */
  readonly path: DocPath;
}

/** The levels that apply to a host, least specific first, and the groups it is in. */
export function layersFor(inv: Inventory, name: string): { layers: Layer[]; groups: string[] } {
  const layers: Layer[] = [];
  const groups: string[] = [];
  if (inv.defaults) layers.push({ vars: inv.defaults, path: ['defaults'] });
  for (const [g, entry] of Object.entries(inv.groups ?? {})) {
    if (!(entry.hosts ?? []).includes(name)) continue;
    groups.push(g);
    if (entry.vars) layers.push({ vars: entry.vars, path: ['groups', g, 'vars'] });
  }
  const host = inv.hosts[name];
  if (host !== undefined) layers.push({ vars: host, path: ['hosts', name] });
  return { layers, groups };
}

/** The most specific level's value of one setting, with where it came from. */
export function pick<K extends keyof Vars>(layers: readonly Layer[], key: K): { value: NonNullable<Vars[K]>; path: DocPath } | undefined {
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    const value = layer?.vars[key];
    if (layer !== undefined && value !== undefined && value !== null) return { value, path: [...layer.path, key] };
  }
  return undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Secret);

/** Recursive merge of mappings; anything else (lists included) is replaced by the later value. */
export function deepMerge(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const src of [a, b]) {
    for (const [k, v] of Object.entries(src)) {
      if (k === '__proto__') continue; // never let data reach an object's prototype
      const prev = out[k];
      out[k] = isPlainObject(prev) && isPlainObject(v) ? deepMerge(prev, v) : isPlainObject(v) ? deepMerge({}, v) : v;
    }
  }
  return out;
}

type Params = Record<string, Record<string, unknown>>;

function mergeParams(all: ReadonlyArray<Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined>): Params {
  const out: Params = {};
  for (const p of all) {
    if (p === undefined) continue;
    for (const [recipe, values] of Object.entries(p)) {
      if (recipe === '__proto__') continue;
      out[recipe] = deepMerge(out[recipe] ?? {}, values);
    }
  }
  return out;
}

function defaultReadSecretFile(path: string): Result<string, string> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (e) {
    return err(e instanceof Error ? e.message : String(e));
  }
}

function resolvePassword(layers: readonly Layer[], ctx: ResolveContext): Result<Secret | undefined, Problem> {
  const found = pick(layers, 'password');
  if (found === undefined) return ok(undefined);
  const { env, file } = found.value;
  if (env !== undefined) {
    const value = ctx.env[env];
    if (value === undefined || value === '') {
      return err({ path: [...found.path, 'env'], message: `${found.path.join('.')}: environment variable ${env} is not set or empty` });
    }
    return ok(new Secret(value));
  }
  if (file !== undefined) {
    const full = expandPath(file, ctx.baseDir, ctx.homeDir);
    const read = (ctx.readSecretFile ?? defaultReadSecretFile)(full);
    if (!read.ok) return err({ path: [...found.path, 'file'], message: `${found.path.join('.')}: cannot read password file ${full}: ${read.error}` });
    // The first line, so a trailing newline from `echo … > file` is not part of the password.
    const first = read.value.split(/\r?\n/)[0] ?? '';
    if (first === '') return err({ path: [...found.path, 'file'], message: `${found.path.join('.')}: password file ${full} is empty` });
    return ok(new Secret(first));
  }
  return ok(undefined);
}

/** Drop undefined properties so configs compare and print cleanly. */
function compact<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Flags that set a local file, for messages about a file that is not there. */
const FILE_FLAGS = { key: '--key', checksums: '--checksums', registryAuth: '--registry-auth', openfaasLicense: '--openfaas-license', caFile: '--acme-ca' } as const;

function resolveHost(inv: Inventory, name: string, o: CliOverrides, ctx: ResolveContext): Result<InventoryHost, Problem> {
  const host = inv.hosts[name];
  if (host === undefined) return err({ path: ['hosts'], message: `hosts: no host named "${name}"` });
  const { layers, groups } = layersFor(inv, name);
  const get = <K extends keyof Vars>(k: K): NonNullable<Vars[K]> | undefined => pick(layers, k)?.value;

  /**
   * A local file from a flag (relative to the current directory) or from the
   * inventory (relative to fleet.yaml); when files are checked, a missing
   * one is a problem named by its flag or its place in the file.
   */
  let missing: Problem | undefined;
  const local = (flag: keyof typeof FILE_FLAGS, cliValue: string | undefined, found: { value: string; path: DocPath } | undefined): string | undefined => {
    const full = cliValue !== undefined ? expandPath(cliValue, ctx.cwd, ctx.homeDir) : found !== undefined ? expandPath(found.value, ctx.baseDir, ctx.homeDir) : undefined;
    if (full !== undefined && missing === undefined && ctx.fileExists !== undefined && !ctx.fileExists(full)) {
      missing = cliValue !== undefined
        ? { path: [], flag: true, message: `${FILE_FLAGS[flag]} ${cliValue}: no such file` }
        : { path: found!.path, message: `${found!.path.join('.')}: ${found!.value}: no such file (${full})` };
    }
    return full;
  };
  const acmeFound = (k: 'caFile' | 'accountKeyFile'): { value: string; path: DocPath } | undefined => {
    for (let i = layers.length - 1; i >= 0; i--) {
      const v = layers[i]?.vars.acme?.[k];
      if (v !== undefined) return { value: v, path: [...layers[i]!.path, 'acme', k] };
    }
    return undefined;
  };

  const password = o.password !== undefined ? ok(o.password) : resolvePassword(layers, ctx);
  if (!password.ok) return password;

  const user = get('user') ?? 'root';
  const acme = Object.assign({}, ...layers.map((l) => l.vars.acme).filter((a) => a !== undefined)) as NonNullable<Vars['acme']>;
  const mirror = o.mirror ?? get('mirror');
  const knownHosts = o.knownHosts !== undefined ? expandPath(o.knownHosts, ctx.cwd, ctx.homeDir) : pick(layers, 'knownHosts') !== undefined ? expandPath(get('knownHosts')!, ctx.baseDir, ctx.homeDir) : undefined;
  const keyFile = local('key', o.key, pick(layers, 'key'));

  const connection: HostConfig['connection'] = host.connection === 'local'
    ? { kind: 'local' }
    : compact({
        kind: 'ssh' as const,
        address: host.address ?? '',
        port: get('port') ?? 22,
        user,
        keyFile,
        fingerprint: o.fingerprint ?? host.fingerprint,
        knownHosts,
        trustNewHost: o.trustNewHost,
        // root needs no sudo; anyone else gets `sudo -n` unless the inventory says otherwise.
        sudo: get('sudo') ?? user !== 'root',
      });

  const params = mergeParams([...layers.map((l) => l.vars.params), o.params]);
  if (ctx.recipeParams !== undefined) {
    const label = (recipe: string, keyPath: readonly (string | number)[]): string => `hosts.${name}: params.${recipe}${keyPath.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')}`;
    const problems = paramProblems(params, ctx.recipeParams, { path: ['hosts', name], label }, true);
    if (problems[0] !== undefined) return err({ ...problems[0], path: ['hosts', name], at: 'key' });
  }

  const config: HostConfig = compact({
    name,
    connection,
    groups,
    recipes: [...(o.recipes ?? get('recipes') ?? [])],
    params,
    // Override domains were parsed by the same schema as the file's (checkOverrides).
    domains: [...((o.domains as readonly DomainName[] | undefined) ?? host.domains ?? [])],
    email: o.email ?? get('email'),
    password: password.value,
    // Artifact URLs are built as `${mirror}/…`, so a trailing slash would double up.
    mirror: mirror?.replace(/\/+$/, ''),
    checksumsFile: local('checksums', o.checksums, pick(layers, 'checksums')),
    requirePinned: o.requirePinned ?? get('requirePinned'),
    // Parsed by the schema (checkOverrides for the flag): names of artifacts without published sums.
    trustArtifacts: (o.trustArtifacts as readonly ArtifactName[] | undefined) ?? get('trustArtifacts'),
    proxy: o.proxy ?? get('proxy'),
    noProxy: (o.noProxy as string | undefined) ?? get('noProxy'),
    registryAuth: local('registryAuth', o.registryAuth, pick(layers, 'registryAuth')),
    openfaasLicense: local('openfaasLicense', o.openfaasLicense, pick(layers, 'openfaasLicense')),
    acme: compact({
      directory: o.acmeDirectory ?? acme.directory ?? LETS_ENCRYPT,
      caFile: local('caFile', o.acmeCaFile, acmeFound('caFile')),
      profile: o.acmeProfile ?? acme.profile,
      resolver: o.acmeResolver ?? acme.resolver,
      accountKeyFile: acme.accountKeyFile === undefined ? undefined : expandPath(acmeFound('accountKeyFile')!.value, ctx.baseDir, ctx.homeDir),
    }),
    progressDir: o.progressDir ?? get('progressDir') ?? DEFAULT_PROGRESS_DIR,
  });
  if (missing !== undefined) return err(missing);
  return ok(config);
}

/** Every host of a validated inventory, in the order they are declared. */
export function resolveInventory(inv: Inventory, overrides: CliOverrides, ctx: ResolveContext): Result<InventoryHost[], Problem[]> {
  const hosts: InventoryHost[] = [];
  const problems: Problem[] = [];
  for (const name of Object.keys(inv.hosts)) {
    const r = resolveHost(inv, name, overrides, ctx);
    if (r.ok) hosts.push(r.value);
    else problems.push(r.error);
  }
  return problems.length > 0 ? err(problems) : ok(hosts);
}

/**
 * `--limit`: keep the hosts named, or belonging to a group named, in
 * inventory order. Entries may be comma-separated (`--limit web,db1`).
 * A name matching nothing is an error, not an empty run.
 */
export function limitHosts<H extends HostConfig>(hosts: readonly H[], limit: readonly string[]): Result<H[], string[]> {
  const names = limit.flatMap((l) => l.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) return ok([...hosts]);
  const known = new Set<string>([...hosts.map((h) => h.name), ...hosts.flatMap((h) => h.groups)]);
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    return err(unknown.map((n) => {
      const near = suggest(n, [...known]);
      return `--limit: no host or group named ${JSON.stringify(n)}${near !== undefined ? ` (did you mean "${near}"?)` : ''}`;
    }));
  }
  const wanted = new Set(names);
  return ok(hosts.filter((h) => wanted.has(h.name) || h.groups.some((g) => wanted.has(g))));
}
