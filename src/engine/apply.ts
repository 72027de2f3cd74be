/**
 * Applying a host's plan: each recipe's changes in as few round trips as
 * possible (one per recipe with changes, plus one per host step a local
 * effect hands over). Stops at the first failure or interrupt; what was
 * applied up to there is reported by return value.
 */
import type { Change, HostSteps } from '../resources/types.js';
import { summary, publicChange } from '../resources/types.js';
import { redact } from '../secret.js';
import { type Script, sh } from '../shell.js';
import { TransportError, type ExecResult, type Transport } from '../transport/types.js';
import { err, ok, type Result } from '../result.js';
import { applyProgress, applyScript, hookScript, parseApply } from './batch.js';
import { REBOOT_MARKER } from '../resources/prelude.js';
import type { HostResult } from './events.js';
import { contributions } from './hooks.js';
import type { HostPlan, RecipePlan } from './host-plan.js';
import { planResult, resourceIn } from './host-result.js';
import type { HostRunOptions } from './run-options.js';

interface ApplyFailure {
  readonly change: Change;
  readonly code?: number;
  readonly message: string;
  /** The connection went away: was `change` running, not yet started, or already done? */
  readonly lost?: 'during' | 'before' | 'after';
  /** Every change was applied; writing the state record after them failed (message: its one line). */
  readonly record?: true;
}

/** The run's interrupt stopped the batch before `next`. */
interface ApplyInterrupted {
  readonly interrupted: true;
  readonly next: Change;
}

type Stop = ApplyFailure | ApplyInterrupted;

/** How one recipe's apply ended: `applied` in order; `stop` when it did not get through. */
interface RecipeApplied {
  readonly applied: readonly Change[];
  readonly rebootPaths: readonly string[];
  readonly stop?: Stop;
}

/** What the host's apply did when every recipe got through. */
export interface Applied {
  readonly applied: number;
  readonly rebootPaths: readonly string[];
}

/**
 * Every recipe of the plan in order. Every prepare hook of the host (e.g.
 * pending restarts in the state record) runs in the first apply round trip,
 * so a run cut between a config write in one recipe and the restart in a
 * later one still restarts next time. The error: the host's result.
 */
export async function applyRecipes(plan: HostPlan, opts: HostRunOptions, guard: string): Promise<Result<Applied, HostResult>> {
  const { config, transport } = plan;
  const host = config.name;
  const emit = opts.emit;
  const n = plan.recipes.length;
  // A follow-up is applied in another recipe's run but belongs to its resource's recipe (the state record says so).
  const owners = new Map(plan.recipes.flatMap((rp) => rp.resources.map((r) => [r.key, rp.recipe.id] as const)));
  let prepares = plan.recipes.flatMap((r) => r.changes.flatMap((c) => (c.prepare ? [c.prepare] : []))).join('\n');
  /** The changes applied so far, for a connection lost mid-apply. */
  const applied: Change[] = [];
  const rebootPaths: string[] = [];
  const stopped = (over: Partial<HostResult> & Pick<HostResult, 'status'>): Result<never, HostResult> => err(planResult(plan, { changed: applied.length, ...over }, rebootPaths));
  for (const [index, rp] of plan.recipes.entries()) {
    const recipeId = rp.recipe.id;
    if (opts.signal?.aborted) return stopped({ status: 'interrupted', error: `${host}: interrupted before recipe ${recipeId}` });
    emit({ type: 'recipe-start', host, recipe: recipeId, title: rp.recipe.title });
    for (const message of rp.warnings) emit({ type: 'warning', host, recipe: recipeId, message });
    if (rp.changes.length === 0) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'ok', changes: 0 });
      continue;
    }
    const point = { config, recipe: recipeId, index, total: n, changes: rp.changes.length };
    const header = prepares + '\n' + contributions(opts.hooks, (h) => h.recipeApply, point);
    prepares = '';
    const before = applied.map(summary);
    const out = await applyRecipe(rp, transport, header, guard, (key) => owners.get(key), (c) => emit({ type: 'change', host, recipe: recipeId, status: 'applied', change: publicChange(c) }));
    applied.push(...out.applied);
    rebootPaths.push(...out.rebootPaths);
    const stop = out.stop;
    if (stop === undefined) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: 'changed', changes: rp.changes.length });
      continue;
    }
    if ('interrupted' in stop) {
      emit({ type: 'recipe-end', host, recipe: recipeId, status: out.applied.length ? 'changed' : 'skipped', changes: out.applied.length });
      const last = out.applied.at(-1);
      const where = last ? `in recipe ${recipeId} after ${summary(last)} (not started: ${summary(stop.next)})` : `before recipe ${recipeId}`;
      return stopped({ status: 'interrupted', error: redact(`${host}: interrupted ${where}`) });
    }
    emit({ type: 'change', host, recipe: recipeId, status: 'failed', change: publicChange(stop.change) });
    const where = resourceIn(recipeId, stop.change.resource);
    const error = redact(
      stop.lost
        ? `${host}: ${lostMessage(where, summary(stop.change), stop.lost, stop.message, [...before, ...out.applied.map(summary)])}`
        : stop.record
          ? `${host}: ${stop.message}`
          : `${host}: ${where}: ${summary(stop.change)} failed${stop.code !== undefined ? ` (exit ${stop.code})` : ''}: ${stop.message}`,
    );
    emit({ type: 'recipe-end', host, recipe: recipeId, status: 'failed', changes: applied.length, error });
    const onFailure = contributions(opts.hooks, (h) => h.recipeFailed, { ...point, error });
    if (onFailure !== '') await transport.exec(hookScript(onFailure)).catch(() => undefined);
    return stopped({ status: 'failed', failed: 1, error });
  }
  return ok({ applied: applied.length, rebootPaths });
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
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A batch entry: `step` is what runs, the change itself or its host step (which records nothing: its files are not there yet). */
interface Entry {
  readonly change: Change;
  readonly step: Change;
}

