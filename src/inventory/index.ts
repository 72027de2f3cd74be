/**
 * Public surface of the inventory module (what the CLI imports).
 *
 * fleet.yaml in short (examples/fleet.yaml is the annotated version):
 *   defaults: { <settings> }                       every host
 *   groups:   { <name>: { hosts: [..], vars: { <settings> } } }
 *   hosts:    { <name>: { address, fingerprint?, domains?, <settings> } }
 * <settings> = user port key sudo knownHosts email password recipes params
 *              mirror checksums proxy noProxy registryAuth openfaasLicense acme progressDir
 * Host settings sit directly under the host (no `vars:` level), as in an
 * Ansible YAML inventory's host entry; groups keep `vars:` because their
 * other key is the member list. Precedence: defaults → groups in declared
 * order (later wins) → host → CLI flags.
 */
export { inventoryJsonSchema } from './json-schema.js';
export { loadInventory, loadInventoryText, resolveInventoryData } from './load.js';
export { parseSetFlags, type RecipeParams } from './params.js';
export { limitHosts } from './resolve.js';
export type { Inventory } from './schema.js';
export {
  formatInventoryError,
  type CliOverrides,
  type InventoryError,
  type InventoryHost,
  type LoadOptions,
} from './types.js';
