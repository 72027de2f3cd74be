/**
 * Fleet fan-out and the last-run record without hosts: runFleet with
 * injected transports (a local bash stand-in, or a connect that fails), and
 * .panel/last-run.json round trips.
 */
import { sh } from '../../src/shell.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { z } from 'zod';
import { failedLastTime, lastRunPath, saveLastRun } from '../../src/cli/last-run.js';
import type { HostConfig } from '../../src/config.js';
import type { EngineEvent, HostResult } from '../../src/engine/events.js';
import { pool, runFleet } from '../../src/engine/fleet.js';
import { defineRecipe, type Recipe } from '../../src/engine/recipe.js';
import type { Change, Resource } from '../../src/resources/types.js';
import { TransportError, type ExecResult, type Session, type Transport } from '../../src/transport/types.js';
import { BashTransport } from '../support/bash-transport.js';
import { tempDir } from '../support/temp.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-cli-fleet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** One file per host, written by a change that takes `ms` so hosts overlap in time. */
function marker(host: string, ms: number): Resource<{ present: boolean }> {
  const path = join(dir, `${host}.marker`);
  return {
    key: `marker:${host}`,
    facts: () => sh`test -e ${path} && echo present=1 || echo present=0`,
    parse: (out) => ({ present: /present=1/.test(out.stdout) }),
    plan: (facts): Change[] =>
      facts.present
        ? []
        : [{ resource: `marker:${host}`, action: 'create', target: path, reason: 'absent', script: sh`: > ${path}.started; sleep ${ms / 1000}; : > ${path}` }],
  };
}

const registry = new Map<string, Recipe>([
  [
    'm',
    defineRecipe({
      id: 'm',
      title: 'marker',
      params: z.object({ ms: z.number().default(0) }),
      resources: ({ config, params }) => [marker(config.name, params.ms)],
    }) as Recipe,
  ],
]);

function config(name: string, ms = 0): HostConfig {
  return {
    name,
    connection: { kind: 'ssh', address: '192.0.2.1', port: 22, user: 'root' },
    groups: [],
    recipes: ['m'],
    params: { m: { ms } },
    domains: [],
    acme: { directory: 'https://acme.invalid/dir' },
    progressDir: join(dir, 'progress', name),
  };
}

function fresh(): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}

test('a host that cannot connect fails alone, named by its inventory name; the others converge; recap in input order', async () => {
  fresh();
  const events: EngineEvent[] = [];
  const connect = async (c: HostConfig): Promise<Transport> => {
    if (c.name === 'b') throw new Error('root@192.0.2.1:22: connection refused (is sshd running?)');
    return new BashTransport(c.name);
  };
  const results = await runFleet(['a', 'b', 'c'].map((n) => config(n)), { mode: 'install', registry, emit: (e) => events.push(e), concurrency: 10, connect, verifyWaitSeconds: 1 });
  assert.deepEqual(results.map((r) => [r.host, r.status]), [['a', 'changed'], ['b', 'failed'], ['c', 'changed']]);
  assert.equal(results[1]!.error, 'b: root@192.0.2.1:22: connection refused (is sshd running?)');
  const recap = events.at(-1);
  assert.equal(recap?.type, 'recap');
  assert.deepEqual(recap?.type === 'recap' ? recap.hosts.map((h) => h.host) : [], ['a', 'b', 'c']);
  assert.ok(events.slice(0, -1).every((e) => 'host' in e), 'every event but the recap names its host');
});

test('an error that already starts with the host name is not prefixed twice', async () => {
  fresh();
  const [r] = await runFleet([config('root@192.0.2.1:22')], {
    mode: 'install',
    registry,
    emit: () => undefined,
    concurrency: 1,
    connect: async () => {
      throw new Error('root@192.0.2.1:22: host key not known');
    },
  });
  assert.equal(r!.error, 'root@192.0.2.1:22: host key not known');
});

test('at most `concurrency` hosts are in flight', async () => {
  fresh();
  let open = 0;
  let peak = 0;
  const connect = async (c: HostConfig): Promise<Transport> => {
    open++;
    peak = Math.max(peak, open);
    const t = new BashTransport(c.name);
    const close = t.close.bind(t);
    t.close = async () => {
      open--;
      await close();
    };
    return t;
  };
  const results = await runFleet(['a', 'b', 'c', 'd', 'e'].map((n) => config(n, 150)), { mode: 'install', registry, emit: () => undefined, concurrency: 2, connect, verifyWaitSeconds: 1 });
  assert.ok(results.every((r) => r.status === 'changed'));
  assert.equal(peak, 2);
  assert.equal(open, 0, 'every connection closed');
});