function entry(change: Change, script: Script, records = true): Entry {
  const { local: _local, records: declared, ...rest } = change;
  return { change, step: { ...rest, script, ...(records && declared ? { records: declared } : {}) } };
}

/** What one round trip of a recipe's apply did; `extraFailed`: the host step sent with it failed. */
interface Sent {
  readonly applied: readonly Change[];
  readonly rebootPaths: readonly string[];
  readonly stop?: Stop;
  readonly extraFailed?: { readonly code: number; readonly message: string };
}

/** Runs `run` (waiting changes, then maybe a host step `extra`) in one round trip. */
async function send(run: readonly Entry[], extra: Entry | undefined, exec: (steps: readonly Change[]) => Promise<ExecResult>): Promise<Sent> {
  if (run.length === 0) return { applied: [], rebootPaths: [] };
  const mine = (indexes: readonly number[]): Change[] => indexes.flatMap((i) => (run[i] && run[i] !== extra ? [run[i].change] : []));
  let res: ExecResult;
  try {
    res = await exec(run.map((r) => r.step));
  } catch (e) {
    if (!(e instanceof TransportError)) throw e;
    // The markers that made it back say which step the cut hit.
    const seen = applyProgress(e.partial?.stdout ?? '', e.partial?.stderr ?? '');
    const applied = mine(seen.done);
    const at = seen.running ?? Math.min(seen.done.length, run.length - 1);
    const when = seen.running !== undefined ? 'during' : seen.done.length >= run.length ? 'after' : 'before';
    const r = run[at]!;
    if (r === extra) return { applied, rebootPaths: [], extraFailed: { code: 255, message: `connection lost ${when} this host step (${e.message})` } };
    return { applied, rebootPaths: [], stop: { change: r.change, message: e.message, lost: when } };
  }
  const rebootPaths = [...res.stdout.matchAll(new RegExp(`^${REBOOT_MARKER} (.+)$`, 'gm'))].map((m) => m[1]!);
  const outcome = parseApply(res.stdout, res.stderr, res.code, run.length);
  const applied = mine(outcome.done);
  if (outcome.interruptedAt !== undefined) {
    const stop: Stop = { interrupted: true, next: run[outcome.interruptedAt]!.change };
    return { applied, rebootPaths, stop, ...(extra ? { extraFailed: { code: 130, message: 'interrupted' } } : {}) };
  }
  if (!outcome.failed) return { applied, rebootPaths };
  const r = run[outcome.failed.index]!;
  const message = outcome.failed.stderrTail || 'no error output';
  if (r === extra) return { applied, rebootPaths, extraFailed: { code: outcome.failed.code, message } };
  return { applied, rebootPaths, stop: { change: r.change, code: outcome.failed.code, message, ...(outcome.failed.record ? { record: true as const } : {}) } };
}

/**
 * Shell changes go in as few round trips as possible. A local effect does
 * not split the run: changes still waiting ride along with its first host
 * step, and the script that finishes it joins the batch with the changes
 * after it. `onApplied` only reports progress; the outcome is the return value.
 */
async function applyRecipe(
  rp: RecipePlan,
  transport: Transport,
  header: string,
  guard: string,
  ownerOf: (resource: string) => string | undefined,
  onApplied: (c: Change) => void,
): Promise<RecipeApplied> {
  const applied: Change[] = [];
  const rebootPaths: string[] = [];
  let batch: Entry[] = [];
  let first = true;
  const exec = async (steps: readonly Change[]): Promise<ExecResult> => {
    const res = await transport.exec(applyScript(steps, first ? header : '', (c) => ownerOf(c.resource) ?? rp.recipe.id, guard));
    first = false;
    return res;
  };
  /** One round trip of the waiting batch (plus `extra`), its outcome folded into `applied`/`rebootPaths`. */
  const sendBatch = async (extra: Entry | undefined): Promise<Sent> => {
    const run = extra ? [...batch, extra] : batch;
    batch = [];
    const sent = await send(run, extra, exec);
    for (const c of sent.applied) onApplied(c);
    applied.push(...sent.applied);
    rebootPaths.push(...sent.rebootPaths);
    return sent;
  };
  const end = (stop: Stop | undefined): RecipeApplied => ({ applied, rebootPaths, ...(stop ? { stop } : {}) });

  for (const c of rp.changes) {
    if (!c.local) {
      batch.push(entry(c, c.script));
      continue;
    }
    // Set when a round trip of this change's host steps stopped the recipe (a waiting change failed, or the interrupt).
    let stop: Stop | undefined;
    const steps: HostSteps = {
      run: async (script) => {
        if (stop) throw new Error('an earlier change failed');
        const sent = await sendBatch(entry(c, script, false));
        stop = sent.stop;
        if (sent.stop && !('interrupted' in sent.stop)) throw new Error(`not run: ${summary(sent.stop.change)} failed first`);
        if (sent.extraFailed) throw new HostStepFailed(sent.extraFailed.code, sent.extraFailed.message);
      },
    };
    let finish: Script | undefined;
    try {
      finish = await c.local(steps);
    } catch (e) {
      if (stop) return end(stop);
      // Changes planned before this one still happen, in order, before its failure is reported.
      const before = (await sendBatch(undefined)).stop;
      if (before) return end(before);
      return end({ change: c, ...(e instanceof HostStepFailed ? { code: e.code } : {}), message: (e as Error).message });
    }
    if (stop) return end(stop);
    // The finishing script (or none) is the step that records what the change declares.
    batch.push(entry(c, finish ?? sh`true`));
  }
  return end((await sendBatch(undefined)).stop);
}
