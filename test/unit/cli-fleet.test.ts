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
import { quote } from '../../src/shell.js';
import type { Transport } from '../../src/transport/types.js';
import { BashTransport } from '../support/bash-transport.js';

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
        : [{ resource: `marker:${host}`, action: 'create', target: path, reason: 'absent', script: sh`sleep ${ms / 1000}; : > ${path}` }],
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

test('abort (Ctrl-C): hosts in flight finish their apply, hosts not started are interrupted, with a reason', async () => {
  fresh();
  const controller = new AbortController();
  const events: EngineEvent[] = [];
  const emit = (e: EngineEvent): void => {
    events.push(e);
    // Abort as soon as the first host starts applying: it is mid-apply now.
    if (e.type === 'recipe-start' && !controller.signal.aborted) controller.abort();
  };
  const results = await runFleet(['a', 'b', 'c', 'd'].map((n) => config(n, 300)), {
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
  const cwd = mkdtempSync(join(tmpdir(), 'panel-last-run-'));
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