test('abort (Ctrl-C): hosts in flight finish their step, hosts not started are interrupted, with a reason', async () => {
  fresh();
  const controller = new AbortController();
  const events: EngineEvent[] = [];
  const emit = (e: EngineEvent): void => {
    events.push(e);
    // Abort while the first host's only step runs: once the step has begun on the host
    // (its .started file), not after a fixed delay a loaded machine may not honour.
    if (e.type === 'recipe-start' && e.host === 'a') abortOnceExists(join(dir, 'a.marker.started'), controller);
  };
  const results = await runFleet(['a', 'b', 'c', 'd'].map((n) => config(n, 1500)), {
    mode: 'install',
    registry,
    emit,
    signal: controller.signal,
    concurrency: 1,
    connect: async (c) => new BashTransport(c.name),
    verifyWaitSeconds: 1,
  });
  assert.deepEqual(results.map((r) => r.status), ['changed', 'interrupted', 'interrupted', 'interrupted']);
  assert.match(results[1]!.error ?? '', /^b: interrupted/);
  assert.equal(results[1]!.failed, 0, 'interrupted is not counted as failed');
  // The host in flight finished its step; the others were never touched.
  const applied = events.flatMap((e) => (e.type === 'change' && e.status === 'applied' ? [e.host] : []));
  assert.deepEqual(applied, ['a']);
  assert.ok(existsSync(join(dir, 'a.marker')) && !existsSync(join(dir, 'b.marker')));
});

/** Aborts as soon as `path` exists: a step has begun on the host. */
function abortOnceExists(path: string, controller: AbortController): void {
  const poll = setInterval(() => {
    if (controller.signal.aborted) clearInterval(poll);
    else if (existsSync(path)) {
      clearInterval(poll);
      controller.abort();
    }
  }, 10);
  // A run that ends without the step (a failed assertion) must not keep the test process alive.
  poll.unref();
}

/** Two steps on one host: `first` sleeps `ms` then writes its file, `second` writes its own. */
function twoSteps(ms: number): Map<string, Recipe> {
  const step = (name: string, sleep: number): Resource<{ present: boolean }> => {
    const path = join(dir, name);
    return {
      key: `step:${name}`,
      facts: () => sh`test -e ${path} && echo present=1 || echo present=0`,
      parse: (out) => ({ present: /present=1/.test(out.stdout) }),
      plan: (facts): Change[] => (facts.present ? [] : [{ resource: `step:${name}`, action: 'create', target: path, reason: 'absent', script: sh`: > ${path}.started; sleep ${sleep / 1000}; : > ${path}` }]),
    };
  };
  return new Map<string, Recipe>([['m', defineRecipe({ id: 'm', title: 'two steps', params: z.object({}), resources: () => [step('first', ms), step('second', 0)] }) as Recipe]]);
}

test('Ctrl-C inside a recipe: the running step finishes, the next one does not start, the host is interrupted after that step', async () => {
  fresh();
  const controller = new AbortController();
  const events: EngineEvent[] = [];
  const emit = (e: EngineEvent): void => {
    events.push(e);
    // One recipe, one round trip: the abort can only be seen inside it, once the first step runs.
    if (e.type === 'recipe-start') abortOnceExists(join(dir, 'first.started'), controller);
  };
  const [r] = await runFleet([config('a')], { mode: 'install', registry: twoSteps(1500), emit, signal: controller.signal, concurrency: 1, connect: async (c) => new BashTransport(c.name), verifyWaitSeconds: 1 });
  assert.equal(r!.status, 'interrupted', r!.error);
  assert.equal(r!.changed, 1);
  assert.equal(r!.error, `a: interrupted in recipe m after create ${join(dir, 'first')} (absent) (not started: create ${join(dir, 'second')} (absent))`);
  assert.ok(existsSync(join(dir, 'first')), 'the running step finished');
  assert.ok(!existsSync(join(dir, 'second')), 'the next step never started');
});

