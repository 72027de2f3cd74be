/**
 * Which recipes run, in which order: the asked-for ids plus everything they
 * need (`after`), dependencies first. Pure; errors as values.
 */
import { err, ok, type Result } from '../result.js';
import type { Recipe } from './recipe.js';

/** The recipes in order, or why they cannot be ordered (an unknown id, a cycle). */
export type OrderResult = Result<readonly Recipe[], string>;

export function orderRecipes(asked: readonly string[], registry: ReadonlyMap<string, Recipe>): OrderResult {
  const ordered: Recipe[] = [];
  const state = new Map<string, 'visiting' | 'done'>();

  // The problem, or undefined: local to the walk, which stops at the first one.
  const visit = (id: string, path: readonly string[]): string | undefined => {
    const recipe = registry.get(id);
    if (!recipe) {
      const via = path.length > 0 ? ` (needed by ${path[path.length - 1]})` : '';
      return `unknown recipe "${id}"${via}; known: ${[...registry.keys()].sort().join(', ')}`;
    }
    const s = state.get(id);
    if (s === 'done') return undefined;
    if (s === 'visiting') return `recipe dependency cycle: ${[...path, id].join(' → ')}`;
    state.set(id, 'visiting');
    for (const dep of recipe.after) {
      const problem = visit(dep, [...path, id]);
      if (problem) return problem;
    }
    state.set(id, 'done');
    ordered.push(recipe);
    return undefined;
  };

  for (const id of asked) {
    const problem = visit(id, []);
    if (problem) return err(problem);
  }
  return ok(ordered);
}

/**
 * Which recipes a teardown takes off, in order: the asked-for ones and every
 * recipe that depends on them (it cannot stay without them), dependents
 * first — the install order reversed. Dependencies are NOT added: removing
 * nginx leaves base in place.
 */
export function teardownOrder(asked: readonly string[], registry: ReadonlyMap<string, Recipe>): OrderResult {
  const all = orderRecipes([...registry.keys()], registry);
  if (!all.ok) return all;
  for (const id of asked) {
    if (!registry.has(id)) return orderRecipes([id], registry);
  }
  const out = new Set(asked);
  // Install order lists dependencies first, so one pass collects every dependent.
  for (const r of all.value) if (r.after.some((d) => out.has(d))) out.add(r.id);
  return ok(all.value.filter((r) => out.has(r.id)).reverse());
}
