/**
 * Certificates of remote hosts are renewed from the machine running panel
 * (the ACME account key is here), by `panel renew` on a schedule. Let's
 * Encrypt sends no expiry mail any more, so an install that leaves no such
 * schedule ends by saying so, with the exact command; `install
 * --schedule-renewal` puts it in place in the same run.
 */
import type { HostConfig } from '../config.js';
import type { Recipe } from '../engine/recipe.js';
import { orderRecipes } from '../engine/order.js';
import { type Env, installSchedule, renewArgsOfInstall, scheduleCommand, scheduleDoneMessage, scheduleInPlace, scheduleOf } from '../acme/schedule.js';
import { RENEW_RECIPE } from '../acme/renew.js';

export interface RenewalRequest {
  /** The install's own arguments (after `install`). */
  readonly installArgs: readonly string[];
  /** `--schedule-renewal`: install the schedule now. */
  readonly schedule: boolean;
}

/** Hosts whose certificate only a schedule on this machine renews: over SSH, with domains, the certificate recipe in the run. */
export function renewedFromHere(configs: readonly HostConfig[], registry: ReadonlyMap<string, Recipe>): string[] {
  return configs
    .filter((c) => c.connection.kind === 'ssh' && c.domains.length > 0)
    .filter((c) => {
      const order = orderRecipes(c.recipes, registry);
      return order.ok ? order.value.some((r) => r.id === RENEW_RECIPE) : c.recipes.includes(RENEW_RECIPE);
    })
    .map((c) => c.name);
}

/** What to print once the install is done: the schedule installed, a warning with the command, or nothing. */
export function afterInstall(req: RenewalRequest, hosts: readonly string[], cwd: string, env?: Env): string | undefined {
  if (hosts.length === 0) return undefined;
  const args = renewArgsOfInstall(req.installArgs);
  const s = scheduleOf(args, cwd);
  if (req.schedule) return scheduleDoneMessage(installSchedule(s, env));
  if (scheduleInPlace(s, env)) return undefined;
  const which = hosts.length === 1 ? `the certificate of ${hosts[0]!} is` : `the certificates of ${hosts.join(', ')} are`;
  return (
    `panel: warning: ${which} renewed only from this machine, and no schedule here does it (the CA sends no expiry mail). Schedule it:\n` +
    `  ${scheduleCommand(args)}\n` +
    `(or add --schedule-renewal to the install)\n`
  );
}
