/**
 * Converging one host, in two phases so that a caller can show the plan and
 * ask before applying exactly that plan:
 *   planHost   – host info, facts of every resource, pure planning, then
 *                follow-ups (changes that must come right after a later
 *                resource's change). Changes nothing on the host. On a host
 *                seen before (host info remembered, ./host-info-cache.ts):
 *                ONE round trip carrying info, facts and, for check and
 *                install, every check run once without waiting; a second
 *                (facts again) only when the info changed. Otherwise two:
 *                info, then facts (with the checks for `check`).
 *   finishHost – plan: report; check: the checks' answer from planning;
 *                install: apply each recipe's changes (1 round trip per
 *                recipe with changes, plus one per host step a local effect
 *                hands over), then verify everything (1 round trip, waiting
 *                for post-conditions). With nothing to change and every
 *                check passed in planning, no verify round trip: only the
 *                hooks' end-of-install shell (1 round trip, when a hook has any).
 *
 * Local effects (work on this machine, e.g. an ACME order) never get the
 * transport: they hand host scripts to the engine (`HostSteps.run`), which
 * sends them in its batch, so they share the prepare header, progress, change
 * events and failure reporting of every other change.
 */
import type { HostConfig } from '../config.js';
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../host-info.js';
import type { Change, Check, FollowUp, HostSteps, PlanContext, Resource, TeardownMode } from '../resources/types.js';
import { publicChange, summary } from '../resources/types.js';
import { redact } from '../secret.js';
import { type Script, sh } from '../shell.js';
import { TransportError, type ExecResult, type Transport } from '../transport/types.js';
import { changedSumRefusal, ReleaseSums, TrustedSums, type ResolvedArtifact } from '../artifacts/index.js';
import { declaredArtifacts, resolveHostArtifacts } from './artifacts.js';
import { applyProgress, applyScript, factBatchScript, hookScript, parseApply, parseFactBatch, parseVerify, tail, verifyScript } from './batch.js';
import type { Emit, EngineEvent, HostResult, Mode } from './events.js';
import { connectionId, type HostInfoCache, sameInfo } from './host-info-cache.js';
import { checksSection, extractInfo, extractReads, infoSection, readsSection, REBOOT_MARKER } from './one-trip.js';
import { contributions, type HostHooks } from './hooks.js';
import { extractState, type HostState, readHostState } from './state.js';
import { orderRecipes, type OrderResult } from './order.js';
import { removal } from '../resources/removal.js';
import { recordRebuild } from './record-rebuild.js';
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
  /** Release checksum assets fetched in this run (shared by the fleet); a fresh one when absent. */
  readonly releaseSums?: ReleaseSums;
  /** Sums recorded on first use (--trust-artifact), shared by the fleet; the default record when absent. */
  readonly trustedSums?: TrustedSums;
  /**
   * Host info of earlier runs: with an entry, planning takes one round trip
   * (info, facts and, for check and install, the checks together); without,
   * two (info, then facts).
   */
  readonly hostInfoCache?: HostInfoCache;
  /** Shell contributions of report sinks (progress.json on the host, …). */
  readonly hooks?: readonly HostHooks[];
  /**
   * Take the host's recipes off instead of converging them (`panel
   * uninstall`): each recipe's `teardown`, dependents before what they
   * depend on. `mode` still says plan (dry run) or install (apply).
   */
  readonly teardown?: TeardownMode;
}

interface RecipePlan {
  readonly recipe: Recipe;
  readonly resources: readonly Resource[];
  readonly changes: readonly Change[];
  readonly checks: readonly Check[];
  /** Raised by this recipe's resources while planning. */
  readonly warnings: readonly string[];
  /** The release artifacts the recipe declared, resolved for this host (URL, sum and its source). */
  readonly artifacts: readonly ResolvedArtifact[];
}

