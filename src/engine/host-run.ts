/**
 * Converging one host, in two phases so that a caller can show the plan and
 * ask before applying exactly that plan:
 *   planHost   – host info (1 round trip), facts of every resource (1 round
 *                trip), pure planning. Changes nothing on the host.
 *   finishHost – plan: report; check: verify (1 round trip); install: apply
 *                each recipe's changes (1 round trip per recipe with changes),
 *                then verify everything (1 round trip).
 */
import type { HostConfig } from '../config.js';
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../host-info.js';
import type { Change, Check, PlanContext, Resource } from '../resources/types.js';
import { publicChange, summary } from '../resources/types.js';
import { redact } from '../secret.js';
import type { Transport } from '../transport/types.js';
import { applyScript, factBatchScript, hookScript, parseApply, parseFactBatch, parseVerify, recordsScript, tail, verifyScript } from './batch.js';
import type { Emit, HostResult, Mode } from './events.js';
import { contributions, type HostHooks } from './hooks.js';
import { extractState, type HostState, parseHostState } from './state.js';
import { orderRecipes, type OrderResult } from './order.js';
import { removal } from '../resources/removal.js';
import type { Recipe, RecipeContext } from './recipe.js';

export interface HostRunOptions {
  readonly mode: Mode;
  readonly registry: ReadonlyMap<string, Recipe>;
  readonly emit: Emit;
  /** Stop between atomic steps when aborted (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Ignore the host's stat cache and rehash every file (`check --deep`). */
  readonly deep?: boolean;
  /** How long post-conditions may take to become true after apply. */
  readonly verifyWaitSeconds?: number;
  /** Shell contributions of report sinks (progress.json on the host, …). */
  readonly hooks?: readonly HostHooks[];
  /**
   * Take the host's recipes off instead of converging them (`panel
   * uninstall`): each recipe's `teardown`, dependents before what they
   * depend on. `mode` still says plan (dry run) or install (apply).
   */
  readonly teardown?: { readonly purge: boolean };
}

interface RecipePlan {
  readonly recipe: Recipe;
  readonly resources: readonly Resource[];
  readonly changes: readonly Change[];
  readonly checks: readonly Check[];
}

export interface HostPlan {
  /** A teardown plan (uninstall). */
  readonly teardown: boolean;
  /** What the teardown leaves on the host on purpose (kept without --purge, pre-existing). */
  readonly kept: readonly string[];
  readonly config: HostConfig;
  readonly transport: Transport;
  readonly info: HostInfo;
  /** The host state record as the facts round trip read it. */
  readonly state: HostState;
  readonly recipes: readonly RecipePlan[];
  readonly startedAt: number;
  readonly channelsAtStart: number;
}

export type PlanOutcome = { readonly ok: true; readonly plan: HostPlan } | { readonly ok: false; readonly result: HostResult };

/** A failure before or during planning: nothing was changed on the host. */
export function failedResult(host: string, error: string, startedAt: number, roundTrips = 0, status: 'failed' | 'interrupted' = 'failed'): HostResult {
  return {
    host,
    status,
    ok: 0,
    changed: 0,
    failed: status === 'failed' ? 1 : 0,
    failedChecks: 0,
    rebootRequired: false,
    durationMs: Date.now() - startedAt,
    error: redact(error),
    roundTrips,
  };
}

