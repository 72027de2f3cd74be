/**
 * The flags every converging command shares, and their translation into
 * HostConfig for --host / local runs. Inputs are checked here, before any
 * connection is made; an error is one line naming the flag.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_PROGRESS_DIR, LETS_ENCRYPT, LETS_ENCRYPT_STAGING, type HostConfig } from '../config.js';
import { fingerprint as fingerprintSchema } from '../inventory/schema.js';
import { Secret } from '../secret.js';
import { hostDisplayName, parseHostSpec } from './host-spec.js';
import { UsageError } from './usage-error.js';

export interface CommonFlags {
  domain?: string[];
  mail?: string;
  password?: string;
  passwordFile?: string;
  host?: string[];
  inventory?: string;
  limit?: string;
  concurrency?: string;
  recipes?: string;
  mirror?: string;
  checksums?: string;
  proxy?: string;
  noProxy?: string;
  registryAuth?: string;
  acmeDirectory?: string;
  acmeCa?: string;
  staging?: boolean;
  key?: string;
  knownHosts?: string;
  trustNewHost?: boolean;
  fingerprint?: string;
  progressDir?: string;
  json?: boolean;
  yes?: boolean;
  retryFailed?: boolean;
  deep?: boolean;
  set?: string[];
}

export const STACK = ['base', 'containerd', 'cni', 'bridge', 'faasd'] as const;
export const WEB = ['nginx', 'certificate'] as const;

export { UsageError };

const URL_RE = /^https?:\/\/[^\s'"`$;&|<>\\]+$/;

function expandHome(p: string): string {
  return p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : resolve(p);
}

function requireFile(flag: string, p: string | undefined): string | undefined {
  if (p === undefined) return undefined;
  const full = expandHome(p);
  if (!existsSync(full)) throw new UsageError(`${flag} ${p}: no such file`);
  return full;
}

function requireUrl(flag: string, u: string | undefined): string | undefined {
  if (u === undefined) return undefined;
  if (!URL_RE.test(u)) throw new UsageError(`${flag} ${JSON.stringify(u)}: not an http(s) URL`);
  return u.replace(/\/+$/, '');
}

export function passwordFrom(flags: CommonFlags): Secret | undefined {
  if (flags.password !== undefined && flags.passwordFile !== undefined) throw new UsageError('use either -p/--password or --password-file, not both');
  if (flags.password !== undefined) {
    if (flags.password.length < 8) throw new UsageError('-p/--password: at least 8 characters');
    return new Secret(flags.password);
  }
  const file = requireFile('--password-file', flags.passwordFile);
  if (file) {
    const v = readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    if (v.length < 8) throw new UsageError('--password-file: the password must have at least 8 characters');
    return new Secret(v);
  }
  const env = process.env['PANEL_PASSWORD'];
  return env ? new Secret(env) : undefined;
}

/** `--set containerd.version=1.7.27` → params. */
export function paramsFrom(sets: readonly string[] | undefined): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of sets ?? []) {
    const m = /^([a-z][a-z0-9-]*)\.([A-Za-z][A-Za-z0-9_]*)=(.*)$/s.exec(s);
    if (!m) throw new UsageError(`--set ${JSON.stringify(s)}: expected recipe.param=value`);
    const [, recipe, key, raw] = m as unknown as [string, string, string, string];
    let value: unknown = raw;
    if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (/^-?\d+$/.test(raw) && raw.length < 16) value = Number(raw);
    (out[recipe] ??= {})[key] = value;
  }
  return out;
}

export function recipeList(flags: CommonFlags, domains: readonly string[]): string[] {
  if (flags.recipes) {
    const ids = flags.recipes.split(',').map((s) => s.trim()).filter(Boolean);
    if (ids.length === 0) throw new UsageError('--recipes: empty list');
    return ids;
  }
  return domains.length > 0 ? [...STACK, ...WEB] : [...STACK];
}

export function acmeDirectory(flags: CommonFlags): string {
  if (flags.staging && flags.acmeDirectory) throw new UsageError('use either --staging or --acme-directory, not both');
  return requireUrl('--acme-directory', flags.acmeDirectory) ?? (flags.staging ? LETS_ENCRYPT_STAGING : LETS_ENCRYPT);
}

/** HostConfigs for `--host` flags, or the local machine when there are none. */
export function configsFromFlags(flags: CommonFlags, domains: readonly string[], email: string | undefined): HostConfig[] {
  const shared = {
    groups: [] as string[],
    recipes: recipeList(flags, domains),
    params: paramsFrom(flags.set),
    domains,
    ...(email ? { email } : {}),
    ...optionalSecret(passwordFrom(flags)),
    ...opt('mirror', requireUrl('--mirror', flags.mirror)),
    ...opt('checksumsFile', requireFile('--checksums', flags.checksums)),
    ...opt('proxy', requireUrl('--proxy', flags.proxy)),
    ...opt('noProxy', flags.noProxy),
    ...opt('registryAuth', requireFile('--registry-auth', flags.registryAuth)),
    acme: { directory: acmeDirectory(flags), ...opt('caFile', requireFile('--acme-ca', flags.acmeCa)) },
    progressDir: progressDir(flags.progressDir),
  };
  const hosts = flags.host ?? [];
  if (hosts.length === 0) return [{ name: 'local', connection: { kind: 'local' }, ...shared }];
  const keyFile = requireFile('--key', flags.key);
  const knownHosts = flags.knownHosts ? expandHome(flags.knownHosts) : undefined;
  if (flags.fingerprint && !fingerprintSchema.safeParse(flags.fingerprint).success) throw new UsageError(`--fingerprint ${JSON.stringify(flags.fingerprint)}: expected SHA256: and 43 base64 characters`);
  if (flags.fingerprint && hosts.length > 1) throw new UsageError('--fingerprint pins one host key: use it with a single --host (or pin per host in an inventory)');
  const seen = new Set<string>();
  return hosts.map((h) => {
    const spec = parseHostSpec(h);
    if ('error' in spec) throw new UsageError(spec.error);
    const name = hostDisplayName(spec);
    if (seen.has(name)) throw new UsageError(`--host ${h}: given twice`);
    seen.add(name);
    return {
      name,
      connection: {
        kind: 'ssh' as const,
        address: spec.address,
        port: spec.port,
        user: spec.user,
        ...opt('keyFile', keyFile),
        ...opt('knownHosts', knownHosts),
        ...opt('fingerprint', flags.fingerprint),
        trustNewHost: flags.trustNewHost ?? false,
      },
      ...shared,
    };
  });
}

export function progressDir(p: string | undefined): string {
  if (p === undefined) return DEFAULT_PROGRESS_DIR;
  if (!p.startsWith('/') || /[\0\n]/.test(p)) throw new UsageError(`--progress-dir ${JSON.stringify(p)}: must be an absolute path on the host`);
  return p.replace(/\/+$/, '') || '/';
}

function opt<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}

function optionalSecret(s: Secret | undefined): { password?: Secret } {
  return s ? { password: s } : {};
}