export interface HostPlan {
  /** A teardown plan (uninstall). */
  readonly teardown: boolean;
  /** What the teardown leaves on the host on purpose (kept without --purge, pre-existing). */
  readonly kept: readonly string[];
  /** Teardown: everything left or moved aside, and why (`what: why`). */
  readonly notes: readonly string[];
  readonly config: HostConfig;
  readonly transport: Transport;
  readonly info: HostInfo;
  /** The host state record as the facts round trip read it. */
  readonly state: HostState;
  readonly recipes: readonly RecipePlan[];
  readonly startedAt: number;
  readonly channelsAtStart: number;
  /** The checks' answer from the facts round trip (run once, no waiting), when they rode along. */
  readonly early?: EarlyVerify;
  /** The files report hooks asked for (`HostHooks.reads`), as planning read them; undefined: not there. */
  readonly reads?: ReadonlyMap<string, Buffer | undefined>;
}

/** What the checks said in the facts round trip: verify mode's markers, parsed like a verify round trip's. */
interface EarlyVerify {
  readonly stdout: string;
  /** The hooks' `checked` record rode along (written on the host if every check exited 0). */
  readonly checkedRecord?: boolean;
}

interface BuiltRecipe {
  readonly recipe: Recipe;
  readonly resources: readonly Resource[];
  readonly checks: readonly Check[];
  readonly warnings: string[];
  readonly artifacts: readonly ResolvedArtifact[];
}

/** Every recipe built for one host info, before any fact is known. */
interface Built {
  readonly info: HostInfo;
  readonly recipes: readonly BuiltRecipe[];
  readonly owner: ReadonlyMap<string, string>;
  readonly resolved: readonly { recipe: string; artifact: ResolvedArtifact }[];
  /** The artifact events, emitted once the info is confirmed. */
  readonly events: readonly EngineEvent[];
  readonly seen: Set<string>;
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

  // Warnings of precheck and planning, per recipe; one message is shown once per host.
  let seen = new Set<string>();
  let warnings: string[] = [];
  const warn = (message: string): void => {
    if (seen.has(message)) return;
    seen.add(message);
    warnings.push(redact(message));
  };
  const sums = opts.releaseSums ?? new ReleaseSums();
  const trusted = opts.trustedSums ?? new TrustedSums();

