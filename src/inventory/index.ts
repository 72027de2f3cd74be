/** Public surface of the inventory module (what the CLI imports). */
export { inventoryJsonSchema } from './json-schema.js';
export { loadInventory, loadInventoryText } from './load.js';
export { limitHosts } from './resolve.js';
export type { Inventory } from './schema.js';
export {
  formatInventoryError,
  type CliOverrides,
  type InventoryError,
  type InventoryHost,
  type LoadOptions,
  type Result,
} from './types.js';
