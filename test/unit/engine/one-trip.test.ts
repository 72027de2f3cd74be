/**
 * Planning a host seen before in one round trip (remembered host info), and
 * the checks riding along with the facts. The transport is the bash stand-in
 * (test/support/bash-transport.ts): it runs the engine's real scripts in a
 * local bash, so the combined script and its markers are exercised for real.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { z } from 'zod';
import type { HostConfig } from '../../../src/config.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { runFleet } from '../../../src/engine/fleet.js';
import { MemoryHostInfoCache, sameInfo } from '../../../src/engine/host-info-cache.js';
import { defineRecipe, type Recipe } from '../../../src/engine/recipe.js';
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../../../src/host-info.js';
import { HostInfoStore } from '../../../src/cli/host-info-store.js';
import type { Check } from '../../../src/resources/types.js';
import { progressHooks } from '../../../src/report/host-progress.js';
import { sh } from '../../../src/shell.js';
import { BashTransport } from '../../support/bash-transport.js';
import { tempDir } from '../../support/temp.js';
import { marker } from '../../support/marker.js';

/** One recipe whose desired state depends on the host info (its hostname), with checks. */
function registry(dir: string, checks: (dir: string) => Check[] = () => []): Map<string, Recipe> {
  const r = defineRecipe({
    id: 'named',
    title: 'named',
    after: [],
    params: z.object({}),
    resources: (ctx) => [marker(dir, 'plain', 'P'), marker(dir, 'hostname', `host=${ctx.host.hostname}`)],
    verify: () => checks(dir),
  });
  return new Map([['named', r]]);
}

function config(dir: string): HostConfig {
  return { name: 'h1', connection: { kind: 'local' }, groups: [], recipes: ['named'], params: {}, domains: [], acme: { directory: 'https://acme.invalid/dir' }, progressDir: join(dir, 'progress') };
}

async function run(dir: string, mode: 'install' | 'plan' | 'check', reg: Map<string, Recipe>, cache: MemoryHostInfoCache | HostInfoStore | undefined, hooks = true) {
  const events: EngineEvent[] = [];
  const t = new BashTransport('bash-stand-in', { ...process.env, PANEL_STATE: join(dir, 'state') });
  const [result] = await runFleet([config(dir)], {
    mode,
    registry: reg,
    emit: (e) => events.push(e),
    concurrency: 1,
    connect: async () => t,
    verifyWaitSeconds: 3,
    ...(hooks ? { hooks: [progressHooks] } : {}),
    ...(cache ? { hostInfoCache: cache } : {}),
  });
  return { result: result!, events, transport: t };
}

/** This machine's own host info, as the stand-in transport reports it. */
function realInfo(): HostInfo {
  return parseHostInfo(spawnSync('bash', ['-s'], { input: HOST_INFO_SCRIPT, encoding: 'utf8' }).stdout);
}

const summaries = (events: readonly EngineEvent[]): string[] => events.flatMap((e) => (e.type === 'change' ? [`${e.status} ${e.change.summary}`] : []));

test('a host seen before is planned in one round trip, with the same plan as in two', async () => {
  const dir = tempDir('panel-one-trip-');
  const reg = registry(dir);
  const cache = new MemoryHostInfoCache();
  const cold = await run(dir, 'plan', reg, cache);
  assert.equal(cold.result.roundTrips, 2, 'first time: info, then facts');
  assert.ok(sameInfo(cache.get('h1', 'local')!, realInfo()), 'the info is remembered');
  const warm = await run(dir, 'plan', reg, cache);
  assert.equal(warm.result.roundTrips, 1, 'seen before: info and facts together');
  assert.deepEqual(summaries(warm.events), summaries(cold.events));
  assert.equal(summaries(warm.events).length, 2);
  assert.deepEqual(
    warm.events.filter((e) => e.type === 'host-info'),
    cold.events.filter((e) => e.type === 'host-info'),
  );
  assert.equal(existsSync(join(dir, 'plain')), false, 'plan writes nothing');
});

