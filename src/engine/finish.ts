/**
 * Finishing a planned host, one function per mode:
 *   plan    – report the plan;
 *   check   – the checks' answer (from planning when they rode along);
 *   install – apply each recipe's changes (./apply.ts), then verify
 *             everything (1 round trip, waiting for post-conditions). With
 *             nothing to change and every check passed in planning, no
 *             verify round trip: only the hooks' end-of-install shell (1
 *             round trip, when a hook has any).
 */
import { publicChange } from '../resources/types.js';
import { PanelBug } from '../result.js';
import { redact } from '../secret.js';
import { applyRecipes } from './apply.js';
import { hookScript } from './batch.js';
import type { Emit, HostResult } from './events.js';
import { contributions } from './hooks.js';
import type { HostPlan, RecipePlan } from './host-plan.js';
import { planResult } from './host-result.js';
import type { HostRunOptions } from './run-options.js';
import { allPassed, readVerify, runVerify, type VerifyOutcome } from './verify.js';

/**
 * `guard`: the host lock's lines that start every apply script of the run
 * (its interrupt file, the shared apply lock); see host-lock.ts.
 */
export async function finishHost(plan: HostPlan, opts: HostRunOptions, guard = ''): Promise<HostResult> {
  switch (opts.mode) {
    case 'plan':
      return reportPlan(plan, opts.emit);
    case 'check':
      return checkHost(plan, opts.emit);
    case 'install':
      return installHost(plan, opts, guard);
    default:
      throw new PanelBug(`unknown mode ${String(opts.mode satisfies never)}`);
  }
}

function startRecipe(plan: HostPlan, rp: RecipePlan, emit: Emit): void {
  const host = plan.config.name;
  emit({ type: 'recipe-start', host, recipe: rp.recipe.id, title: rp.recipe.title });
  for (const message of rp.warnings) emit({ type: 'warning', host, recipe: rp.recipe.id, message });
}

function changeCount(plan: HostPlan): number {
  return plan.recipes.reduce((n, r) => n + r.changes.length, 0);
}

function reportPlan(plan: HostPlan, emit: Emit): HostResult {
  const host = plan.config.name;
  for (const rp of plan.recipes) {
    startRecipe(plan, rp, emit);
    for (const c of rp.changes) emit({ type: 'change', host, recipe: rp.recipe.id, status: 'planned', change: publicChange(c) });
    emit({ type: 'recipe-end', host, recipe: rp.recipe.id, status: rp.changes.length ? 'changed' : 'ok', changes: rp.changes.length });
  }
  const changed = changeCount(plan);
  return planResult(plan, { status: changed ? 'changed' : 'ok', changed });
}

async function checkHost(plan: HostPlan, emit: Emit): Promise<HostResult> {
  const host = plan.config.name;
  // The same checks, run once without waiting: in the facts round trip when they rode along.
  const verified = plan.early ? readVerify(plan, plan.early.stdout, emit) : await runVerify(plan, 0, emit, undefined);
  for (const rp of plan.recipes) {
    startRecipe(plan, rp, emit);
    for (const c of rp.changes) emit({ type: 'change', host, recipe: rp.recipe.id, status: 'planned', change: publicChange(c) });
    const bad = verified.failedBy.get(rp.recipe.id) ?? 0;
    emit({ type: 'recipe-end', host, recipe: rp.recipe.id, status: rp.changes.length || bad ? 'changed' : 'ok', changes: rp.changes.length });
  }
  const changed = changeCount(plan);
  const drift = changed + verified.failed;
  return planResult(plan, { status: drift ? 'drift' : 'ok', changed, failedChecks: verified.failed, rebootRequired: verified.rebootRequired, ...(verified.error ? { error: verified.error } : {}) });
}

async function installHost(plan: HostPlan, opts: HostRunOptions, guard: string): Promise<HostResult> {
  const { config, transport } = plan;
  const host = config.name;
  const out = await applyRecipes(plan, opts, guard);
  if (!out.ok) return out.error;
  const { applied, rebootPaths } = out.value;
  const n = plan.recipes.length;

  const done = contributions(opts.hooks, (h) => h.installDone, { config });
  let verified: VerifyOutcome;
  const early = plan.early;
  if (changeCount(plan) === 0 && early !== undefined && allPassed(plan, early)) {
    // Nothing changed and every check already passed in the facts round trip:
    // no verify round trip. The record of a run with nothing to do (hooks'
    // `checked`) was written there too on a host seen before; planned in two
    // round trips (host info changed), it takes one of its own.
    verified = readVerify(plan, early.stdout, opts.emit);
    const checked = early.checkedRecord ? '' : contributions(opts.hooks, (h) => h.checked, { config });
    if (checked !== '') await transport.exec(hookScript(checked));
  } else {
    verified = await runVerify(plan, opts.verifyWaitSeconds ?? 30, opts.emit, done);
  }
  if (verified.failed > 0) {
    const error = verified.error ?? `${host}: verification failed`;
    // The host's record says so too (not "done"): progress.json agrees with the recap, last-run.json and the status page.
    const onFailure = contributions(opts.hooks, (h) => h.recipeFailed, { config, recipe: 'verify', index: n, total: n, changes: applied, error: redact(error) });
    if (onFailure !== '') await transport.exec(hookScript(onFailure)).catch(() => undefined);
    return planResult(plan, { status: 'failed', changed: applied, failed: 1, failedChecks: verified.failed, rebootRequired: verified.rebootRequired, error }, rebootPaths);
  }
  return planResult(plan, { status: applied ? 'changed' : 'ok', changed: applied, rebootRequired: verified.rebootRequired }, rebootPaths);
}
