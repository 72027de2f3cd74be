/**
 * Uninstall through the engine's own path (facts → plan → apply), with the
 * real batch scripts run by a local bash stand-in transport: what the state
 * record lists is removed, a pre-existing file comes back from its backup,
 * kept records stay, a second uninstall changes nothing, and the order is
 * dependents first without pulling in dependencies.
 */
import assert from 'node:assert/strict';
import { assertInOrder } from '../../support/order.js';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { z } from 'zod';
import type { HostConfig } from '../../../src/config.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { runFleet } from '../../../src/engine/fleet.js';
import { teardownOrder } from '../../../src/engine/order.js';
import { defineRecipe, type Recipe } from '../../../src/engine/recipe.js';
import { directory, file } from '../../../src/resources/index.js';
import { removal } from '../../../src/resources/removal.js';
import { formatRecap } from '../../../src/report/recap.js';
import { BashTransport } from '../../support/bash-transport.js';
import { recipes as allRecipes } from '../../../recipes/index.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-uninstall-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const me = userInfo();
const own = { owner: me.username, group: String(me.gid) };

const root = join(dir, 'root');
const pre = join(root, 'pre-existing.conf');
const created = join(root, 'sub', 'created.conf');
const secret = join(root, 'keep', 'secret');

const app = defineRecipe({
  id: 'app',
  title: 'test app',
  params: z.object({}),
  resources: () => [
    file({ path: pre, content: 'panel version\n', ...own }),
    directory({ path: join(root, 'sub'), ...own }),
    file({ path: created, content: 'made by panel\n', ...own }),
    directory({ path: join(root, 'keep'), ...own }),
    file({ path: secret, content: 's3cret\n', mode: 0o600, ...own }),
  ],
  teardown: ({ purge }) => [removal({ recipe: 'app', purge, keep: (r) => 'path' in r && r.path.startsWith(join(root, 'keep')) })],
});
const registry = new Map<string, Recipe>([['app', app as Recipe]]);

function config(): HostConfig {
  return { name: 'h1', connection: { kind: 'local' }, groups: [], recipes: ['app'], params: {}, domains: [], acme: { directory: 'https://acme.invalid/dir' }, progressDir: join(dir, 'progress') };
}

async function run(mode: 'install' | 'plan', asked?: { purge: boolean }) {
  const teardown = asked ? { ...asked, packages: asked.purge ? ('purge' as const) : ('keep' as const), force: false, rebuildRecord: false } : undefined;
  const events: EngineEvent[] = [];
  const t = new BashTransport('bash-stand-in', { ...process.env, PANEL_STATE: join(dir, 'state') });
  const [result] = await runFleet([config()], { mode, registry, emit: (e) => events.push(e), concurrency: 1, connect: async () => t, verifyWaitSeconds: 1, ...(teardown ? { teardown } : {}) });
  const changes = events.flatMap((e) => (e.type === 'change' ? [`${e.status} ${e.change.summary}`] : []));
  return { result: result!, changes };
}

test('uninstall removes what panel created, restores what existed, keeps secrets; twice changes nothing; --purge removes the kept', async () => {
  mkdirSync(root, { recursive: true });
  writeFileSync(pre, 'the user wrote this\n');
  const installed = await run('install');
  assert.equal(installed.result.status, 'changed', installed.result.error);
  assert.equal(readFileSync(pre, 'utf8'), 'panel version\n');

  const dry = await run('plan', { purge: false });
  assert.equal(dry.result.status, "changed", dry.result.error);
  assert.ok(dry.changes.some((c) => c.startsWith(`planned update ${pre} (existed before panel: restore its backup)`)), dry.changes.join('\n'));
  assert.ok(existsSync(created), 'a dry run changes nothing');

  const removed = await run('install', { purge: false });
  assert.equal(removed.result.status, 'changed', removed.result.error);
  assert.equal(readFileSync(pre, 'utf8'), 'the user wrote this\n', 'pre-existing file restored byte for byte');
  assert.ok(!existsSync(created) && !existsSync(join(root, 'sub')), `created file and directory removed: ${removed.changes.join('\n')}\n${readFileSync(join(dir, 'state', 'state.json'), 'utf8')}`);
  assert.equal(readFileSync(secret, 'utf8'), 's3cret\n', 'kept without --purge');
  assert.deepEqual(removed.result.kept, [join(root, 'keep')], 'a kept directory stands for what is kept below it');
  assert.match(formatRecap('install', [removed.result]), /h1: kept \(--purge removes them\): /);

  const again = await run('install', { purge: false });
  assert.equal(again.result.status, 'ok', again.changes.join('\n'));
  assert.deepEqual(again.changes, []);

  const purged = await run('install', { purge: true });
  assert.equal(purged.result.status, 'changed', purged.result.error);
  assert.ok(!existsSync(secret) && !existsSync(join(root, 'keep')));
  assert.equal((await run('install', { purge: true })).result.status, 'ok');
  assert.equal(readFileSync(pre, 'utf8'), 'the user wrote this\n');
});

