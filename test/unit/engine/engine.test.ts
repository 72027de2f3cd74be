import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { z } from 'zod';
import type { HostConfig } from '../../../src/config.js';
import { failureTail, parseApply, parseFactBatch, parseVerify } from '../../../src/engine/batch.js';
import type { EngineEvent } from '../../../src/engine/events.js';
import { runFleet } from '../../../src/engine/fleet.js';
import { orderRecipes } from '../../../src/engine/order.js';
import { defineRecipe, type Recipe } from '../../../src/engine/recipe.js';
import type { Change, Check, Resource } from '../../../src/resources/types.js';
import { Secret } from '../../../src/secret.js';
import { service } from '../../../src/resources/index.js';
import { parseHostState } from '../../../src/engine/state.js';
import { createHash } from 'node:crypto';
import { sh } from '../../../src/shell.js';
import { BashTransport } from '../../support/bash-transport.js';
import { tempDir } from '../../support/temp.js';
import { marker as markerIn } from '../../support/marker.js';
import { progressHooks } from '../../../src/report/host-progress.js';

const dir = tempDir('panel-engine-');
after(() => rmSync(dir, { recursive: true, force: true }));

/** The engine tests' marker files live in `dir`. */
function marker(name: string, text: string, fail = false): Resource<{ content: string | undefined }> {
  return markerIn(dir, name, text, fail);
}

function recipe(id: string, resources: () => Resource[], after: string[] = [], checks: Check[] = []): Recipe {
  return defineRecipe({ id, title: id, after, params: z.object({}), resources, verify: () => checks });
}

function config(recipes: string[]): HostConfig {
  return {
    name: 'h1',
    connection: { kind: 'local' },
    groups: [],
    recipes,
    params: {},
    domains: [],
    acme: { directory: 'https://acme.invalid/dir' },
    progressDir: join(dir, 'progress'),
  };
}

async function run(mode: 'install' | 'plan' | 'check', registry: Map<string, Recipe>, recipes: string[]) {
  const events: EngineEvent[] = [];
  const t = new BashTransport('bash-stand-in', { ...process.env, PANEL_STATE: join(dir, 'state') });
  const [result] = await runFleet([config(recipes)], { mode, registry, emit: (e) => events.push(e), concurrency: 1, connect: async () => t, verifyWaitSeconds: 1, hooks: [progressHooks] });
  return { result: result!, events, transport: t };
}

test('orderRecipes puts dependencies first and names unknown ids and cycles', () => {
  const reg = new Map<string, Recipe>([
    ['a', recipe('a', () => [])],
    ['b', recipe('b', () => [], ['a'])],
    ['c', recipe('c', () => [], ['b'])],
    ['x', recipe('x', () => [], ['y'])],
    ['y', recipe('y', () => [], ['x'])],
  ]);
  const ok = orderRecipes(['c', 'a'], reg);
  assert.ok(ok.ok);
  assert.deepEqual(ok.value.map((r) => r.id), ['a', 'b', 'c']);
  const unknown = orderRecipes(['nope'], reg);
  assert.ok(!unknown.ok && /unknown recipe "nope"/.test(unknown.error));
  const cycle = orderRecipes(['x'], reg);
  assert.ok(!cycle.ok && /cycle: x → y → x/.test(cycle.error));
});

test('fact batch parsing rejects truncated output', () => {
  const good = parseFactBatch('@@panel-fact-begin 0\na=1\n@@panel-fact-end 0 0\n@@panel-fact-begin 1\n@@panel-fact-end 1 3\n', 2);
  assert.ok(good.ok);
  assert.deepEqual(good.value[0], { stdout: 'a=1\n', code: 0 });
  assert.deepEqual(good.value[1], { stdout: '', code: 3 });
  assert.equal(parseFactBatch('@@panel-fact-begin 0\na=1\n', 1).ok, false);
});

