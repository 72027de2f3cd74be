/**
 * JSON Schema of fleet.yaml for editors (`panel schema > fleet.schema.json`,
 * then `# yaml-language-server: $schema=./fleet.schema.json` at the top of
 * fleet.yaml). Generated from the zod schema so the two cannot drift.
 */
import { z } from 'zod';
import { inventory } from './schema.js';

export function inventoryJsonSchema(): object {
  // 'input': describe what the user writes (before transforms such as IDN → punycode).
  return z.toJSONSchema(inventory, { io: 'input', unrepresentable: 'any' });
}
