/**
 * `panel renew`: only the certificate recipe, without its dependencies (the
 * nginx site is not re-rendered from whatever flags the renewal was called
 * with) and without timer units.
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