test('apply parsing finds the failing step and its own stderr', () => {
  const out = parseApply('@@panel-ok 0\n@@panel-fail 1 9\n', 'noise\n@@panel-step 0\nfine\n@@panel-step 1\nboom: disk full\n', 9, 3);
  assert.deepEqual(out.done, [0]);
  assert.deepEqual(out.failed, { index: 1, code: 9, stderrTail: 'boom: disk full' });
});

test('a failed step keeps a unit journal block whole; other output keeps its last 6 lines', () => {
  const journal = Array.from({ length: 20 }, (_, i) => `  Nov 22 nginx[${i}]: line ${i}`).join('\n');
  const stderr = `@@panel-step 0\nearly 1\nearly 2\nearly 3\nJob for nginx.service failed.\nSee "systemctl status nginx.service".\npanel: nginx.service is failed; last lines of its journal (journalctl -u nginx.service -n 20):\n${journal}\n`;
  const out = parseApply('@@panel-fail 0 1\n', stderr, 1, 1);
  const kept = out.failed!.stderrTail.split('\n');
  assert.equal(kept.length, 23);
  assert.equal(kept[0], 'Job for nginx.service failed.');
  assert.equal(kept[22], '  Nov 22 nginx[19]: line 19');
  assert.equal(failureTail('1\n2\n3\n4\n5\n6\n7\n8\n'), '3\n4\n5\n6\n7\n8');
  const v = parseVerify(`@@panel-check-begin 0 3\ninactive\npanel: nginx is inactive; last lines of its journal (journalctl -u nginx -n 20):\n${journal}\n@@panel-check-end 0\n`, [{ name: 'n', script: sh`x` }]);
  assert.match(v[0]!.detail, /^exit 3: inactive\npanel: nginx is inactive; last lines[\s\S]*line 19$/);
});

test('verify parsing needs exit 0 and the expected output', () => {
  const checks = [
    { name: 'a', script: sh`x`, expect: /Server:/ },
    { name: 'b', script: sh`y` },
    { name: 'c', script: sh`z` },
  ];
  const r = parseVerify('@@panel-check-begin 0 0\nClient: 1\n@@panel-check-end 0\n@@panel-check-begin 1 0\n\n@@panel-check-end 1\n@@panel-check-begin 2 3\nnope\n@@panel-check-end 2\n', checks);
  assert.equal(r[0]!.ok, false);
  assert.equal(r[1]!.ok, true);
  assert.equal(r[2]!.ok, false);
  assert.match(r[2]!.detail, /exit 3: nope/);
});

test('install converges, a second install changes nothing, plan changes nothing', async () => {
  const reg = new Map<string, Recipe>([
    ['one', recipe('one', () => [marker('a', 'A'), marker('b', 'B')])],
    ['two', recipe('two', () => [marker('c', 'C')], ['one'], [{ name: 'c written', script: sh`grep -q C ${join(dir, 'c')}` }])],
  ]);
  const planned = await run('plan', reg, ['two']);
  assert.equal(planned.result.status, 'changed');
  assert.equal(planned.result.changed, 3);
  assert.equal(existsSync(join(dir, 'a')), false, 'plan must not write');
  assert.equal(existsSync(join(dir, 'progress')), false, 'plan must not write progress');

  const first = await run('install', reg, ['two']);
  assert.equal(first.result.status, 'changed', first.result.error);
  assert.equal(first.result.changed, 3);
  assert.equal(readFileSync(join(dir, 'c'), 'utf8'), 'C');
  // host info + facts + host lock + one apply per recipe + verify
  assert.equal(first.result.roundTrips, 6);
  const progress = JSON.parse(readFileSync(join(dir, 'progress', 'progress.json'), 'utf8'));
  assert.deepEqual(progress, { code: 0, message: 'success', data: { installType: 'done', progress: 100 } });

  const second = await run('install', reg, ['two']);
  assert.equal(second.result.status, 'ok');
  assert.equal(second.result.changed, 0);
  assert.equal(second.result.roundTrips, 3, 'converged host: info, facts, verify');
  assert.equal(second.events.filter((e) => e.type === 'change').length, 0);

  writeFileSync(join(dir, 'b'), 'drifted');
  const check = await run('check', reg, ['two']);
  assert.equal(check.result.status, 'drift');
  assert.equal(check.result.changed, 1);
  const drift = check.events.find((e) => e.type === 'change');
  assert.ok(drift && drift.type === 'change' && drift.change.summary === `update ${join(dir, 'b')} (content differs)`);
  assert.equal(readFileSync(join(dir, 'b'), 'utf8'), 'drifted', 'check must not repair');
});

