/**
 * JSON Schema of fleet.yaml for editors (`panel schema > fleet.schema.json`,
 * then `# yaml-language-server: $schema=./fleet.schema.json` at the top of
 * fleet.yaml). Generated from the zod schema so the two cannot drift.
 */
import { z } from 'zod';
import { inventory, RECIPE_ID_DESCRIPTION } from './schema.js';

/** Adds `enum` to every recipe-id node, so editors complete the registry's ids. */
function withRecipeEnum(node: unknown, ids: readonly string[]): void {
  if (Array.isArray(node)) {
    for (const n of node) withRecipeEnum(n, ids);
  } else if (typeof node === 'object' && node !== null) {
    const rec = node as Record<string, unknown>;
    if (rec['description'] === RECIPE_ID_DESCRIPTION) rec['enum'] = [...ids];
    for (const v of Object.values(rec)) withRecipeEnum(v, ids);
  }
}

/** `knownRecipes`: the registry's ids (the CLI passes them); without it any slug validates. */
export function inventoryJsonSchema(knownRecipes?: readonly string[]): object {
  // 'input': describe what the user writes (before transforms such as IDN → punycode).
  const schema = z.toJSONSchema(inventory, { io: 'input', unrepresentable: 'any' });
  if (knownRecipes !== undefined && knownRecipes.length > 0) withRecipeEnum(schema, knownRecipes);
  return schema;
}