test('remembered info that differs from the host\'s is not planned with: resources built again, facts gathered again', async () => {
  const dir = tempDir('panel-one-trip-');
  const reg = registry(dir);
  const real = realInfo();
  const cache = new MemoryHostInfoCache();
  cache.set('h1', 'local', { ...real, hostname: 'stale-name' });
  writeFileSync(join(dir, 'plain'), 'P');
  writeFileSync(join(dir, 'hostname'), `host=${real.hostname}`);
  const r = await run(dir, 'plan', reg, cache);
  assert.equal(r.result.status, 'ok', `planned with the host's real hostname, nothing to change: ${summaries(r.events).join('; ')}`);
  assert.equal(r.result.roundTrips, 2, 'the speculative trip, then the facts again');
  assert.match(r.transport.scripts[0]!, /@@panel-info-begin/);
  assert.doesNotMatch(r.transport.scripts[1]!, /@@panel-info-begin/, 'the second trip gathers facts only');
  assert.ok(sameInfo(cache.get('h1', 'local')!, real), 'the cache now holds the real info');
  const info = r.events.find((e) => e.type === 'host-info');
  assert.ok(info && info.type === 'host-info' && info.info.hostname === real.hostname, 'the host-info event carries the real info');
});

test('a no-op install takes one round trip, its progress record ("checked") written in it; a check failing in planning falls back to the waiting verify', async () => {
  const dir = tempDir('panel-one-trip-');
  // Passes from its second run on: fails in planning's no-wait run, passes in the waiting verify.
  const flaky = (d: string): Check[] => [
    { name: 'ready on second look', script: sh`n=$(cat ${join(d, 'looks')} 2>/dev/null || echo 0); echo $((n+1)) > ${join(d, 'looks')}; [ "$n" -ge 1 ]` },
  ];
  const reg = registry(dir, flaky);
  const cache = new MemoryHostInfoCache();
  const first = await run(dir, 'install', reg, cache);
  assert.equal(first.result.status, 'changed', first.result.error);

  // Now converged and the check passes on every look.
  const progressOf = (): { code: number; data: { installType: string; progress: number } } => JSON.parse(readFileSync(join(dir, 'progress', 'progress.json'), 'utf8'));
  assert.equal(progressOf().data.installType, 'done', 'a run with changes ends with "done"');
  const again = await run(dir, 'install', reg, cache);
  assert.equal(again.result.status, 'ok', again.result.error);
  assert.equal(again.result.roundTrips, 1, 'info+facts+checks+progress record together');
  assert.equal(again.events.filter((e) => e.type === 'verify').length, 1, 'each check reported once');
  assert.deepEqual(progressOf(), { code: 0, message: 'success', data: { installType: 'checked', progress: 100 } }, 'checked, nothing to do');
  assert.match(readFileSync(join(dir, 'progress', 'access.log'), 'utf8'), /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\]\[checked\]\[progress 100\]\[status 0\]$/m);
  const bare = await run(dir, 'install', reg, cache, false);
  assert.equal(bare.result.roundTrips, 1, 'without hooks: one round trip');

  // "checked" is written before the verdict: a drifted host gets it in planning, then the run's own records replace it.
  writeFileSync(join(dir, 'plain'), 'drifted');
  const repaired = await run(dir, 'install', reg, cache);
  assert.equal(repaired.result.status, 'changed', repaired.result.error);
  assert.equal(progressOf().data.installType, 'done', 'the run that changed something ends with "done", not "checked"');
  // plan never writes a record.
  const before = readFileSync(join(dir, 'progress', 'progress.json'), 'utf8');
  await run(dir, 'plan', reg, cache);
  assert.equal(readFileSync(join(dir, 'progress', 'progress.json'), 'utf8'), before);

  // Reset the check: it fails on its first look (planning), passes on the next (verify).
  writeFileSync(join(dir, 'looks'), '0');
  const fallback = await run(dir, 'install', reg, cache);
  assert.equal(fallback.result.status, 'ok', fallback.result.error);
  assert.equal(fallback.result.roundTrips, 2, 'info+facts+checks, then the waiting verify');
  assert.equal(progressOf().data.installType, 'done', 'a check failed in planning: no "checked"; the waiting verify ends with "done"');
  const verifies = fallback.events.filter((e) => e.type === 'verify');
  assert.equal(verifies.length, 1, 'the failed early look is not reported');
  assert.ok(verifies[0]!.type === 'verify' && verifies[0]!.ok);
  assert.match(fallback.transport.scripts[1]!, /__deadline=\$\(\( SECONDS \+ 3 \)\)/, 'the fallback verify waits');
  assert.doesNotMatch(fallback.transport.scripts[0]!, /__deadline=/, 'the look in planning does not (no clock, no loop)');
});

