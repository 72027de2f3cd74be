/** A host run's result: the failure before any change, and the one built from a plan. */
import { redact } from '../secret.js';
import type { HostResult } from './events.js';
import type { HostPlan } from './host-plan.js';

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

const OS_REBOOT_REQUIRED = '/var/run/reboot-required';

/** Kept paths for the report: a directory stands for everything kept below it. */
function outermost(kept: readonly string[]): string[] {
  const all = [...new Set(kept)];
  return all.filter((k) => !all.some((o) => o !== k && k.startsWith(`${o}/`)));
}

/**
 * The result of a planned host: counts from the plan, `over` from how it
 * ended; `rebootPaths` are what apply steps could not free (panel_reboot_required).
 */
export function planResult(plan: HostPlan, over: Partial<HostResult> & Pick<HostResult, 'status'>, rebootPaths: readonly string[] = []): HostResult {
  const { transport } = plan;
  const resourceCount = plan.recipes.reduce((n, r) => n + r.resources.length, 0);
  const changedResources = new Set(plan.recipes.flatMap((r) => r.changes.map((c) => c.resource))).size;
  const warnings = plan.recipes.flatMap((r) => r.warnings);
  const r: HostResult = {
    host: plan.config.name,
    ok: resourceCount - changedResources,
    changed: 0,
    failed: 0,
    failedChecks: 0,
    rebootRequired: false,
    durationMs: Date.now() - plan.startedAt,
    roundTrips: transport.stats.channels - plan.channelsAtStart,
    ...(warnings.length ? { warnings } : {}),
    ...(plan.kept.length > 0 ? { kept: outermost(plan.kept) } : {}),
    ...(plan.notes.length > 0 ? { notes: [...new Set(plan.notes)] } : {}),
    bytesSent: transport.stats.wireBytesSent,
    bytesReceived: transport.stats.wireBytesReceived,
    ...over,
  };
  const paths = [...rebootPaths, ...(r.rebootRequired ? [OS_REBOOT_REQUIRED] : [])];
  return paths.length > 0 ? { ...r, rebootRequired: true, rebootPaths: [...new Set(paths)] } : r;
}

/** `nginx: file:/etc/…`, but `certificate:example.com` rather than `certificate: certificate:example.com`. */
export function resourceIn(recipeId: string, key: string): string {
  return key.startsWith(`${recipeId}:`) ? key : `${recipeId}: ${key}`;
}