  /**
   * Every recipe's desired state for this host info; refusals happen here,
   * before any change. Events wait in `events` until the info is confirmed.
   */
  const build = async (info: HostInfo): Promise<Built | string> => {
    seen = new Set<string>();
    const events: EngineEvent[] = [];
    const recipes: BuiltRecipe[] = [];
    const owner = new Map<string, string>();
    const resolved: { recipe: string; artifact: ResolvedArtifact }[] = [];
    for (const recipe of order.recipes) {
      const parsed = recipe.params.safeParse(config.params[recipe.id] ?? {});
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
        return `recipe ${recipe.id}: invalid parameters: ${issues}`;
      }
      // A teardown needs no install inputs (domains, e-mail, artifacts): no artifacts, no precheck.
      let ctx: RecipeContext<unknown> = { params: parsed.data, host: info, config };
      if (!teardown) {
        const artifacts = await resolveHostArtifacts(declaredArtifacts(recipe, parsed.data), info, config, sums, transport, trusted);
        if (!artifacts.ok) return `recipe ${recipe.id}: ${artifacts.error}`;
        for (const a of artifacts.value.all) {
          resolved.push({ recipe: recipe.id, artifact: a });
          events.push({
            type: 'artifact',
            host,
            recipe: recipe.id,
            artifact: { name: a.name, version: a.version, arch: a.arch, url: a.url, path: a.relPath, sha256: a.sha256, source: a.sumFrom, ...(a.sumUrl ? { sumUrl: a.sumUrl } : {}) },
          });
        }
        ctx = { ...ctx, artifacts: artifacts.value };
      }
      warnings = [];
      const refusal = teardown ? undefined : recipe.precheck?.({ ...ctx, warn });
      if (refusal) return `recipe ${recipe.id}: ${refusal}`;
      let resources: readonly Resource[];
      let checks: readonly Check[];
      try {
        if (teardown) {
          const own = recipe.teardown?.({ ...ctx, purge: teardown.purge }) ?? [removal({ recipe: recipe.id, purge: teardown.purge })];
          // A damaged record is rebuilt first, in the first recipe taken off, so every removal after it is recorded into a valid file.
          resources = teardown.rebuildRecord && recipes.length === 0 ? [recordRebuild(), ...own] : own;
          checks = [];
        } else {
          resources = recipe.resources(ctx);
          checks = recipe.verify?.(ctx) ?? [];
        }
      } catch (e) {
        return `recipe ${recipe.id}: ${(e as Error).message}`;
      }
      for (const r of resources) {
        const prev = owner.get(r.key);
        if (prev) return `resource ${r.key} is declared by both recipe ${prev} and recipe ${recipe.id}`;
        owner.set(r.key, recipe.id);
      }
      recipes.push({ recipe, resources, checks, warnings, artifacts: ctx.artifacts?.all ?? [] });
    }
    const refusal = referenceProblem(recipes);
    if (refusal) return refusal;
    return { info, recipes, owner, resolved, events, seen };
  };

  const deep = opts.deep ?? false;
  // Files the report hooks read after the run, read now with the facts.
  const reads = [...new Set((opts.hooks ?? []).flatMap((h) => h.reads?.(config) ?? []))];
  const readsPart = reads.length > 0 ? readsSection(reads) : '';
  const interrupted = (): PlanOutcome => ({ ok: false, result: failedResult(host, `${host}: interrupted before planning`, startedAt, 0, 'interrupted') });
  // The checks ride along only where their answer can be used: check always,
  // install when nothing is to change (a host seen before is likely converged).
  const checksAlong = !teardown && opts.mode !== 'plan';

  let gathered: { built: Built; factRun: ExecResult; early?: EarlyVerify } | undefined;
  let info: HostInfo | undefined;
  const reachedAs = connectionId(config.connection);
  const remembered = opts.hostInfoCache?.get(host, reachedAs);
  if (remembered !== undefined) {
    // Speculative: resources from last run's info, confirmed by the info that comes back in the same round trip.
    const guess = await build(remembered);
    if (typeof guess !== 'string') {
      if (opts.signal?.aborted) return interrupted();
      const all = guess.recipes.flatMap((b) => b.resources);
      const checks = guess.recipes.flatMap((b) => b.checks);
      // An install writes the record of a run with nothing to do here, when every check passes (HostHooks.checked).
      const checked = opts.mode === 'install' ? contributions(opts.hooks, (h) => h.checked, { config }) : '';
      const run = await transport.exec(infoSection() + factBatchScript(all.map((r) => r.facts()), deep, all.flatMap((r) => r.units ?? [])) + (checksAlong ? checksSection(checks, checked) : '') + readsPart);
      info = extractInfo(run.stdout);
      if (info !== undefined && sameInfo(info, remembered)) {
        gathered = { built: guess, factRun: run, ...(checksAlong ? { early: { stdout: run.stdout, checkedRecord: checked !== '' } } : {}) };
      }
    }
  }
  if (info === undefined) {
    const infoRun = await transport.exec(HOST_INFO_SCRIPT);
    if (infoRun.code !== 0) return fail(`could not read host facts (exit ${infoRun.code}): ${tail(infoRun.stderr)}`);
    info = parseHostInfo(infoRun.stdout);
  }
  opts.hostInfoCache?.set(host, reachedAs, info);
  if (gathered === undefined) {
    const built = await build(info);
    if (typeof built === 'string') {
      opts.emit({ type: 'host-info', host, info });
      return fail(built);
    }
    if (opts.signal?.aborted) return interrupted();
    const all = built.recipes.flatMap((b) => b.resources);
    // `check` uses its checks' one no-wait answer whatever the plan; an install only when nothing is to change, so only on a host seen before.
    const along = checksAlong && (opts.mode === 'check' || remembered !== undefined);
    const checks = built.recipes.flatMap((b) => b.checks);
    const factRun = await transport.exec(factBatchScript(all.map((r) => r.facts()), deep, all.flatMap((r) => r.units ?? [])) + (along ? checksSection(checks) : '') + readsPart);
    gathered = { built, factRun, ...(along ? { early: { stdout: factRun.stdout } } : {}) };
  }
  const { built: current, factRun } = gathered;
  opts.emit({ type: 'host-info', host, info });
  for (const e of current.events) opts.emit(e);
  seen = current.seen;
  const { recipes: built, owner, resolved } = current;

  const all = built.flatMap((b) => b.resources);
  const outputs = parseFactBatch(factRun.stdout, all.length);
  if (typeof outputs === 'string') {
    return fail(`gathering facts failed (exit ${factRun.code}): ${outputs}${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  }
  const stateText = extractState(factRun.stdout);
  if (stateText === undefined) return fail(`gathering facts failed (exit ${factRun.code}): no state record section${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  // A damaged record: install and check go on from what is readable; uninstall refuses unless asked to rebuild it.
  const state = readHostState(stateText, teardown);
  if (!state.ok) return fail(state.error);
  warnings = built[0]?.warnings ?? warnings;
  if (state.warning) warn(state.warning);
  // A different published sum than the one this host recorded for the same artifact is refused, like a changed host key.
  for (const r of resolved) {
    const changed = changedSumRefusal(state.value.artifact(r.artifact.relPath), r.artifact);
    if (changed) return fail(`recipe ${r.recipe}: ${changed}`);
  }

  const planned: Change[] = [];
  const kept: string[] = [];
  const notes: string[] = [];
  const keep = (what: string, why?: string): void => void (why === undefined ? kept.push(what) : notes.push(`${what}: ${why}`));
  const ctx: PlanContext = { planned, state: state.value, warn, ...(teardown ? { keep, teardown } : {}) };
  const recipes: RecipePlan[] = [];
  const factsOf: { resource: Resource; recipe: string; facts: unknown }[] = [];
  let i = 0;
  for (const b of built) {
    const changes: Change[] = [];
    warnings = b.warnings;
    for (const r of b.resources) {
      const out = outputs[i++]!;
      try {
        const facts = r.parse(out);
        factsOf.push({ resource: r, recipe: b.recipe.id, facts });
        const cs = r.plan(facts, ctx);
        changes.push(...cs);
        planned.push(...cs);
      } catch (e) {
        return fail(`${resourceIn(b.recipe.id, r.key)}: ${(e as Error).message}`);
      }
    }
    // Events name the recipe; the title says it is being taken off.
    const recipe = teardown ? { ...b.recipe, title: `remove: ${b.recipe.title}` } : b.recipe;
    recipes.push({ recipe, resources: b.resources, changes, checks: b.checks, warnings, artifacts: b.artifacts });
  }
  const producerClash = checkProducers(recipes, owner);
  if (producerClash) return fail(producerClash);
  const placed = placeFollowUps(recipes, planned, factsOf);
  if (typeof placed === 'string') return fail(placed);
  return {
    ok: true,
    plan: {
      teardown: teardown !== undefined,
      kept,
      notes,
      config,
      transport,
      info,
      state: state.value,
      recipes: placed,
      startedAt,
      channelsAtStart,
      ...(gathered.early ? { early: gathered.early } : {}),
      ...(reads.length > 0 ? { reads: extractReads(factRun.stdout, reads) } : {}),
    },
  };
}

/**
 * One owner per file, also for files a change records besides its target (a
 * certificate's key and chain): no `file:<path>` resource of another owner
 * may manage them.
 */
function checkProducers(recipes: readonly RecipePlan[], owner: ReadonlyMap<string, string>): string | undefined {
  for (const rp of recipes) {
    for (const c of rp.changes) {
      for (const r of c.records ?? []) {
        if (r.kind !== 'file') continue;
        const fileOwner = owner.get(`file:${r.path}`);
        if (fileOwner !== undefined && c.resource !== `file:${r.path}`) return `${r.path} is written by ${c.resource} (recipe ${rp.recipe.id}) and managed as file:${r.path} by recipe ${fileOwner}`;
      }
    }
  }
  return undefined;
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

/**
 * The second planning pass: each follow-up goes right after the change it
 * follows (after earlier follow-ups of that change), in that change's recipe,
 * and says so (`after`), since a dry run cannot know the outcome.
 */
function placeFollowUps(
  recipes: readonly RecipePlan[],
  planned: readonly Change[],
  factsOf: readonly { resource: Resource; recipe: string; facts: unknown }[],
): RecipePlan[] | string {
  const out = recipes.map((rp) => ({ ...rp, changes: [...rp.changes] }));
  const followed = new WeakMap<Change, Change>();
  for (const { resource, recipe, facts } of factsOf) {
    if (!resource.followUps) continue;
    let ups: FollowUp[];
    try {
      ups = resource.followUps(facts, planned);
    } catch (e) {
      return `recipe ${recipe}: ${resource.key}: ${(e as Error).message}`;
    }
    for (const up of ups) {
      if (up.change.resource !== resource.key) return `recipe ${recipe}: ${resource.key}: a follow-up must be a change of its own resource, not ${up.change.resource}`;
      const home = out.find((rp) => rp.changes.includes(up.follows));
      if (!home) return `recipe ${recipe}: ${resource.key}: follows a change that is not in the plan: ${summary(up.follows)}`;
      let at = home.changes.indexOf(up.follows) + 1;
      while (at < home.changes.length && followed.get(home.changes[at]!) === up.follows) at++;
      const change: Change = { ...up.change, after: [...(up.change.after ?? []), summary(up.follows)] };
      followed.set(change, up.follows);
      home.changes.splice(at, 0, change);
    }
  }
  return out;
}

/**
 * `guard`: the host lock's lines that start every apply script of the run
 * (its interrupt file, the shared apply lock); see host-lock.ts.
 */
export async function finishHost(plan: HostPlan, opts: HostRunOptions, guard = ''): Promise<HostResult> {
  const { config, transport } = plan;
  const host = config.name;
  const emit = opts.emit;
  const resourceCount = plan.recipes.reduce((n, r) => n + r.resources.length, 0);
  const changeCount = plan.recipes.reduce((n, r) => n + r.changes.length, 0);
  const changedResources = new Set(plan.recipes.flatMap((r) => r.changes.map((c) => c.resource))).size;
  const roundTrips = (): number => transport.stats.channels - plan.channelsAtStart;
  const warnings = plan.recipes.flatMap((r) => r.warnings);
  const startRecipe = (rp: RecipePlan): void => {
    emit({ type: 'recipe-start', host, recipe: rp.recipe.id, title: rp.recipe.title });
    for (const message of rp.warnings) emit({ type: 'warning', host, recipe: rp.recipe.id, message });
  };
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
      ...(warnings.length ? { warnings } : {}),
      ...(plan.kept.length > 0 ? { kept: outermost(plan.kept) } : {}),
      ...(plan.notes.length > 0 ? { notes: [...new Set(plan.notes)] } : {}),
      bytesSent: transport.stats.wireBytesSent,
      bytesReceived: transport.stats.wireBytesReceived,
      ...over,
    };
    const paths = [...rebootPaths, ...(r.rebootRequired ? [OS_REBOOT_REQUIRED] : [])];
    return paths.length > 0 ? { ...r, rebootRequired: true, rebootPaths: [...new Set(paths)] } : r;
  };

  if (opts.mode === 'plan') {
    for (const rp of plan.recipes) {
      startRecipe(rp);
      for (const c of rp.changes) emit({ type: 'change', host, recipe: rp.recipe.id, status: 'planned', change: publicChange(c) });
      emit({ type: 'recipe-end', host, recipe: rp.recipe.id, status: rp.changes.length ? 'changed' : 'ok', changes: rp.changes.length });
    }
    return result({ status: changeCount ? 'changed' : 'ok', changed: changeCount });
  }

  if (opts.mode === 'check') {
    // The same checks, run once without waiting: in the facts round trip when they rode along.
    const verified = plan.early ? readVerify(plan, plan.early.stdout, emit) : await runVerify(plan, 0, emit, undefined);
    for (const rp of plan.recipes) {
      startRecipe(rp);
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
  // A follow-up is applied in another recipe's run but belongs to its resource's recipe (the state record says so).
  const owners = new Map(plan.recipes.flatMap((rp) => rp.resources.map((r) => [r.key, rp.recipe.id] as const)));
  let prepares = plan.recipes.flatMap((r) => r.changes.flatMap((c) => (c.prepare ? [c.prepare] : []))).join('\n');
  /** Summaries of the changes applied so far, for a connection lost mid-apply. */
  const appliedSummaries: string[] = [];
  for (const [index, rp] of plan.recipes.entries()) {
    const recipeId = rp.recipe.id;
    if (opts.signal?.aborted) {
      return result({ status: 'interrupted', changed: applied, error: `${host}: interrupted before recipe ${recipeId}` });
    }
    startRecipe(rp);
    if (rp.changes.length === 0) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'ok', changes: 0 });
      continue;
    }
    const point = { config, recipe: recipeId, index, total: n, changes: rp.changes.length };
    const header = prepares + '\n' + contributions(opts.hooks, (h) => h.recipeApply, point);
    prepares = '';
    let appliedHere = 0;
    const stop = await applyRecipe(
      rp,
      transport,
      header,
      guard,
      (key) => owners.get(key),
      (c) => {
        applied++;
        appliedHere++;
        appliedSummaries.push(summary(c));
        emit({ type: 'change', host, recipe: recipeId, status: 'applied', change: publicChange(c) });
      },
      (path) => rebootPaths.push(path),
    );
    if (stop && 'interrupted' in stop) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: appliedHere ? 'changed' : 'skipped', changes: appliedHere });
      const where = stop.last ? `in recipe ${recipeId} after ${summary(stop.last)} (not started: ${summary(stop.next)})` : `before recipe ${recipeId}`;
      return result({ status: 'interrupted', changed: applied, error: redact(`${host}: interrupted ${where}`) });
    }
    const failure = stop;
    if (failure) {
      emit({ type: 'change', host, recipe: recipeId, status: 'failed', change: publicChange(failure.change) });
      const error = redact(
        failure.lost
          ? `${host}: ${lostMessage(resourceIn(recipeId, failure.change.resource), summary(failure.change), failure.lost, failure.message, appliedSummaries)}`
          : failure.record
            ? `${host}: ${failure.message}`
            : `${host}: ${resourceIn(recipeId, failure.change.resource)}: ${summary(failure.change)} failed${failure.code !== undefined ? ` (exit ${failure.code})` : ''}: ${failure.message}`,
      );
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'failed', changes: applied, error });
      const onFailure = contributions(opts.hooks, (h) => h.recipeFailed, { ...point, error });
      if (onFailure !== '') await transport.exec(hookScript(onFailure)).catch(() => undefined);
      return result({ status: 'failed', changed: applied, failed: 1, error });
    }
    emit({ type: 'recipe-end', host, recipe: recipeId, status: 'changed', changes: rp.changes.length });
  }

  const done = contributions(opts.hooks, (h) => h.installDone, { config });
  let verified: VerifyOutcome;
  const early = plan.early;
  if (changeCount === 0 && early !== undefined && allPassed(plan, early)) {
    // Nothing changed and every check already passed in the facts round trip:
    // no verify round trip. The record of a run with nothing to do (hooks'
    // `checked`) was written there too on a host seen before; planned in two
    // round trips (host info changed), it takes one of its own.
    verified = readVerify(plan, early.stdout, emit);
    const checked = early.checkedRecord ? '' : contributions(opts.hooks, (h) => h.checked, { config });
    if (checked !== '') await transport.exec(hookScript(checked));
  } else {
    verified = await runVerify(plan, opts.verifyWaitSeconds ?? 30, emit, done);
  }
  if (verified.failed > 0) {
    const error = verified.error ?? `${host}: verification failed`;
    // The host's record says so too (not "done"): progress.json agrees with the recap, last-run.json and the status page.
    const onFailure = contributions(opts.hooks, (h) => h.recipeFailed, { config, recipe: 'verify', index: n, total: n, changes: applied, error: redact(error) });
    if (onFailure !== '') await transport.exec(hookScript(onFailure)).catch(() => undefined);
    return result({ status: 'failed', changed: applied, failed: 1, failedChecks: verified.failed, rebootRequired: verified.rebootRequired, error });
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
  /** The connection went away: was `change` running, not yet started, or already done? */
  readonly lost?: 'during' | 'before' | 'after';
  /** Every change was applied; writing the state record after them failed (message: its one line). */
  readonly record?: true;
}

