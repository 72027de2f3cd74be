/**
 * Planning one host: host info, facts of every resource, pure planning, then
 * follow-ups (changes that must come right after a later resource's change).
 * Changes nothing on the host. On a host seen before (host info remembered,
 * ./host-info-cache.ts): ONE round trip carrying info, facts and, for check
 * and install, every check run once without waiting; a second (facts again)
 * only when the info changed. Otherwise two: info, then facts (with the
 * checks for `check`). ./finish.ts then reports, checks or applies the plan.
 *
 * Local effects (work on this machine, e.g. an ACME order) never get the
 * transport: they hand host scripts to the engine (`HostSteps.run`), which
 * sends them in its batch, so they share the prepare header, progress, change
 * events and failure reporting of every other change.
 */
import type { HostConfig } from '../config.js';
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../host-info.js';
import type { Change, FactOutput, PlanContext } from '../resources/types.js';
import { redact } from '../secret.js';
import type { ExecResult, Transport } from '../transport/types.js';
import { changedSumRefusal, ReleaseSums, TrustedSums } from '../artifacts/index.js';
import { err, ok, type Result } from '../result.js';
import { factBatchScript, parseFactBatch, tail } from './batch.js';
import type { HostResult } from './events.js';
import { connectionId, sameInfo } from './host-info-cache.js';
import { checksSection, extractInfo, extractReads, infoSection, readsSection } from './planning-sections.js';
import { contributions } from './hooks.js';
import type { BuiltRecipe, EarlyVerify, HostPlan, RecipePlan } from './host-plan.js';
import { failedResult, resourceIn } from './host-result.js';
import { extractState, type HostState, readHostState } from './state.js';
import { orderRecipes, teardownOrder } from './order.js';
import { buildRecipes, type Built } from './build.js';
import { placeFollowUps, type PlannedFacts } from './follow-ups.js';
import type { HostRunOptions } from './run-options.js';

export type PlanOutcome = Result<HostPlan, HostResult>;

/** Built resources and the facts round trip that read them. */
interface Gathered {
  readonly info: HostInfo;
  readonly built: Built;
  readonly factRun: ExecResult;
  readonly early?: EarlyVerify;
}

