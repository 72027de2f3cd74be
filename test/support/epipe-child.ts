/**
 * `panel install --json` whose reader leaves early: converge() with a
 * stand-in host (local bash) and a recipe of many changes, stdout guarded
 * as main() guards it. Run as `… | head -3` by cli-output.test.ts.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { converge } from '../../src/cli/converge.js';
import { guardOutput } from '../../src/cli/output.js';
import { defineRecipe, type Recipe } from '../../src/engine/recipe.js';
import type { Change, Resource } from '../../src/resources/types.js';
import { sh } from '../../src/shell.js';
import { BashTransport } from './bash-transport.js';

const work = process.argv[2]!;
guardOutput();

function stamp(i: number): Resource<{ present: boolean }> {
  const path = join(work, `stamp-${i}`);
  return {
    key: `stamp:${i}`,
    facts: () => sh`test -e ${path} && echo present=1 || echo present=0`,
    parse: (out) => ({ present: /present=1/.test(out.stdout) }),
    plan: (f): Change[] => (f.present ? [] : [{ resource: `stamp:${i}`, action: 'create', target: path, reason: 'absent', script: sh`: > ${path}` }]),
  };
}

const registry = new Map<string, Recipe>([
  ['stamps', defineRecipe({ id: 'stamps', title: 'stamps', params: z.object({}), resources: () => Array.from({ length: 200 }, (_, i) => stamp(i)) }) as Recipe],
]);

const code = await converge({
  mode: 'install',
  flags: { json: true, yes: true },
  configs: [{ name: 'h', connection: { kind: 'ssh', address: '192.0.2.1', port: 22, user: 'root' }, groups: [], recipes: ['stamps'], params: {}, domains: [], acme: { directory: 'https://acme.invalid/dir' }, progressDir: join(work, 'progress') }],
  registry,
  connect: async () => new BashTransport('h'),
});
process.stderr.write(`finished with ${code}\n`);
process.exitCode = code;