export async function planHost(config: HostConfig, transport: Transport, opts: HostRunOptions): Promise<PlanOutcome> {
  const startedAt = Date.now();
  const channelsAtStart = transport.stats.channels;
  const host = config.name;
  const fail = (error: string): PlanOutcome => ({
    ok: false,
    result: failedResult(host, `${host}: ${error}`, startedAt, transport.stats.channels - channelsAtStart),
  });

  const teardown = opts.teardown;
  const order = teardown ? teardownOrder(config.recipes, opts.registry) : orderRecipes(config.recipes, opts.registry);
  if (!order.ok) return fail(order.error);
  opts.emit({ type: 'host-start', host, recipes: order.recipes.map((r) => r.id) });

  const infoRun = await transport.exec(HOST_INFO_SCRIPT);
  if (infoRun.code !== 0) return fail(`could not read host facts (exit ${infoRun.code}): ${tail(infoRun.stderr)}`);
  const info = parseHostInfo(infoRun.stdout);
  opts.emit({ type: 'host-info', host, info });

  // Build every recipe's desired state; refusals happen here, before any change.
  const built: { recipe: Recipe; resources: readonly Resource[]; checks: readonly Check[] }[] = [];
  const owner = new Map<string, string>();
  for (const recipe of order.recipes) {
    const parsed = recipe.params.safeParse(config.params[recipe.id] ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
      return fail(`recipe ${recipe.id}: invalid parameters: ${issues}`);
    }
    const ctx: RecipeContext<unknown> = { params: parsed.data, host: info, config };
    // A teardown needs no install inputs (domains, e-mail, artifacts): no precheck.
    const refusal = teardown ? undefined : recipe.precheck?.(ctx);
    if (refusal) return fail(`recipe ${recipe.id}: ${refusal}`);
    let resources: readonly Resource[];
    let checks: readonly Check[];
    try {
      if (teardown) {
        resources = recipe.teardown?.({ ...ctx, purge: teardown.purge }) ?? [removal({ recipe: recipe.id, purge: teardown.purge })];
        checks = [];
      } else {
        resources = recipe.resources(ctx);
        checks = recipe.verify?.(ctx) ?? [];
      }
    } catch (e) {
      return fail(`recipe ${recipe.id}: ${(e as Error).message}`);
    }
    for (const r of resources) {
      const prev = owner.get(r.key);
      if (prev) return fail(`resource ${r.key} is declared by both recipe ${prev} and recipe ${recipe.id}`);
      owner.set(r.key, recipe.id);
    }
    built.push({ recipe, resources, checks });
  }

  const refusal = referenceProblem(built);
  if (refusal) return fail(refusal);

  if (opts.signal?.aborted) return { ok: false, result: failedResult(host, `${host}: interrupted before planning`, startedAt, 0, 'interrupted') };

  const all = built.flatMap((b) => b.resources);
  const factRun = await transport.exec(factBatchScript(all.map((r) => r.facts()), opts.deep ?? false));
  const outputs = parseFactBatch(factRun.stdout, all.length);
  if (typeof outputs === 'string') {
    return fail(`gathering facts failed (exit ${factRun.code}): ${outputs}${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  }
  const stateText = extractState(factRun.stdout);
  if (stateText === undefined) return fail(`gathering facts failed (exit ${factRun.code}): no state record section${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  const state = parseHostState(stateText);
  if (!state.ok) return fail(state.error);

  const planned: Change[] = [];
  const kept: string[] = [];
  const ctx: PlanContext = { planned, state: state.value, ...(teardown ? { keep: (what: string) => void kept.push(what) } : {}) };
  const recipes: RecipePlan[] = [];
  let i = 0;
  for (const b of built) {
    const changes: Change[] = [];
    for (const r of b.resources) {
      const out = outputs[i++]!;
      try {
        const facts = r.parse(out);
        const cs = r.plan(facts, ctx);
        changes.push(...cs);
        planned.push(...cs);
      } catch (e) {
        return fail(`recipe ${b.recipe.id}: ${r.key}: ${(e as Error).message}`);
      }
    }
    // Events name the recipe; the title says it is being taken off.
    const recipe = teardown ? { ...b.recipe, title: `remove: ${b.recipe.title}` } : b.recipe;
    recipes.push({ recipe, resources: b.resources, changes, checks: b.checks });
  }
  return { ok: true, plan: { teardown: teardown !== undefined, kept, config, transport, info, state: state.value, recipes, startedAt, channelsAtStart } };
}

/**
 * Which recipes a teardown takes off, in order: the asked-for ones and every
 * recipe that depends on them (it cannot stay without them), dependents
 * first — the install order reversed. Dependencies are NOT added: removing
 * nginx leaves base in place.
 */
export function teardownOrder(asked: readonly string[], registry: ReadonlyMap<string, Recipe>): OrderResult {
  const all = orderRecipes([...registry.keys()], registry);
  if (!all.ok) return all;
  for (const id of asked) {
    if (!registry.has(id)) return orderRecipes([id], registry);
  }
  const out = new Set(asked);
  // Install order lists dependencies first, so one pass collects every dependent.
  for (const r of all.recipes) if (r.after.some((d) => out.has(d))) out.add(r.id);
  return { ok: true, recipes: all.recipes.filter((r) => out.has(r.id)).reverse() };
}

/**
 * A resource may only react to resources planned before it (planning sees
 * earlier changes only): a reference to an unknown or later resource would be
 * a restart that silently never happens, so the plan is refused.
 */
function referenceProblem(built: readonly { recipe: Recipe; resources: readonly Resource[] }[]): string | undefined {
  const position = new Map<string, { index: number; recipe: string }>();
  let index = 0;
  for (const b of built) for (const r of b.resources) position.set(r.key, { index: index++, recipe: b.recipe.id });
  index = 0;
  for (const b of built) {
    for (const r of b.resources) {
      const here = index++;
      for (const ref of r.references ?? []) {
        const at = position.get(ref.key);
        if (at === undefined) {
          return `recipe ${b.recipe.id}: ${r.key}: ${ref.field} refers to ${ref.key}, which is not part of this host's plan`;
        }
        if (at.index >= here) {
          return `recipe ${b.recipe.id}: ${r.key}: ${ref.field} refers to ${ref.key} (recipe ${at.recipe}), which is listed ${at.index === here ? 'as the same resource' : 'after it'}; list it before the service`;
        }
      }
    }
  }
  return undefined;
}

export async function finishHost(plan: HostPlan, opts: HostRunOptions): Promise<HostResult> {
  const { config, transport } = plan;
  const host = config.name;
  const emit = opts.emit;
  const resourceCount = plan.recipes.reduce((n, r) => n + r.resources.length, 0);
  const changeCount = plan.recipes.reduce((n, r) => n + r.changes.length, 0);
  const changedResources = new Set(plan.recipes.flatMap((r) => r.changes.map((c) => c.resource))).size;
  const roundTrips = (): number => transport.stats.channels - plan.channelsAtStart;
  /** What apply steps could not free (panel_reboot_required). */
  const rebootPaths: string[] = [];
  const result = (over: Partial<HostResult> & Pick<HostResult, 'status'>): HostResult => {
    const r: HostResult = {
      host,
      ok: resourceCount - changedResources,
      changed: 0,
      failed: 0,
      failedChecks: 0,
      rebootRequired: false,
      durationMs: Date.now() - plan.startedAt,
      roundTrips: roundTrips(),
      ...(plan.kept.length > 0 ? { kept: outermost(plan.kept) } : {}),
      ...over,
    };
    const paths = [...rebootPaths, ...(r.rebootRequired ? [OS_REBOOT_REQUIRED] : [])];
    return paths.length > 0 ? { ...r, rebootRequired: true, rebootPaths: [...new Set(paths)] } : r;
  };

  if (opts.mode === 'plan') {
    for (const rp of plan.recipes) {
      emit({ type: 'recipe-start', host, recipe: rp.recipe.id, title: rp.recipe.title });
      for (const c of rp.changes) emit({ type: 'change', host, recipe: rp.recipe.id, status: 'planned', change: publicChange(c) });
      emit({ type: 'recipe-end', host, recipe: rp.recipe.id, status: rp.changes.length ? 'changed' : 'ok', changes: rp.changes.length });
    }
    return result({ status: changeCount ? 'changed' : 'ok', changed: changeCount });
  }

  if (opts.mode === 'check') {
    const verified = await runVerify(plan, 0, emit, undefined);
    for (const rp of plan.recipes) {
      emit({ type: 'recipe-start', host, recipe: rp.recipe.id, title: rp.recipe.title });
      for (const c of rp.changes) emit({ type: 'change', host, recipe: rp.recipe.id, status: 'planned', change: publicChange(c) });
      const bad = verified.failedBy.get(rp.recipe.id) ?? 0;
      emit({ type: 'recipe-end', host, recipe: rp.recipe.id, status: rp.changes.length || bad ? 'changed' : 'ok', changes: rp.changes.length });
    }
    const drift = changeCount + verified.failed;
    return result({ status: drift ? 'drift' : 'ok', changed: changeCount, failedChecks: verified.failed, rebootRequired: verified.rebootRequired, ...(verified.error ? { error: verified.error } : {}) });
  }

  // install
  let applied = 0;
  const n = plan.recipes.length;
  // Every prepare hook of the host (e.g. pending restarts in the state record) runs in the
  // first apply round trip, so a run cut between a config write in one recipe
  // and the restart in a later one still restarts next time.
  let prepares = plan.recipes.flatMap((r) => r.changes.flatMap((c) => (c.prepare ? [c.prepare] : []))).join('\n');
  for (const [index, rp] of plan.recipes.entries()) {
    const recipeId = rp.recipe.id;
    if (opts.signal?.aborted) {
      return result({ status: 'interrupted', changed: applied, error: `${host}: interrupted before recipe ${recipeId}` });
    }
    emit({ type: 'recipe-start', host, recipe: recipeId, title: rp.recipe.title });
    if (rp.changes.length === 0) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'ok', changes: 0 });
      continue;
    }
    const point = { config, recipe: recipeId, index, total: n, changes: rp.changes.length };
    const header = prepares + '\n' + contributions(opts.hooks, (h) => h.recipeApply, point);
    prepares = '';
    const failure = await applyRecipe(
      rp,
      transport,
      header,
      (c) => {
        applied++;
        emit({ type: 'change', host, recipe: recipeId, status: 'applied', change: publicChange(c) });
      },
      (path) => rebootPaths.push(path),
    );
    if (failure) {
      emit({ type: 'change', host, recipe: recipeId, status: 'failed', change: publicChange(failure.change) });
      const error = redact(`${host}: ${recipeId}: ${failure.change.resource}: ${summary(failure.change)} failed${failure.code !== undefined ? ` (exit ${failure.code})` : ''}: ${failure.message}`);
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'failed', changes: applied, error });
      const onFailure = contributions(opts.hooks, (h) => h.recipeFailed, { ...point, error });
      if (onFailure !== '') await transport.exec(hookScript(onFailure)).catch(() => undefined);
      return result({ status: 'failed', changed: applied, failed: 1, error });
    }
    emit({ type: 'recipe-end', host, recipe: recipeId, status: 'changed', changes: rp.changes.length });
  }

  const done = contributions(opts.hooks, (h) => h.installDone, { config });
  const verified = await runVerify(plan, opts.verifyWaitSeconds ?? 30, emit, done);
  if (verified.failed > 0) {
    return result({ status: 'failed', changed: applied, failed: 1, failedChecks: verified.failed, rebootRequired: verified.rebootRequired, error: verified.error ?? `${host}: verification failed` });
  }
  return result({ status: applied ? 'changed' : 'ok', changed: applied, rebootRequired: verified.rebootRequired });
}