test('a file the user changed after panel wrote it is never deleted: left in place, with --purge moved to kept/; a changed pre-existing file keeps its backup', async () => {
  rmSync(join(dir, 'state'), { recursive: true, force: true });
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(pre, 'the user wrote this\n');
  assert.equal((await run('install')).result.status, 'changed');
  writeFileSync(created, 'made by panel, then edited by the user\n');
  writeFileSync(pre, 'panel version, then edited by the user\n');

  const dry = await run('plan', { purge: false });
  const notes = dry.result.notes ?? [];
  assert.ok(notes.some((n) => n.startsWith(`${created}: changed since panel wrote it: left in place`)), notes.join('\n'));
  assert.ok(notes.some((n) => n.startsWith(`${pre}: changed since panel wrote it: left as it is; the version from before panel stays in `)), notes.join('\n'));
  assert.match(formatRecap('plan', [dry.result]), new RegExp(`h1: ${created.replace(/[.]/g, '\\.')}: changed since panel wrote it`));

  const kept = await run('install', { purge: false });
  assert.equal(kept.result.status, 'changed', kept.result.error);
  assert.equal(readFileSync(created, 'utf8'), 'made by panel, then edited by the user\n', 'changed file left where it is');
  assert.equal(readFileSync(pre, 'utf8'), 'panel version, then edited by the user\n', "the user's current file stays, not the backup");
  const state = readFileSync(join(dir, 'state', 'state.json'), 'utf8');
  const backup = /"backup":"([^"]+)"/.exec(state.split('\n').find((l) => l.includes(JSON.stringify(pre))) ?? '')?.[1];
  assert.ok(backup && existsSync(backup), `the record still points at the backup: ${state}`);
  assert.equal(readFileSync(backup, 'utf8'), 'the user wrote this\n');
  assert.deepEqual((await run('install', { purge: false })).changes, [], 'twice: nothing to change');

  const purged = await run('install', { purge: true });
  assert.equal(purged.result.status, 'changed', purged.result.error);
  assert.ok(!existsSync(created), 'moved away with --purge');
  assert.equal(readFileSync(join(dir, 'state', 'kept', created), 'utf8'), 'made by panel, then edited by the user\n', 'moved to kept/, not deleted');
  assert.ok((purged.result.notes ?? []).some((n) => n === `${created}: changed since panel wrote it: moved to /var/lib/panel/kept${created}`), (purged.result.notes ?? []).join('\n'));
  assert.equal(readFileSync(pre, 'utf8'), 'panel version, then edited by the user\n');
});

test('teardown order: dependents first, dependencies not added; unknown recipes named', () => {
  const reg = new Map(allRecipes.map((r) => [r.id, r]));
  const nginx = teardownOrder(['nginx'], reg);
  assert.ok(nginx.ok);
  // The web IDE and the status page are served by nginx: they go with it.
  assert.deepEqual(nginx.value.map((r) => r.id).filter((id) => id !== 'demo'), ['code-server', 'status', 'certificate', 'nginx']);
  const stack = teardownOrder(['base', 'containerd', 'cni', 'bridge', 'faasd'], reg);
  assert.ok(stack.ok);
  const ids = stack.value.map((r) => r.id);
  assertInOrder(ids, ['faasd', 'containerd', 'base']);
  assert.equal(ids[ids.length - 1], 'base');
  const bad = teardownOrder(['nope'], reg);
  assert.ok(!bad.ok && /unknown recipe "nope"/.test(bad.error));
});
