/**
 * Every recipe panel knows, by id. Dependencies (`after`) are resolved by the
 * engine; the order here is only the order of listings.
 */
import type { Recipe } from '../src/engine/recipe.js';
import base from './base.js';
import bridge from './bridge.js';
import cni from './cni.js';
import containerd from './containerd.js';
import faasd from './faasd.js';
import demo from './demo.js';
import nginx from './nginx.js';
import certificate from './certificate.js';
import codeServer from './code-server.js';
import status from './status.js';

/** The container stack (issue 4). nginx, certificate and demo add themselves below. */
export const stackRecipes: readonly Recipe[] = [base, containerd, cni, bridge, faasd] as readonly Recipe[];

export const recipes: Recipe[] = [...stackRecipes, nginx, certificate, status, codeServer, demo] as Recipe[];

export function recipeById(id: string): Recipe | undefined {
  return recipes.find((r) => r.id === id);
}
