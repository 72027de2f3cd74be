/**
 * Which hosts a command acts on, as HostConfigs. There is one way in: the
 * flags become the inventory structure fleet.yaml parses to (an inventory of
 * the --host hosts, or of this machine, when there is no -i), the flags that
 * describe hosts become overrides on top of it, and the inventory's schema
 * and resolve produce every HostConfig. All input errors surface here,
 * before any connection.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import type { HostConfig } from '../config.js';
import { orderRecipes } from '../engine/order.js';
import type { Recipe } from '../engine/recipe.js';
import { formatInventoryError, loadInventory, parseSetFlags, resolveInventoryData, type CliOverrides, type LoadOptions } from '../inventory/index.js';
import type { CommonFlags } from './flags.js';
import { hostDisplayName, parseHostSpec } from './host-spec.js';
import { acmeDirectory, defaultRecipes, passwordFrom, recipesFlag, UsageError } from './options.js';
import { readPrivateKey } from '../transport/key-file.js';

/** Where relative paths and `~` point, and which environment to read; tests pass their own. */
export interface InputContext {
  readonly cwd?: string;
  readonly homeDir?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Flags that only mean something for an SSH connection. */
const SSH_ONLY: ReadonlyArray<readonly [keyof CommonFlags, string]> = [
  ['key', '--key'],
  ['knownHosts', '--known-hosts'],
  ['trustNewHost', '--trust-new-host'],
  ['fingerprint', '--fingerprint'],
];

function overridesFrom(flags: CommonFlags, registry: ReadonlyMap<string, Recipe>, env: Readonly<Record<string, string | undefined>>): CliOverrides {
  // --allow-unsupported-os is the base recipe's allowUnsupportedOs parameter: one path with --set.
  const setFlags = [...(flags.set ?? []), ...(flags.allowUnsupportedOs ? ['base.allowUnsupportedOs=true'] : []), ...(flags.openFirewall ? ['certificate.openFirewall=true'] : [])];
  const sets = parseSetFlags(setFlags, paramSchemas(registry));
  if (!sets.ok) throw new UsageError(sets.error.join('\n'));
  const password = passwordFrom(flags, env);
  const recipes = recipesFlag(flags);
  const directory = acmeDirectory(flags);
  const given: Record<string, unknown> = {
    domains: flags.domain,
    email: flags.mail,
    password,
    mirror: flags.mirror,
    checksums: flags.checksums,
    requirePinned: flags.requirePinned ? true : undefined,
    trustArtifacts: flags.trustArtifact?.flatMap((n) => n.split(',')).map((n) => n.trim()),
    proxy: flags.proxy,
    noProxy: flags.noProxy,
    recipes,
    params: setFlags.length ? sets.value : undefined,
    acmeDirectory: directory,
    acmeCaFile: flags.acmeCa,
    acmeProfile: flags.acmeProfile,
    acmeResolver: flags.acmeResolver,
    progressDir: flags.progressDir,
    trustNewHost: flags.trustNewHost ? true : undefined,
    knownHosts: flags.knownHosts,
    key: flags.key,
    registryAuth: flags.registryAuth,
    openfaasLicense: flags.openfaasLicense,
    fingerprint: flags.fingerprint,
  };
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
}

function paramSchemas(registry: ReadonlyMap<string, Recipe>): LoadOptions['recipeParams'] & object {
  return new Map([...registry].map(([id, r]) => [id, r.params]));
}

/** The inventory that `--host` flags (or their absence: this machine) describe. */
function flagInventory(flags: CommonFlags): unknown {
  const defaults = { recipes: defaultRecipes(flags.domain ?? []) };
  const hosts = flags.host ?? [];
  if (hosts.length === 0) {
    for (const [k, flag] of SSH_ONLY) {
      if (flags[k] !== undefined) throw new UsageError(`${flag} is for SSH hosts: name one with --host user@addr (without --host or -i, panel acts on this machine)`);
    }
    return { defaults, hosts: { local: { connection: 'local' } } };
  }
  if (flags.fingerprint !== undefined && hosts.length > 1) throw new UsageError('--fingerprint pins one host key: use it with a single --host (or pin per host in an inventory)');
  const entries: Record<string, { address: string; port: number; user: string }> = {};
  for (const h of hosts) {
    const spec = parseHostSpec(h);
    if ('error' in spec) throw new UsageError(spec.error);
    const name = hostDisplayName(spec);
    if (name in entries) throw new UsageError(`--host ${h}: given twice`);
    entries[name] = { address: spec.address, port: spec.port, user: spec.user };
  }
  return { defaults, hosts: entries };
}

// eslint-disable-next-line @typescript-eslint/require-await -- async so that every refusal (thrown) reaches callers as a rejection, as they expect
export async function resolveTargets(flags: CommonFlags, registry: ReadonlyMap<string, Recipe>, input: InputContext = {}): Promise<HostConfig[]> {
  const env = input.env ?? process.env;
  const overrides = overridesFrom(flags, registry, env);
  const options: LoadOptions = {
    recipeParams: paramSchemas(registry),
    fileExists: existsSync,
    cwd: input.cwd ?? process.cwd(),
    homeDir: input.homeDir ?? homedir(),
    env,
    ...(flags.limit ? { limit: flags.limit.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
  };
  let loaded;
  if (flags.inventory !== undefined) {
    if (flags.host?.length) throw new UsageError('use either -i/--inventory or --host, not both');
    loaded = loadInventory(flags.inventory, overrides, options);
  } else {
    if (flags.limit) throw new UsageError('--limit selects hosts of an inventory: use it with -i fleet.yaml');
    loaded = resolveInventoryData(flagInventory(flags), '', undefined, overrides, options);
  }
  if (!loaded.ok) throw new UsageError(loaded.error.map(formatInventoryError).join('\n'));
  const configs = loaded.value;
  for (const c of configs) {
    const where = flags.inventory !== undefined ? `${c.name}: ` : '';
    // No contact is needed for certificates (-m is optional): Let's Encrypt registers accounts without one.
    const order = orderRecipes(c.recipes, registry);
    if (!order.ok) throw new UsageError(`${where}${order.error}`);
    // A passphrase-protected key is an input error, before any connection: panel never prompts, the agent must hold it.
    if (c.connection.kind === 'ssh' && c.connection.keyFile !== undefined) {
      const key = readPrivateKey(c.connection.keyFile);
      if (!key.ok && key.error.kind === 'passphrase') {
        throw new UsageError(flags.key !== undefined ? `--key ${flags.key}: ${key.error.message}` : `${where}${key.error.message}`);
      }
    }
  }
  return configs;
}
