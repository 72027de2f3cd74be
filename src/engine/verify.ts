/**
 * Post-conditions: the checks' answer, from a verify round trip (waiting for
 * them to become true) or from the facts round trip they rode along in.
 */
import { redact } from '../secret.js';
import { afterChecks, parseVerify, verifyScript } from './batch.js';
import type { Emit } from './events.js';
import type { EarlyVerify, HostPlan } from './host-plan.js';
import { REBOOT_MARKER } from '../resources/prelude.js';

export interface VerifyOutcome {
  readonly failed: number;
  readonly failedBy: ReadonlyMap<string, number>;
  readonly rebootRequired: boolean;
  readonly error?: string;
}

/** `trailer`: hook shell that runs at the end only when every check passed (the end-of-install record). */
export async function runVerify(plan: HostPlan, waitSeconds: number, emit: Emit, trailer: string | undefined): Promise<VerifyOutcome> {
  const checks = plan.recipes.flatMap((rp) => rp.checks);
  const res = await plan.transport.exec(verifyScript(checks, waitSeconds) + afterChecks(trailer));
  return readVerify(plan, res.stdout, emit);
}

/** Whether every check of the plan passed in the facts round trip (their events not yet sent). */
export function allPassed(plan: HostPlan, early: EarlyVerify): boolean {
  const checks = plan.recipes.flatMap((rp) => rp.checks);
  return parseVerify(early.stdout, checks).every((o) => o.ok);
}

/** The checks' answer (of a verify round trip or the facts round trip) as events and an outcome. */
export function readVerify(plan: HostPlan, stdout: string, emit: Emit): VerifyOutcome {
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