const OS_REBOOT_REQUIRED = '/var/run/reboot-required';

/** Kept paths for the report: a directory stands for everything kept below it. */
function outermost(kept: readonly string[]): string[] {
  const all = [...new Set(kept)];
  return all.filter((k) => !all.some((o) => o !== k && k.startsWith(`${o}/`)));
}

interface ApplyFailure {
  readonly change: Change;
  readonly code?: number;
  readonly message: string;
}

/** Shell changes go in as few round trips as possible; a local effect splits the run. */
async function applyRecipe(rp: RecipePlan, transport: Transport, header: string, onApplied: (c: Change) => void, onReboot: (path: string) => void): Promise<ApplyFailure | undefined> {
  let batch: (Change & { script: string })[] = [];
  let first = true;
  const flush = async (): Promise<ApplyFailure | undefined> => {
    if (batch.length === 0) return undefined;
    const run = batch;
    batch = [];
    const res = await transport.exec(applyScript(run, first ? header : '', rp.recipe.id));
    first = false;
    for (const m of res.stdout.matchAll(/^@@panel-reboot-required (.+)$/gm)) onReboot(m[1]!);
    const outcome = parseApply(res.stdout, res.stderr, res.code, run.length);
    for (const i of outcome.done) onApplied(run[i]!);
    if (outcome.failed) {
      const change = run[outcome.failed.index]!;
      return { change, code: outcome.failed.code, message: outcome.failed.stderrTail || 'no error output' };
    }
    return undefined;
  };
  for (const c of rp.changes) {
    if (c.local) {
      const f = await flush();
      if (f) return f;
      try {
        await c.local(transport);
      } catch (e) {
        return { change: c, message: (e as Error).message };
      }
      const records = recordsScript(c, rp.recipe.id);
      if (records !== undefined) {
        const res = await transport.exec(records);
        if (res.code !== 0) return { change: c, code: res.code, message: `recording it in the host state failed: ${tail(res.stderr)}` };
      }
      onApplied(c);
    } else {
      batch.push(c as Change & { script: string });
    }
  }
  return flush();
}