test('two applying runs on one host: the second waits for the lock, says who holds it, plans again and changes nothing', async () => {
  fresh();
  const runDir = tempDir('panel-lock-');
  const host = (): BashTransport => new BashTransport('a', { ...process.env, PANEL_RUN_DIR: runDir });
  const reg = twoSteps(1500);
  const firstEvents: EngineEvent[] = [];
  const secondEvents: EngineEvent[] = [];
  const first = runFleet([config('a')], { mode: 'install', registry: reg, emit: (e) => firstEvents.push(e), concurrency: 1, connect: async () => host(), verifyWaitSeconds: 1, lockHolder: 'panel install (the first run)' });
  // The second run starts once the first one holds the lock and is applying.
  while (!firstEvents.some((e) => e.type === 'recipe-start')) await new Promise((res) => setTimeout(res, 20));
  const second = runFleet([config('a')], { mode: 'install', registry: reg, emit: (e) => secondEvents.push(e), concurrency: 1, connect: async () => host(), verifyWaitSeconds: 1, lockHolder: 'panel renew (the second run)' });
  const [r1, r2] = await Promise.all([first, second]);
  assert.equal(r1![0]!.status, 'changed', r1![0]!.error);
  assert.equal(r1![0]!.changed, 2);
  const waits = secondEvents.filter((e) => e.type === 'lock-wait');
  assert.deepEqual(waits, [{ type: 'lock-wait', host: 'a', holder: 'panel install (the first run)', waitSeconds: 600 }]);
  // Planned before the first run finished, planned again after the wait: nothing left to do.
  assert.equal(r2![0]!.status, 'ok', r2![0]!.error);
  assert.equal(secondEvents.filter((e) => e.type === 'change' && e.status === 'applied').length, 0);
});

/** A host whose lock is asked for (`asked` called: planning is over) but only taken once `gate` opens. */
class LateLock extends BashTransport {
  constructor(
    env: NodeJS.ProcessEnv,
    private readonly asked: () => void,
    private readonly gate: Promise<unknown>,
  ) {
    super('a', env);
  }
  override async session(script: string, onLine: (line: string) => void): Promise<Session> {
    this.asked();
    await this.gate;
    return super.session(script, onLine);
  }
}

test('a run that planned before another run applied (and let go) plans again, without having waited', async () => {
  fresh();
  const runDir = tempDir('panel-lock-');
  const env = { ...process.env, PANEL_RUN_DIR: runDir };
  const reg = twoSteps(0);
  let planned!: () => void;
  const secondPlanned = new Promise<void>((r) => (planned = r));
  const secondEvents: EngineEvent[] = [];
  let firstDone!: (v: unknown) => void;
  const gate = new Promise((r) => (firstDone = r));
  const second = runFleet([config('a')], {
    mode: 'install',
    registry: reg,
    emit: (e) => secondEvents.push(e),
    concurrency: 1,
    connect: async () => new LateLock(env, planned, gate),
    verifyWaitSeconds: 1,
  });
  await secondPlanned;
  const [r1] = await runFleet([config('a')], { mode: 'install', registry: reg, emit: () => undefined, concurrency: 1, connect: async () => new BashTransport('a', env), verifyWaitSeconds: 1 });
  assert.equal(r1!.changed, 2, r1!.error);
  firstDone(undefined);
  const [r2] = await second;
  assert.deepEqual(secondEvents.filter((e) => e.type === 'lock-wait'), [], 'it never waited');
  assert.equal(r2!.status, 'ok', r2!.error);
  assert.equal(secondEvents.filter((e) => e.type === 'change' && e.status === 'applied').length, 0, 'the stale plan was not applied');
});

test('an approved plan that another run made stale is not applied: the host is left as that run left it, with one line saying to review again', async () => {
  fresh();
  const runDir = tempDir('panel-lock-');
  const env = { ...process.env, PANEL_RUN_DIR: runDir };
  let planned!: () => void;
  const secondPlanned = new Promise<void>((r) => (planned = r));
  let firstDone!: (v: unknown) => void;
  const gate = new Promise((r) => (firstDone = r));
  const approved: string[] = [];
  const second = runFleet([config('a')], {
    mode: 'install',
    registry: twoSteps(0),
    emit: () => undefined,
    concurrency: 1,
    connect: async () => new LateLock(env, planned, gate),
    verifyWaitSeconds: 1,
    confirm: async (plans) => {
      approved.push(...plans.flatMap((p) => p.recipes.flatMap((r) => r.changes.map((c) => c.target))));
      return true;
    },
  });
  await secondPlanned;
  // Another run applies part of what was approved (only the first step).
  const [whole] = twoSteps(0).values();
  const firstOnly = new Map<string, Recipe>([['m', { ...whole!, resources: (ctx) => whole!.resources(ctx).slice(0, 1) }]]);
  const [r1] = await runFleet([config('a')], { mode: 'install', registry: firstOnly, emit: () => undefined, concurrency: 1, connect: async () => new BashTransport('a', env), verifyWaitSeconds: 1 });
  assert.equal(r1!.changed, 1, r1!.error);
  firstDone(undefined);
  const [r2] = await second;
  assert.equal(approved.length, 2);
  assert.equal(r2!.status, 'interrupted', r2!.error);
  assert.match(r2!.error ?? '', /^a: another panel run changed the host after you approved this plan, and the plan is no longer the same: nothing applied; run again to review the new plan$/);
  assert.ok(!existsSync(join(dir, 'second')), 'nothing of the stale approved plan was applied');
});