test('a failing change names host, recipe, resource, exit code and stderr; later recipes do not run', async () => {
  const reg = new Map<string, Recipe>([
    ['bad', recipe('bad', () => [marker('ok1', '1'), marker('broken', 'x', true)])],
    ['later', recipe('later', () => [marker('never', 'n')], ['bad'])],
  ]);
  const r = await run('install', reg, ['later']);
  assert.equal(r.result.status, 'failed');
  assert.match(r.result.error ?? '', /^h1: bad: marker:broken: create .*broken \(absent\) failed \(exit 7\): disk on fire$/);
  assert.equal(existsSync(join(dir, 'ok1')), true, 'the step before the failure was applied');
  assert.equal(existsSync(join(dir, 'never')), false);
  const err = readFileSync(join(dir, 'progress', 'installErr.log'), 'utf8');
  assert.match(err, /\[bad\]\[progress 0\]\[status 1\]/);
  const progress = JSON.parse(readFileSync(join(dir, 'progress', 'progress.json'), 'utf8'));
  assert.deepEqual(progress, { code: 1, message: 'bad error', data: { installType: 'bad', progress: 0 } });
});

test('a secret never reaches events, errors or progress files', async () => {
  const secret = new Secret('hunter2-very-secret');
  const leaky: Resource<{ x: string }> = {
    key: 'leaky',
    facts: () => sh`echo x=1`,
    parse: () => ({ x: '1' }),
    plan: () => [{ resource: 'leaky', action: 'run', target: 'leaky', reason: 'test', script: sh`echo ${`password is ${secret.reveal()}`} >&2; exit 3` }],
  };
  const reg = new Map<string, Recipe>([['leak', recipe('leak', () => [leaky])]]);
  const r = await run('install', reg, ['leak']);
  const all = JSON.stringify(r.events) + (r.result.error ?? '') + readFileSync(join(dir, 'progress', 'access.log'), 'utf8') + readFileSync(join(dir, 'progress', 'installErr.log'), 'utf8');
  assert.ok(!all.includes('hunter2-very-secret'));
  assert.match(r.result.error ?? '', /password is \*\*\*\*\*\*\*\*/);
});

test('a precheck refusal happens before any change', async () => {
  const refusing = defineRecipe({ id: 'picky', title: 'picky', params: z.object({}), precheck: () => 'unsupported OS CentOS 7', resources: () => [marker('picky', 'p')] });
  const r = await run('install', new Map<string, Recipe>([['picky', refusing]]), ['picky']);
  assert.equal(r.result.status, 'failed');
  assert.equal(r.result.error, 'h1: recipe picky: unsupported OS CentOS 7');
  assert.equal(existsSync(join(dir, 'picky')), false);
});

test('a failing line inside a multi-line change stops that change (errexit really applies)', async () => {
  const path = join(dir, 'errexit-after');
  const multi: Resource<{ done: boolean }> = {
    key: 'multi',
    facts: () => sh`echo x=1`,
    parse: () => ({ done: false }),
    plan: () => [{ resource: 'multi', action: 'run', target: 'multi', reason: 'test', script: sh`false\ntouch ${path}` }],
  };
  const r = await run('install', new Map<string, Recipe>([['multi', recipe('multi', () => [multi])]]), ['multi']);
  assert.equal(r.result.status, 'failed');
  assert.equal(existsSync(path), false, 'the line after the failing one did not run');
});