/** The run's interrupt stopped the batch before `next`; `last` is the recipe's last step that finished. */
interface ApplyInterrupted {
  readonly interrupted: true;
  readonly next: Change;
  readonly last?: Change;
}

/**
 * `connection lost during nginx: file:/etc/…: write … (…connection lost…); done before it: …`.
 * What the host did after the cut is unknown; the next run's facts say.
 */
function lostMessage(where: string, step: string, when: 'during' | 'before' | 'after', why: string, done: readonly string[]): string {
  const shown = done.slice(-3);
  const earlier = done.length > shown.length ? `${done.length - shown.length} more, ` : '';
  const before = done.length ? `; done before it: ${earlier}${shown.join('; ')}` : '; nothing applied before it in this run';
  const state = when === 'during' ? 'its outcome on the host is unknown' : when === 'before' ? 'it had not started' : 'it had finished';
  return `connection lost ${when} ${where}: ${step} (${state}; ${why})${before}; the next run picks up from the host as it is`;
}

/** What a host step of a local effect reports when it fails: exit code and stderr tail. */
class HostStepFailed extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * Shell changes go in as few round trips as possible. A local effect does
 * not split the run: changes still waiting ride along with its first host
 * step, and the script that finishes it joins the batch with the changes
 * after it.
 */