test('an install whose checks fail records the failure on the host, not "done"', async () => {
  const dir = tempDir('panel-one-trip-');
  const reg = registry(dir, () => [{ name: 'never passes', script: sh`echo not yet; false` }]);
  const r = await run(dir, 'install', reg, new MemoryHostInfoCache());
  assert.equal(r.result.status, 'failed');
  const progress = JSON.parse(readFileSync(join(dir, 'progress', 'progress.json'), 'utf8'));
  assert.deepEqual(progress, { code: 1, message: 'verify error', data: { installType: 'verify', progress: 100 } });
  assert.match(readFileSync(join(dir, 'progress', 'installErr.log'), 'utf8'), /\[verify\]\[progress 100\]\[status 1\] .*never passes/);
});

test('check takes one round trip on a host seen before and reports drift and failed checks from it', async () => {
  const dir = tempDir('panel-one-trip-');
  const failing = (d: string): Check[] => [{ name: 'plain is P', script: sh`grep -qx P ${join(d, 'plain')}` }];
  const reg = registry(dir, failing);
  const cache = new MemoryHostInfoCache();
  const cold = await run(dir, 'check', reg, cache);
  assert.equal(cold.result.roundTrips, 2, 'info, then facts and checks');
  assert.equal(cold.result.status, 'drift');
  assert.equal(cold.result.failedChecks, 1);
  await run(dir, 'install', reg, cache);
  writeFileSync(join(dir, 'plain'), 'drifted');
  const warm = await run(dir, 'check', reg, cache);
  assert.equal(warm.result.roundTrips, 1);
  assert.equal(warm.result.status, 'drift');
  assert.equal(warm.result.changed, 1);
  assert.equal(warm.result.failedChecks, 1);
  assert.equal(readFileSync(join(dir, 'plain'), 'utf8'), 'drifted', 'check must not repair');
});

test('the file store keeps one entry per host and connection, and ignores a malformed or foreign file', async () => {
  const dir = tempDir('panel-info-store-');
  const store = new HostInfoStore(join(dir, 'host-info'));
  const info = realInfo();
  assert.equal(store.get('h1', 'root@10.0.0.1:22'), undefined);
  store.set('h1', 'root@10.0.0.1:22', info);
  assert.ok(sameInfo(store.get('h1', 'root@10.0.0.1:22')!, info));
  assert.equal(store.get('h1', 'root@10.0.0.2:22'), undefined, 'another address is another host');
  assert.equal(new HostInfoStore(join(dir, 'host-info')).get('h2', 'root@10.0.0.1:22'), undefined);
  // Written by this run, read by the next: a run with the store plans in one round trip.
  const reg = registry(dir);
  await run(dir, 'plan', reg, new HostInfoStore(join(dir, 'host-info')));
  const warm = await run(dir, 'plan', reg, new HostInfoStore(join(dir, 'host-info')));
  assert.equal(warm.result.roundTrips, 1);
  for (const f of readdirSync(join(dir, 'host-info'))) writeFileSync(join(dir, 'host-info', f), '{"key":"h1\\nroot@10.0.0.1:22","info":{"osId":1}}');
  assert.equal(store.get('h1', 'root@10.0.0.1:22'), undefined, 'malformed: no entry');
  const cold = await run(dir, 'plan', reg, new HostInfoStore(join(dir, 'host-info')));
  assert.equal(cold.result.roundTrips, 2);
});

