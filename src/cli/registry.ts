/** The recipe registry, by id. */
import type { Recipe } from '../engine/recipe.js';
import { recipes } from '../../recipes/index.js';

export async function loadRegistry(): Promise<ReadonlyMap<string, Recipe>> {
  return new Map(recipes.map((r) => [r.id, r]));
}
