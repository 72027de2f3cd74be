/**
 * Which hosts a command acts on, as HostConfigs: an inventory (with --limit),
 * explicit --host flags, or the local machine. All input errors surface
 * here, before any connection.
 */
import type { HostConfig } from '../config.js';
import type { Recipe } from '../engine/recipe.js';
import type { Mode } from '../engine/events.js';
import { orderRecipes } from '../engine/order.js';
import { formatInventoryError, loadInventory, type CliOverrides } from '../inventory/index.js';
import { domain as domainSchema, email as emailSchema } from '../inventory/schema.js';
import { acmeDirectory, configsFromFlags, paramsFrom, passwordFrom, progressDir, UsageError, type CommonFlags } from './options.js';

function checkedDomains(flags: CommonFlags): string[] {
  const out: string[] = [];
  for (const d of flags.domain ?? []) {
    const r = domainSchema.safeParse(d);
    if (!r.success) throw new UsageError(`-d ${JSON.stringify(d)}: ${r.error.issues[0]?.message ?? 'invalid domain'}`);
    if (!out.includes(r.data)) out.push(r.data);
  }
  return out;
}

function checkedEmail(flags: CommonFlags): string | undefined {
  if (flags.mail === undefined) return undefined;
  const r = emailSchema.safeParse(flags.mail);
  if (!r.success || /[\s'"`$;&|<>\\]/.test(flags.mail)) throw new UsageError(`-m ${JSON.stringify(flags.mail)}: not a valid e-mail address`);
  return r.data;
}

export async function resolveTargets(flags: CommonFlags, registry: ReadonlyMap<string, Recipe>, mode: Mode): Promise<HostConfig[]> {
  const profile = flags.acmeProfile;
  if (profile !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(profile)) throw new UsageError(`--acme-profile ${JSON.stringify(profile)}: a profile name such as tlsserver or shortlived`);
  const configs = (await targets(flags, registry, mode)).map((c) => (profile === undefined ? c : { ...c, acme: { ...c.acme, profile } }));
  for (const c of configs) {
    const order = orderRecipes(c.recipes, registry);
    if (!order.ok) throw new UsageError(`${c.name}: ${order.error}`);
  }
  return configs;
}

async function targets(flags: CommonFlags, registry: ReadonlyMap<string, Recipe>, mode: Mode): Promise<HostConfig[]> {
  const domains = checkedDomains(flags);
  const email = checkedEmail(flags);
  if (flags.inventory === undefined) {
    if (flags.limit) throw new UsageError('--limit selects hosts of an inventory: use it with -i fleet.yaml');
    const configs = configsFromFlags(flags, domains, email);
    if (mode === 'install' && configs.some((c) => c.recipes.includes('certificate')) && !email) {
      throw new UsageError('-m/--mail is required to request certificates (ACME account contact)');
    }
    return configs;
  }
  if (flags.host?.length) throw new UsageError('use either -i/--inventory or --host, not both');
  const password = passwordFrom(flags);
  const overrides: CliOverrides = {
    ...(domains.length ? { domains } : {}),
    ...(email ? { email } : {}),
    ...(password ? { password } : {}),
    ...(flags.mirror ? { mirror: flags.mirror } : {}),
    ...(flags.checksums ? { checksums: flags.checksums } : {}),
    ...(flags.proxy ? { proxy: flags.proxy } : {}),
    ...(flags.noProxy ? { noProxy: flags.noProxy } : {}),
    ...(flags.recipes ? { recipes: flags.recipes.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
    ...(flags.set?.length ? { params: paramsFrom(flags.set) } : {}),
    ...(flags.acmeDirectory || flags.staging ? { acmeDirectory: acmeDirectory(flags) } : {}),
    ...(flags.acmeCa ? { acmeCaFile: flags.acmeCa } : {}),
    ...(flags.progressDir && flags.progressDir !== '/var/lib/panel' ? { progressDir: progressDir(flags.progressDir) } : {}),
    ...(flags.trustNewHost ? { trustNewHost: true } : {}),
    ...(flags.knownHosts ? { knownHosts: flags.knownHosts } : {}),
  };
  const loaded = loadInventory(flags.inventory, overrides, {
    knownRecipes: [...registry.keys()],
    ...(flags.limit ? { limit: flags.limit.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
  });
  if (!loaded.ok) throw new UsageError(loaded.error.map(formatInventoryError).join('\n'));
  return loaded.value;
}