test('a run that cannot get the lock in --lock-wait seconds fails with one line naming the holder, and changes nothing', async () => {
  fresh();
  const runDir = tempDir('panel-lock-');
  const host = (): BashTransport => new BashTransport('a', { ...process.env, PANEL_RUN_DIR: runDir });
  const reg = twoSteps(3000);
  const firstEvents: EngineEvent[] = [];
  const first = runFleet([config('a')], { mode: 'install', registry: reg, emit: (e) => firstEvents.push(e), concurrency: 1, connect: async () => host(), verifyWaitSeconds: 1, lockHolder: 'panel install (pid 1, me@here)' });
  while (!firstEvents.some((e) => e.type === 'recipe-start')) await new Promise((res) => setTimeout(res, 20));
  const [r2] = await runFleet([config('a')], { mode: 'install', registry: reg, emit: () => undefined, concurrency: 1, connect: async () => host(), verifyWaitSeconds: 1, lockWaitSeconds: 1 });
  assert.equal(r2!.status, 'failed');
  assert.equal(r2!.error, 'a: another panel run holds the host lock (panel install (pid 1, me@here)); gave up after 1 s (--lock-wait)');
  assert.ok(!existsSync(join(dir, 'second')), 'the waiting run applied nothing');
  const [r1] = await first;
  assert.equal(r1!.status, 'changed', r1!.error);
});

/** The connection "goes away" while step `at` of an apply runs: only the output before its result comes back. */
class CutDuringStep extends BashTransport {
  constructor(private readonly at: number) {
    super('a');
  }
  override async exec(script: string): Promise<ExecResult> {
    const r = await super.exec(script);
    if (!script.startsWith('export PANEL_MODE=apply')) return r;
    const cutOut = r.stdout.indexOf(`@@panel-ok ${this.at}`);
    const cutErr = r.stderr.indexOf(`@@panel-step ${this.at + 1}`);
    throw new TransportError('a', 'root@192.0.2.1:22: connection lost (Keepalive timeout)', {
      stdout: cutOut < 0 ? r.stdout : r.stdout.slice(0, cutOut),
      stderr: cutErr < 0 ? r.stderr : r.stderr.slice(0, cutErr),
    });
  }
}

test('a connection lost during apply names the step it hit and what was done before it', async () => {
  fresh();
  const events: EngineEvent[] = [];
  const [r] = await runFleet([config('a')], { mode: 'install', registry: twoSteps(0), emit: (e) => events.push(e), concurrency: 1, connect: async () => new CutDuringStep(1), verifyWaitSeconds: 1 });
  assert.equal(r!.status, 'failed');
  assert.equal(
    r!.error,
    `a: connection lost during m: step:second: create ${join(dir, 'second')} (absent) (its outcome on the host is unknown; root@192.0.2.1:22: connection lost (Keepalive timeout)); done before it: create ${join(dir, 'first')} (absent); the next run picks up from the host as it is`,
  );
  // The step whose result came back is reported applied; the one the cut hit is reported failed.
  const changes = events.flatMap((e) => (e.type === 'change' ? [`${e.status} ${e.change.resource}`] : []));
  assert.deepEqual(changes, ['applied step:first', 'failed step:second']);
});

test('pool keeps input order and runs everything once', async () => {
  const seen: number[] = [];
  const out = await pool([5, 1, 4, 2, 3], 2, async (n) => {
    await new Promise((r) => setTimeout(r, n * 5));
    seen.push(n);
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5]);
});

function hostResult(host: string, status: HostResult['status']): HostResult {
  return { host, status, ok: 0, changed: 0, failed: status === 'failed' ? 1 : 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 0 };
}

test('last run: failed and interrupted hosts are the ones to retry; missing or corrupt records are clear errors', () => {
  const cwd = tempDir('panel-last-run-');
  try {
    const none = failedLastTime(cwd);
    assert.ok(!Array.isArray(none) && /no previous run recorded/.test(none.error));

    saveLastRun({ mode: 'install', finishedAt: '2025-01-01T00:00:00Z', hosts: [hostResult('a', 'changed'), hostResult('b', 'failed'), hostResult('c', 'ok'), hostResult('d', 'interrupted')] }, cwd);
    assert.deepEqual(failedLastTime(cwd), ['b', 'd']);

    saveLastRun({ mode: 'install', finishedAt: '2025-01-01T00:01:00Z', hosts: [hostResult('b', 'changed'), hostResult('d', 'ok')] }, cwd);
    assert.deepEqual(failedLastTime(cwd), [], 'a successful retry leaves nothing to retry');

    writeFileSync(lastRunPath(cwd), '{ not json');
    const bad = failedLastTime(cwd);
    assert.ok(!Array.isArray(bad) && /not valid JSON/.test(bad.error));
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
