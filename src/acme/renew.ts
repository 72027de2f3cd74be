/**
 * `panel renew`: only the certificate recipe, without its dependencies (the
 * nginx site is not re-rendered from whatever flags the renewal was called
 * with) and without timer units. A renewal is the certificate's ordinary
 * change (plan, events, progress, state record); the site, already on HTTPS,
 * keeps serving and picks the new files up with the reload in the same round
 * trip. A site still on HTTP (its first order failed) is switched by the next
 * `panel install`, the only run that knows the site's routes.
 */
import type { HostConfig } from '../config.js';
import type { Recipe } from '../engine/recipe.js';

export const RENEW_RECIPE = 'certificate';

/** The registry for `panel renew`: the certificate recipe alone, with no `after`. */
export function renewRegistry(registry: ReadonlyMap<string, Recipe>): Map<string, Recipe> {
  const cert = registry.get(RENEW_RECIPE);
  if (!cert) throw new Error(`recipe ${RENEW_RECIPE} is not registered`);
  return new Map([[RENEW_RECIPE, { ...cert, after: [] }]]);
}

/** The host config for `panel renew`: only the certificate recipe, in renew mode. */
export function renewConfig(config: HostConfig): HostConfig {
  return {
    ...config,
    recipes: [RENEW_RECIPE],
    params: { ...config.params, [RENEW_RECIPE]: { ...(config.params[RENEW_RECIPE] ?? {}), renewOnly: true } },
  };
}