test('prepare hooks of later recipes run in the first apply round trip', async () => {
  const flag = join(dir, 'pending-flag');
  const prep: Resource<{ x: string }> = {
    key: 'prep',
    facts: () => sh`echo x=1`,
    parse: () => ({ x: '1' }),
    plan: () => [{ resource: 'prep', action: 'restart', target: 'svc', reason: 'test', prepare: sh`touch ${flag}`, script: sh`exit 5` }],
  };
  const reg = new Map<string, Recipe>([
    ['first', recipe('first', () => [marker('first-fails', 'x', true)])],
    ['second', recipe('second', () => [prep], ['first'])],
  ]);
  const r = await run('install', reg, ['second']);
  assert.equal(r.result.status, 'failed');
  assert.equal(existsSync(flag), true, 'the later recipe recorded its pending restart before the first recipe failed');
});

test('typed references: a service reacting to a resource that is not planned, or planned after it, is refused at plan time', async () => {
  const conf = marker('svc.conf', 'x');
  const unlisted = marker('typo.conf', 'y');
  const svc = (on: Resource[]) => service({ name: 'panel-never', enabled: true, running: true, restartOn: on });
  const cases: [string, () => Resource[], RegExp][] = [
    ['unknown', () => [conf, svc([unlisted])], /^h1: recipe web: service:panel-never: restartOn refers to marker:typo\.conf, which is not part of this host's plan$/],
    ['later', () => [svc([conf]), conf], /^h1: recipe web: service:panel-never: restartOn refers to marker:svc\.conf \(recipe web\), which is listed after it; list it before the service$/],
  ];
  for (const [name, resources, want] of cases) {
    const r = await run('plan', new Map<string, Recipe>([['web', recipe('web', resources)]]), ['web']);
    assert.equal(r.result.status, 'failed', name);
    assert.match(r.result.error ?? '', want, name);
    // Refused before the facts round trip: only host info was read.
    assert.equal(r.result.roundTrips, 1, name);
  }
  // A reference to a resource of an earlier recipe is fine.
  const reg = new Map<string, Recipe>([
    ['conf', recipe('conf', () => [conf])],
    ['web', recipe('web', () => [service({ name: 'panel-never', enabled: false, running: false, restartOn: [conf] })], ['conf'])],
  ]);
  const ok = await run('plan', reg, ['web']);
  assert.notEqual(ok.result.status, 'failed', ok.result.error);
});

test('state record: declared records and pending restarts reach state.json at the end of the round trip', async () => {
  const path = join(dir, 'recorded.conf');
  const rec: Resource<{ present: boolean }> = {
    key: `file:${path}`,
    facts: () => sh`[ -e ${path} ] && echo present=1 || echo present=0`,
    parse: (out) => ({ present: out.stdout.includes('present=1') }),
    plan: (f) =>
      f.present
        ? []
        : [
            {
              resource: `file:${path}`,
              action: 'create',
              target: path,
              reason: 'absent',
              prepare: sh`panel_pending_set demo.service restart`,
              records: [{ kind: 'file', path, existed: false }, { kind: 'package', name: 'hello' }, { kind: 'artifact', path: 'x/y/tool', sha256: 'a'.repeat(64), source: 'pinned' }],
              script: sh`printf 'hi\\n' > ${path}`,
            },
          ],
  };
  const r = await run('install', new Map<string, Recipe>([['rec', recipe('rec', () => [rec])]]), ['rec']);
  assert.equal(r.result.status, 'changed', r.result.error);
  const text = readFileSync(join(dir, 'state', 'state.json'), 'utf8');
  const state = parseHostState(text);
  assert.ok(state.ok, state.ok ? '' : state.error);
  const f = state.value.record(path);
  assert.equal(f?.kind, 'file');
  assert.ok(f?.kind === 'file' && f.sha256 === createHash('sha256').update('hi\n').digest('hex') && f.size === 3 && f.recipe === 'rec' && f.existed === false);
  assert.deepEqual(state.value.record('package:hello'), { kind: 'package', recipe: 'rec', resource: `file:${path}`, name: 'hello', existed: false, at: state.value.record('package:hello')?.at });
  assert.equal(state.value.artifact('x/y/tool')?.source, 'pinned');
  assert.equal(state.value.pending('demo.service'), 'restart', 'nothing cleared it');
  // One entry per line, readable by a person and by awk.
  assert.equal(text.split('\n').filter((l) => l.startsWith('    "')).length, 4);
  // The next plan reads it in the facts round trip and finds nothing to do.
  const again = await run('plan', new Map<string, Recipe>([['rec', recipe('rec', () => [rec])]]), ['rec']);
  assert.equal(again.result.changed, 0);
});

test('a warning raised while planning is an event after its recipe starts, once per host, in every mode, and in the result', async () => {
  const warner = (message: string): Resource<null> => ({
    key: `warner:${message}`,
    facts: () => sh`true`,
    parse: () => null,
    plan: (_f, ctx) => {
      ctx.warn?.(message);
      return [];
    },
  });
  // b's resources raise 'held' again (shown once per host) and 'other'.
  const reg = new Map<string, Recipe>([
    ['a', recipe('a', () => [warner('held'), marker('w1', 'x')])],
    ['b', recipe('b', () => [{ ...warner('held'), key: 'warner:held-again' }, warner('other')], ['a'])],
  ]);
  for (const mode of ['plan', 'install', 'check'] as const) {
    const { result, events } = await run(mode, reg, ['b']);
    const seen = events.flatMap((e) => (e.type === 'recipe-start' || e.type === 'warning' ? [e.type === 'warning' ? `${e.recipe}: ${e.message}` : `start ${e.recipe}`] : []));
    assert.deepEqual(seen, ['start a', 'a: held', 'start b', 'b: other'], mode);
    assert.deepEqual(result.warnings, ['held', 'other'], mode);
  }
});
test('a warning raised by precheck comes before its recipe\'s planning warnings, and the host proceeds', async () => {
  const warner: Resource<null> = { key: 'warner', facts: () => sh`true`, parse: () => null, plan: (_f, ctx) => (ctx.warn?.('planned'), []) };
  const lenient = defineRecipe({
    id: 'lenient',
    title: 'lenient',
    params: z.object({}),
    precheck: ({ warn }) => (warn?.('allowed anyway'), undefined),
    resources: () => [warner, marker('lenient', 'l')],
  });
  const { result, events } = await run('install', new Map<string, Recipe>([['lenient', lenient]]), ['lenient']);
  assert.equal(result.status, 'changed');
  assert.deepEqual(events.flatMap((e) => (e.type === 'warning' ? [`${e.recipe}: ${e.message}`] : [])), ['lenient: allowed anyway', 'lenient: planned']);
  assert.deepEqual(result.warnings, ['allowed anyway', 'planned']);
});

/**
 * A change with local work between host steps (the ACME shape): a host step
 * handed to the engine, local work, then a finishing script — plus a follow-up
 * that an EARLIER recipe's resource plans after it.
 */
function localScenario(name: string, opts: { failLocal?: 'before-step' | 'after-step' } = {}) {
  const produced = join(dir, `${name}-produced`);
  const step = join(dir, `${name}-step`);
  const seen: string[] = [];
  const handed: string[] = [];
  const staged: Resource<{ present: boolean }> = {
    key: `staged:${name}`,
    facts: () => sh`if [ -e ${produced} ]; then echo present=1; else echo present=0; fi`,
    parse: (out) => ({ present: /present=1/.test(out.stdout) }),
    plan: (f): Change[] =>
      f.present
        ? []
        : [
            {
              resource: `staged:${name}`,
              action: 'create',
              target: produced,
              reason: 'absent',
              records: [{ kind: 'file', path: produced, existed: false }],
              local: async (host, followUps) => {
                handed.push(...(followUps ?? []).map((c) => `${c.resource}: ${c.candidate?.content ?? 'no candidate'}`));
                if (opts.failLocal === 'before-step') throw new Error('CA unreachable');
                await host.run(sh`echo published > ${step}`);
                // Local work that needs the host step done.
                seen.push(readFileSync(step, 'utf8').trim());
                if (opts.failLocal === 'after-step') throw new Error('validation refused for x.test');
                return sh`echo issued > ${produced}`;
              },
            },
          ],
  };
  const follower: Resource<{ content: string | undefined }> = {
    ...marker(`${name}-site`, 'https'),
    key: `follower:${name}`,
    plan: () => [],
    followUps: (facts, plan) => {
      const issue = plan.find((c) => c.records?.some((r) => r.kind === 'file' && r.path === produced));
      if (!issue || facts.content === 'https') return [];
      return [{ follows: issue, change: { resource: `follower:${name}`, action: 'update', target: join(dir, `${name}-site`), reason: 'switch', candidate: { path: join(dir, `${name}-site`), content: 'https' }, script: sh`test -e ${produced}
printf https > ${join(dir, `${name}-site`)}` } }];
    },
  };
  const reg = new Map<string, Recipe>([
    ['web', recipe('web', () => [marker(`${name}-web`, 'W'), follower])],
    ['cert', recipe('cert', () => [marker(`${name}-before`, 'B'), staged, marker(`${name}-after`, 'C')], ['web'])],
  ]);
  return { reg, seen, handed, produced, step };
}

test('a local change hands host steps to the engine: batched, reported, and followed by a follow-up in its recipe', async () => {
  const { reg, seen, handed, produced } = localScenario('local-ok');
  const planned = await run('plan', reg, ['cert']);
  const plannedCert = planned.events.filter((e) => e.type === 'change' && e.recipe === 'cert').map((e) => (e.type === 'change' ? e.change : undefined)!);
  assert.deepEqual(plannedCert.map((c) => c.resource), ['marker:local-ok-before', 'staged:local-ok', 'follower:local-ok', 'marker:local-ok-after']);
  assert.deepEqual(plannedCert[2]!.after, [`create ${produced} (absent)`]);

  const first = await run('install', reg, ['cert']);
  assert.equal(first.result.status, 'changed', first.result.error);
  assert.deepEqual(seen, ['published'], 'the local work saw its host step done');
  assert.deepEqual(handed, ['follower:local-ok: https'], 'the local work was handed its follow-up (and its candidate) before it ran');
  assert.equal(readFileSync(produced, 'utf8').trim(), 'issued');
  assert.equal(readFileSync(join(dir, 'local-ok-site'), 'utf8'), 'https');
  const applied = first.events.filter((e) => e.type === 'change' && e.status === 'applied').map((e) => (e.type === 'change' ? `${e.recipe}/${e.change.resource}` : ''));
  assert.deepEqual(applied, ['web/marker:local-ok-web', 'cert/marker:local-ok-before', 'cert/staged:local-ok', 'cert/follower:local-ok', 'cert/marker:local-ok-after']);
  // host info + facts + host lock + web apply + (waiting change + host step) + (finish + follow-up + later change) + verify
  assert.equal(first.result.roundTrips, 7);
  // The host step carried the round trip's header (progress for recipe cert).
  const stepScript = first.transport.scripts.find((s) => s.includes('echo published'))!;
  assert.match(stepScript, /cert/);
  assert.match(stepScript, /local-ok-before/);

  const second = await run('install', reg, ['cert']);
  assert.equal(second.result.status, 'ok');
  assert.equal(second.result.roundTrips, 3);
});

test('a local change that fails: earlier changes still applied, the failure names the change', async () => {
  for (const when of ['before-step', 'after-step'] as const) {
    const { reg, produced } = localScenario(`local-${when}`, { failLocal: when });
    const r = await run('install', reg, ['cert']);
    assert.equal(r.result.status, 'failed');
    assert.equal(readFileSync(join(dir, `local-${when}-before`), 'utf8'), 'B', `${when}: the change planned before it was applied`);
    assert.equal(existsSync(produced), false);
    assert.equal(existsSync(join(dir, `local-${when}-site`)), false, 'no follow-up after a failed change');
    assert.match(r.result.error ?? '', when === 'before-step' ? /cert: staged:local-before-step: create .* failed: CA unreachable/ : /validation refused for x\.test/);
    const failed = r.events.filter((e) => e.type === 'change' && e.status === 'failed');
    assert.equal(failed.length, 1);
  }
});

test('a follow-up of a change that is not in the plan is refused at plan time', async () => {
  const ghost: Change = { resource: 'x', action: 'run', target: 'x', reason: 'x', script: sh`true` };
  const bad: Resource<{ x: string }> = {
    key: 'bad-follower',
    facts: () => sh`echo x=1`,
    parse: () => ({ x: '1' }),
    plan: () => [],
    followUps: () => [{ follows: ghost, change: { resource: 'bad-follower', action: 'run', target: 't', reason: 'r', script: sh`true` } }],
  };
  const r = await run('plan', new Map<string, Recipe>([['f', recipe('f', () => [bad])]]), ['f']);
  assert.equal(r.result.status, 'failed');
  assert.match(r.result.error ?? '', /bad-follower: follows a change that is not in the plan/);
});

test('a file a change records has one owner: a file resource for the same path is refused at plan time', async () => {
  const path = join(dir, 'produced-twice');
  const producer: Resource<{ x: string }> = {
    key: 'producer',
    facts: () => sh`echo x=1`,
    parse: () => ({ x: '1' }),
    plan: () => [{ resource: 'producer', action: 'create', target: 'thing', reason: 'absent', records: [{ kind: 'file', path, existed: false }], script: sh`true` }],
  };
  const asFile: Resource<{ x: string }> = { key: `file:${path}`, facts: () => sh`echo x=1`, parse: () => ({ x: '1' }), plan: () => [] };
  const reg = new Map<string, Recipe>([
    ['p', recipe('p', () => [producer])],
    ['f', recipe('f', () => [asFile], ['p'])],
  ]);
  const r = await run('plan', reg, ['f']);
  assert.equal(r.result.status, 'failed');
  assert.match(r.result.error ?? '', /produced-twice is written by producer \(recipe p\) and managed as file:.* by recipe f/);
});

test('Resource.prepare runs on this machine between the facts and the pure plan, with the parsed facts; a failing one is a warning of its recipe', async () => {
  const seen: string[] = [];
  let prepared: string | undefined;
  const preparing: Resource<string> = {
    key: 'preparing',
    facts: () => sh`echo fact-from-host`,
    parse: (out) => out.stdout.trim(),
    prepare: (facts) => {
      seen.push(`prepare ${facts}`);
      prepared = `${facts} prepared`;
      return Promise.resolve([]);
    },
    plan: (facts) => {
      seen.push(`plan ${facts} / ${prepared}`);
      return [];
    },
  };
  const failing: Resource<null> = { key: 'failing', facts: () => sh`true`, parse: () => null, prepare: () => Promise.reject(new Error('the CA is away')), plan: () => [] };
  const reg = new Map<string, Recipe>([['p', recipe('p', () => [preparing, failing])]]);
  const { result } = await run('plan', reg, ['p']);
  assert.deepEqual(seen, ['prepare fact-from-host', 'plan fact-from-host / fact-from-host prepared']);
  assert.deepEqual(result.warnings, ['failing: the CA is away']);
});
