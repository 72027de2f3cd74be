/**
 * The openfaas0 bridge, up with the gateway address, before faasd first
 * starts: faasd-provider listens on 10.62.0.1 and the gateway resolves
 * `faasd-provider` to it, so without the bridge the first start fails with
 * `dial tcp 10.62.0.1:8081: i/o timeout` (seed 001, faasd#113).
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { defineRecipe } from '../src/engine/recipe.js';
import { bridge } from '../src/resources/index.js';
import { OPENFAAS_NET } from '../src/stack/openfaas-net.js';

export { OPENFAAS_NET };

export default defineRecipe({
  id: 'bridge',
  title: 'openfaas0 bridge with 10.62.0.1/16',
  after: ['base'],
  params: z.object({}).strict(),
  resources: () => [bridge({ name: OPENFAAS_NET.bridge, address: OPENFAAS_NET.address })],
  verify: () => [
    {
      name: `${OPENFAAS_NET.bridge} is up with ${OPENFAAS_NET.address}`,
      // A bridge without ports reports state UNKNOWN/DOWN at the carrier level; the admin flag is what matters.
      // One ip: `addr show` prints the link's flags (<…,UP,…>) on its first line, then its addresses.
      script: sh`ip addr show dev ${OPENFAAS_NET.bridge}`,
      expect: new RegExp(`^\\d+: ${OPENFAAS_NET.bridge}: <[^>]*\\bUP\\b[^>]*>[\\s\\S]*\\sinet ${OPENFAAS_NET.address.replace(/\./g, '\\.')}\\s`),
    },
  ],
});