test('files a report hook reads after the run come with the facts, in the same round trip', async () => {
  const dir = tempDir('panel-one-trip-');
  const reg = registry(dir);
  const there = join(dir, "it's there.json");
  writeFileSync(there, '{"page":1}\n');
  const absent = join(dir, 'absent.json');
  let seen: ReadonlyMap<string, Buffer | undefined> | undefined;
  const t = new BashTransport('bash-stand-in', { ...process.env, PANEL_STATE: join(dir, 'state') });
  const [r] = await runFleet([config(dir)], {
    mode: 'plan',
    registry: reg,
    emit: () => undefined,
    concurrency: 1,
    connect: async () => t,
    hooks: [{ reads: () => [there, absent], hostDone: async (plan) => void (seen = plan.reads) }],
  });
  assert.equal(r!.roundTrips, 2, 'info, then facts with the reads: none of their own');
  assert.equal(seen?.get(there)?.toString(), '{"page":1}\n');
  assert.ok(seen?.has(absent) && seen.get(absent) === undefined, 'an absent file is known to be absent');
});

/** A transport for the status page's writer: records each call, reads nothing. */
function recordingTransport(calls: string[]) {
  return {
    name: 'h1',
    stats: { channels: 0, bytesSent: 0, bytesReceived: 0, wireBytesSent: 0, wireBytesReceived: 0 },
    exec: async (s: string) => (calls.push(`exec ${s}`), { code: 0, stdout: '', stderr: '' }),
    get: async (p: string) => void calls.push(`get ${p}`),
    put: async (p: string) => void calls.push(`put ${p}`),
    close: async () => undefined,
  };
}

test('the status page uses what planning read when the run changed nothing, and reads the host itself otherwise', async () => {
  const { writeStatusPage, statusDataPath, statusReads } = await import('../../../src/status/page.js');
  const dir = tempDir('panel-one-trip-');
  const saved = statusDataPath(join(dir, 'progress'));
  const calls: string[] = [];
  const transport = recordingTransport(calls);
  const gets = (): string[] => calls.flatMap((c) => (c.startsWith('get ') ? [c.slice(4)] : []));
  const c = config(dir);
  assert.deepEqual(statusReads(c), [saved], 'no domain: only the saved page data');
  const plan = { config: c, transport, recipes: [], reads: new Map<string, Buffer | undefined>([[saved, undefined]]) };
  const result = { host: 'h1', status: 'ok', ok: 1, changed: 0, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 };
  await writeStatusPage(plan as never, result as never, []);
  assert.deepEqual(gets(), [], 'nothing changed: no read of its own');
  await writeStatusPage(plan as never, { ...result, status: 'changed', changed: 1 } as never, []);
  assert.deepEqual(gets(), [saved], 'something changed: what planning read may be stale');
});

test('a run with nothing to do and nothing new leaves the status page as it is: no round trip; anything new is written', async () => {
  const { writeStatusPage, statusDataPath } = await import('../../../src/status/page.js');
  const dir = tempDir('panel-one-trip-');
  const saved = statusDataPath(join(dir, 'progress'));
  const calls: string[] = [];
  const transport = recordingTransport(calls);
  const { STATUS } = await import('../../../src/status/paths.js');
  // A host with the status page's recipe: the whole page is panel's.
  const page = { host: 'h1', domains: [], recipes: [{ id: STATUS.recipe, title: 'status', version: '—', artifacts: [] }], health: [{ check: 'up', ok: true }], run: { finishedAt: '2026-01-01 00:00:00 UTC', result: 'ok', changed: 0 } };
  const recipes = [{ recipe: { id: STATUS.recipe, title: 'status', params: z.object({}) }, artifacts: [] }];
  const plan = { config: config(dir), transport, recipes, reads: new Map<string, Buffer | undefined>([[saved, Buffer.from(JSON.stringify(page))]]) };
  const result = { host: 'h1', status: 'ok', ok: 1, changed: 0, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 };
  await writeStatusPage(plan as never, result as never, [{ check: 'up', ok: true }]);
  assert.equal(calls.length, 0, 'the same page but for the time: nothing written, nothing read');
  await writeStatusPage(plan as never, result as never, [{ check: 'up', ok: false }]);
  assert.ok(calls.includes(`put ${saved}`), `a check's answer changed: the page is written (${calls.join('; ')})`);
});