async function applyRecipe(
  rp: RecipePlan,
  transport: Transport,
  header: string,
  guard: string,
  ownerOf: (resource: string) => string | undefined,
  onApplied: (c: Change) => void,
  onReboot: (path: string) => void,
): Promise<ApplyFailure | ApplyInterrupted | undefined> {
  let lastDone: Change | undefined;
  let interrupted: ApplyInterrupted | undefined;
  // `step` is what the batch runs: the change itself, or its host step (which records nothing: its files are not there yet).
  let batch: { change: Change; step: Change }[] = [];
  const entry = (change: Change, script: Script, records = true): { change: Change; step: Change } => {
    const { local: _local, records: declared, ...rest } = change;
    return { change, step: { ...rest, script, ...(records && declared ? { records: declared } : {}) } };
  };
  let first = true;
  const applied = (r: { change: Change }): void => {
    lastDone = r.change;
    onApplied(r.change);
  };
  /** Runs the waiting batch plus `extra`; the failure of a waiting change comes back as a value. */
  const send = async (extra: { change: Change; step: Change } | undefined): Promise<{ failure?: ApplyFailure; extraFailed?: { code: number; message: string } }> => {
    const run = extra ? [...batch, extra] : batch;
    batch = [];
    if (run.length === 0) return {};
    let res: ExecResult;
    try {
      res = await transport.exec(applyScript(run.map((r) => r.step), first ? header : '', (c) => ownerOf(c.resource) ?? rp.recipe.id, guard));
    } catch (e) {
      if (!(e instanceof TransportError)) throw e;
      // The markers that made it back say which step the cut hit.
      const seen = applyProgress(e.partial?.stdout ?? '', e.partial?.stderr ?? '');
      for (const i of seen.done) if (run[i] && run[i] !== extra) applied(run[i]);
      const at = seen.running ?? Math.min(seen.done.length, run.length - 1);
      const when = seen.running !== undefined ? 'during' : seen.done.length >= run.length ? 'after' : 'before';
      const r = run[at]!;
      if (r === extra) return { extraFailed: { code: 255, message: `connection lost ${when} this host step (${e.message})` } };
      return { failure: { change: r.change, message: e.message, lost: when } };
    }
    first = false;
    for (const m of res.stdout.matchAll(new RegExp(`^${REBOOT_MARKER} (.+)$`, 'gm'))) onReboot(m[1]!);
    const outcome = parseApply(res.stdout, res.stderr, res.code, run.length);
    for (const i of outcome.done) {
      const r = run[i]!;
      if (r !== extra) applied(r);
    }
    if (outcome.interruptedAt !== undefined) {
      const next = run[outcome.interruptedAt]!;
      interrupted = { interrupted: true, next: next.change, ...(lastDone ? { last: lastDone } : {}) };
      return extra ? { extraFailed: { code: 130, message: 'interrupted' } } : {};
    }
    if (!outcome.failed) return {};
    const r = run[outcome.failed.index]!;
    const message = outcome.failed.stderrTail || 'no error output';
    if (r === extra) return { extraFailed: { code: outcome.failed.code, message } };
    return { failure: { change: r.change, code: outcome.failed.code, message, ...(outcome.failed.record ? { record: true as const } : {}) } };
  };
  const flush = async (): Promise<ApplyFailure | ApplyInterrupted | undefined> => (await send(undefined)).failure ?? interrupted;

  for (const c of rp.changes) {
    if (!c.local) {
      batch.push(entry(c, c.script));
      continue;
    }
    let earlier: ApplyFailure | undefined;
    const steps: HostSteps = {
      run: async (script) => {
        if (earlier) throw new Error('an earlier change failed');
        const sent = await send(entry(c, script, false));
        if (sent.failure) {
          earlier = sent.failure;
          throw new Error(`not run: ${summary(sent.failure.change)} failed first`);
        }
        if (sent.extraFailed) throw new HostStepFailed(sent.extraFailed.code, sent.extraFailed.message);
      },
    };
    let finish: Script | undefined;
    try {
      finish = await c.local(steps);
    } catch (e) {
      if (interrupted) return interrupted;
      // Changes planned before this one still happen, in order, before its failure is reported.
      const before = earlier ?? (await flush());
      if (before) return before;
      return { change: c, ...(e instanceof HostStepFailed ? { code: e.code } : {}), message: (e as Error).message };
    }
    if (earlier) return earlier;
    if (interrupted) return interrupted;
    // The finishing script (or none) is the step that records what the change declares.
    batch.push(entry(c, finish ?? sh`true`));
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
  const checks = plan.recipes.flatMap((rp) => rp.checks);
  const script =
    verifyScript(checks, waitSeconds) +
    `[ -e /var/run/reboot-required ] && echo ${REBOOT_MARKER}\n` +
    // The end-of-install record ("done") only when every check passed.
    (trailer ? `if [ -z "\${__panel_checks_failed:-}" ]; then\n${trailer}\nfi\n` : '') +
    'true\n';
  const res = await plan.transport.exec(script);
  return readVerify(plan, res.stdout, emit);
}

/** Whether every check of the plan passed in the facts round trip (their events not yet sent). */
function allPassed(plan: HostPlan, early: EarlyVerify): boolean {
  const checks = plan.recipes.flatMap((rp) => rp.checks);
  return parseVerify(early.stdout, checks).every((o) => o.ok);
}

/** The checks' answer (of a verify round trip or the facts round trip) as events and an outcome. */
function readVerify(plan: HostPlan, stdout: string, emit: Emit): VerifyOutcome {
  const host = plan.config.name;
  const owned = plan.recipes.flatMap((rp) => rp.checks.map((check) => ({ recipe: rp.recipe.id, check })));
  const checks = owned.map((o) => o.check);
  const outcomes = parseVerify(stdout, checks);
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
    rebootRequired: stdout.split('\n').includes(REBOOT_MARKER),
    ...(lines.length ? { error: lines.join('\n') } : {}),
  };
}

/** `nginx: file:/etc/…`, but `certificate:example.com` rather than `certificate: certificate:example.com`. */
function resourceIn(recipeId: string, key: string): string {
  return key.startsWith(`${recipeId}:`) ? key : `${recipeId}: ${key}`;
}