export async function planHost(config: HostConfig, transport: Transport, opts: HostRunOptions): Promise<PlanOutcome> {
  const startedAt = Date.now();
  const channelsAtStart = transport.stats.channels;
  const host = config.name;
  const fail = (error: string): PlanOutcome => err(failedResult(host, `${host}: ${error}`, startedAt, transport.stats.channels - channelsAtStart));

  const teardown = opts.teardown;
  const order = teardown ? teardownOrder(config.recipes, opts.registry) : orderRecipes(config.recipes, opts.registry);
  if (!order.ok) return fail(order.error);
  opts.emit({ type: 'host-start', host, recipes: order.value.map((r) => r.id) });

  // Files the report hooks read after the run, read now with the facts.
  const reads = [...new Set((opts.hooks ?? []).flatMap((h) => h.reads?.(config) ?? []))];
  const input = { config, transport, teardown, sums: opts.releaseSums ?? new ReleaseSums(), trusted: opts.trustedSums ?? new TrustedSums() };
  const gathered = await gather(order.value, input, opts, reads);
  if (!gathered.ok) {
    if (gathered.error === 'interrupted') return err(failedResult(host, `${host}: interrupted before planning`, startedAt, 0, 'interrupted'));
    return fail(gathered.error);
  }
  const { info, built: current, factRun } = gathered.value;
  opts.emit({ type: 'host-info', host, info });
  for (const e of current.events) opts.emit(e);

  const all = current.recipes.flatMap((b) => b.resources);
  const outputs = parseFactBatch(factRun.stdout, all.length);
  if (!outputs.ok) {
    return fail(`gathering facts failed (exit ${factRun.code}): ${outputs.error}${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  }
  const stateText = extractState(factRun.stdout);
  if (stateText === undefined) return fail(`gathering facts failed (exit ${factRun.code}): no state record section${factRun.stderr ? `: ${tail(factRun.stderr)}` : ''}`);
  // A damaged record: install and check go on from what is readable; uninstall refuses unless asked to rebuild it.
  const state = readHostState(stateText, teardown);
  if (!state.ok) return fail(state.error);
  // A different published sum than the one this host recorded for the same artifact is refused, like a changed host key.
  for (const r of current.resolved) {
    const changed = changedSumRefusal(state.value.artifact(r.artifact.relPath), r.artifact);
    if (!changed.ok) return fail(`recipe ${r.recipe}: ${changed.error}`);
  }

  const planned = planRecipes(await prepareResources(current, outputs.value), outputs.value, state.value, state.warning, opts);
  if (!planned.ok) return fail(planned.error);
  const { recipes, factsOf, kept, notes } = planned.value;
  const producerClash = checkProducers(recipes, current.owner);
  if (!producerClash.ok) return fail(producerClash.error);
  const placed = placeFollowUps(recipes, recipes.flatMap((rp) => rp.changes), factsOf);
  if (!placed.ok) return fail(placed.error);
  return ok({
    teardown: teardown !== undefined,
    kept,
    notes,
    config,
    transport,
    info,
    state: state.value,
    recipes: placed.value,
    startedAt,
    channelsAtStart,
    ...(gathered.value.early ? { early: gathered.value.early } : {}),
    ...(reads.length > 0 ? { reads: extractReads(factRun.stdout, reads) } : {}),
  });
}

/**
 * Host info, the recipes built for it, and their facts. With info remembered
 * from an earlier run: one round trip, built from the remembered info and
 * kept when the info that comes back is the same. Error `interrupted`: the
 * run was aborted before the facts were read.
 */
async function gather(order: Parameters<typeof buildRecipes>[0], input: Parameters<typeof buildRecipes>[2], opts: HostRunOptions, reads: readonly string[]): Promise<Result<Gathered, string>> {
  const { config, transport, teardown } = input;
  const host = config.name;
  const deep = opts.deep ?? false;
  const readsPart = reads.length > 0 ? readsSection(reads) : '';
  const factsOf = (built: Built): string => {
    const all = built.recipes.flatMap((b) => b.resources);
    return factBatchScript(
      all.map((r) => r.facts()),
      deep,
      all.flatMap((r) => r.units ?? []),
      all.flatMap((r) => r.paths ?? []),
    );
  };
  const checksOf = (built: Built): Parameters<typeof checksSection>[0] => built.recipes.flatMap((b) => b.checks);
  // The checks ride along only where their answer can be used: check always,
  // install when nothing is to change (a host seen before is likely converged).
  const checksAlong = !teardown && opts.mode !== 'plan';

  let info: HostInfo | undefined;
  const reachedAs = connectionId(config.connection);
  const remembered = opts.hostInfoCache?.get(host, reachedAs);
  if (remembered !== undefined) {
    // Speculative: resources from last run's info, confirmed by the info that comes back in the same round trip.
    const guess = await buildRecipes(order, remembered, input);
    if (guess.ok) {
      if (opts.signal?.aborted) return err('interrupted');
      // An install writes the record of a run with nothing to do here, when every check passes (HostHooks.checked).
      const checked = opts.mode === 'install' ? contributions(opts.hooks, (h) => h.checked, { config }) : '';
      const run = await transport.exec(infoSection() + factsOf(guess.value) + (checksAlong ? checksSection(checksOf(guess.value), checked) : '') + readsPart);
      info = extractInfo(run.stdout);
      if (info !== undefined && sameInfo(info, remembered)) {
        opts.hostInfoCache?.set(host, reachedAs, info);
        return ok({ info, built: guess.value, factRun: run, ...(checksAlong ? { early: { stdout: run.stdout, checkedRecord: checked !== '' } } : {}) });
      }
    }
  }
  if (info === undefined) {
    const infoRun = await transport.exec(HOST_INFO_SCRIPT);
    if (infoRun.code !== 0) return err(`could not read host facts (exit ${infoRun.code}): ${tail(infoRun.stderr)}`);
    info = parseHostInfo(infoRun.stdout);
  }
  opts.hostInfoCache?.set(host, reachedAs, info);
  const built = await buildRecipes(order, info, input);
  if (!built.ok) {
    opts.emit({ type: 'host-info', host, info });
    return built;
  }
  if (opts.signal?.aborted) return err('interrupted');
  // `check` uses its checks' one no-wait answer whatever the plan; an install only when nothing is to change, so only on a host seen before.
  const along = checksAlong && (opts.mode === 'check' || remembered !== undefined);
  const factRun = await transport.exec(factsOf(built.value) + (along ? checksSection(checksOf(built.value)) : '') + readsPart);
  return ok({ info, built: built.value, factRun, ...(along ? { early: { stdout: factRun.stdout } } : {}) });
}

/**
 * Each resource's local work before the pure plan (Resource.prepare), from
 * its facts; its warnings go to its recipe. Facts that cannot be parsed are
 * left to planning, which reports them.
 */
async function prepareResources(current: Built, outputs: readonly FactOutput[]): Promise<Built> {
  let i = 0;
  const recipes: BuiltRecipe[] = [];
  for (const b of current.recipes) {
    const extra: string[] = [];
    for (const r of b.resources) {
      const out = outputs[i++]!;
      if (r.prepare === undefined) continue;
      let facts: unknown;
      try {
        facts = r.parse(out);
      } catch {
        continue;
      }
      const warnings = await r.prepare(facts).catch((e: unknown) => [`${r.key}: ${e instanceof Error ? e.message : String(e)}`]);
      extra.push(...warnings.map(redact));
    }
    recipes.push(extra.length > 0 ? { ...b, warnings: [...b.warnings, ...extra] } : b);
  }
  return { ...current, recipes };
}

interface Planned {
  readonly recipes: RecipePlan[];
  readonly factsOf: PlannedFacts[];
  readonly kept: string[];
  readonly notes: string[];
}

/**
 * Pure planning: each resource's facts parsed and planned in order, every
 * resource seeing the changes planned before it. Warnings go to the recipe
 * that raised them (the state record's to the first), each message once per
 * host, counting those raised while building.
 */
function planRecipes(current: Built, outputs: readonly FactOutput[], state: HostState, stateWarning: string | undefined, opts: HostRunOptions): Result<Planned, string> {
  const teardown = opts.teardown;
  const seen = new Set(current.seen);
  const planned: Change[] = [];
  const kept: string[] = [];
  const notes: string[] = [];
  const keep = (what: string, why?: string): void => void (why === undefined ? kept.push(what) : notes.push(`${what}: ${why}`));
  const recipes: RecipePlan[] = [];
  const factsOf: PlannedFacts[] = [];
  let i = 0;
  for (const [index, b] of current.recipes.entries()) {
    const warnings = [...b.warnings];
    const warn = (message: string): void => {
      if (seen.has(message)) return;
      seen.add(message);
      warnings.push(redact(message));
    };
    if (index === 0 && stateWarning) warn(stateWarning);
    const ctx: PlanContext = { planned, state, warn, ...(teardown ? { keep, teardown } : {}) };
    const changes: Change[] = [];
    for (const r of b.resources) {
      const out = outputs[i++]!;
      try {
        const facts = r.parse(out);
        factsOf.push({ resource: r, recipe: b.recipe.id, facts });
        const cs = r.plan(facts, ctx);
        changes.push(...cs);
        planned.push(...cs);
      } catch (e) {
        return err(`${resourceIn(b.recipe.id, r.key)}: ${(e as Error).message}`);
      }
    }
    recipes.push(recipePlan(b, changes, warnings, teardown !== undefined));
  }
  return ok({ recipes, factsOf, kept, notes });
}

function recipePlan(b: BuiltRecipe, changes: readonly Change[], warnings: readonly string[], teardown: boolean): RecipePlan {
  // Events name the recipe; the title says it is being taken off.
  const recipe = teardown ? { ...b.recipe, title: `remove: ${b.recipe.title}` } : b.recipe;
  return { recipe, resources: b.resources, changes, checks: b.checks, warnings, artifacts: b.artifacts };
}

/**
 * One owner per file, also for files a change records besides its target (a
 * certificate's key and chain): no `file:<path>` resource of another owner
 * may manage them.
 */
function checkProducers(recipes: readonly RecipePlan[], owner: ReadonlyMap<string, string>): Result<void, string> {
  for (const rp of recipes) {
    for (const c of rp.changes) {
      for (const r of c.records ?? []) {
        if (r.kind !== 'file') continue;
        const fileOwner = owner.get(`file:${r.path}`);
        if (fileOwner !== undefined && c.resource !== `file:${r.path}`) return err(`${r.path} is written by ${c.resource} (recipe ${rp.recipe.id}) and managed as file:${r.path} by recipe ${fileOwner}`);
      }
    }
  }
  return ok(undefined);
}
