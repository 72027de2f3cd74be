/** The recipe registry, by id. */
import type { Recipe } from '../engine/recipe.js';
import { recipes } from '../../recipes/index.js';

export function loadRegistry(): Promise<ReadonlyMap<string, Recipe>> {
  return Promise.resolve(new Map(recipes.map((r) => [r.id, r])));
}