interface VerifyOutcome {
  readonly failed: number;
  readonly failedBy: ReadonlyMap<string, number>;
  readonly rebootRequired: boolean;
  readonly error?: string;
}

async function runVerify(plan: HostPlan, waitSeconds: number, emit: Emit, trailer: string | undefined): Promise<VerifyOutcome> {
  const host = plan.config.name;
  const owned = plan.recipes.flatMap((rp) => rp.checks.map((check) => ({ recipe: rp.recipe.id, check })));
  const checks = owned.map((o) => o.check);
  const script =
    verifyScript(checks, waitSeconds) +
    `[ -e /var/run/reboot-required ] && echo @@panel-reboot-required\n` +
    (trailer ? trailer + '\n' : '') +
    'true\n';
  const res = await plan.transport.exec(script);
  const outcomes = parseVerify(res.stdout, checks);
  const failedBy = new Map<string, number>();
  const lines: string[] = [];
  outcomes.forEach((o, i) => {
    const { recipe, check } = owned[i]!;
    emit({ type: 'verify', host, recipe, check: check.name, ok: o.ok, ...(o.ok ? {} : { detail: redact(o.detail) }) });
    if (!o.ok) {
      failedBy.set(recipe, (failedBy.get(recipe) ?? 0) + 1);
      lines.push(`${host}: ${recipe}: verify "${check.name}" failed: ${redact(o.detail)}`);
    }
  });
  const failed = outcomes.filter((o) => !o.ok).length;
  return {
    failed,
    failedBy,
    rebootRequired: res.stdout.includes('@@panel-reboot-required'),
    ...(lines.length ? { error: lines.join('\n') } : {}),
  };
}
