/**
 * Where report sinks plug into a host run. Events (./events.ts) go to every
 * sink on the machine running panel; hooks let a sink add shell to the
 * engine's own round trips, so reporting on the host (progress.json) costs
 * no connection of its own. The engine never imports a sink: the CLI passes
 * the hooks it wants.
 *
 * A contribution must never fail the run: the engine wraps it so its exit
 * status and output are ignored.
 */
import type { HostConfig } from '../config.js';
import type { Script } from '../shell.js';
import type { HostResult } from './events.js';
import type { HostPlan } from './host-plan.js';

export interface RecipeApplyPoint {
  readonly config: HostConfig;
  readonly recipe: string;
  /** 0-based position among the host's recipes, and their number. */
  readonly index: number;
  readonly total: number;
  readonly changes: number;
}

export interface RecipeFailurePoint extends RecipeApplyPoint {
  /** The error line the engine reports (already redacted). */
  readonly error: string;
}

export interface HostHooks {
  /** Shell at the start of a recipe's apply round trip (after the host's prepare hooks). */
  readonly recipeApply?: (at: RecipeApplyPoint) => Script | undefined;
  /** Shell in a round trip of its own after a recipe failed. */
  readonly recipeFailed?: (at: RecipeFailurePoint) => Script | undefined;
  /** Shell at the end of an install's verify round trip. */
  readonly installDone?: (at: { readonly config: HostConfig }) => Script | undefined;
  /**
   * Shell in an install's planning round trip on a host seen before, run on
   * the host only when every check passed there: the record of a run that
   * finds nothing to do, written before the plan is known (so a converged
   * host costs one round trip). What it means: "this run read the host and
   * every check passed"; a run with changes writes its own records after it
   * (recipeApply, installDone, recipeFailed), so as the last record it says
   * the run applied nothing. Also the end record of a no-op install planned
   * in two round trips (host info changed), in a round trip of its own.
   */
  readonly checked?: (at: { readonly config: HostConfig }) => Script | undefined;
  /**
   * After a planned host finished (applied, checked or failed while applying),
   * with its connection still open: for reports that need the run's result
   * (the status page). Its errors are ignored.
   */
  readonly hostDone?: (plan: HostPlan, result: HostResult) => Promise<void>;
  /**
   * Files `hostDone` reads on the host: read in the planning round trip
   * (`HostPlan.reads`), so a run that changes nothing needs no round trip to
   * read them. Only current when nothing changed on the host.
   */
  readonly reads?: (config: HostConfig) => readonly string[];
}

/** Every hook's contribution at one point, each isolated so it can neither fail nor print into the engine's markers. */
export function contributions<P>(hooks: readonly HostHooks[] | undefined, pick: (h: HostHooks) => ((at: P) => Script | undefined) | undefined, at: P): string {
  const parts: string[] = [];
  for (const h of hooks ?? []) {
    const s = pick(h)?.(at);
    if (s !== undefined && String(s).trim() !== '') parts.push(`{\n${String(s)}\n} >/dev/null 2>&1 </dev/null || true`);
  }
  return parts.join('\n');
}
