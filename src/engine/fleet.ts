/**
 * Many hosts at once: one connection per host, at most `concurrency` hosts
 * in flight, a failing host never stops the others. With `confirm`, every
 * host is planned first, the caller approves the combined plan, and then
 * exactly those plans are applied.
 */
import type { HostConfig } from '../config.js';
import { redact } from '../secret.js';
import { openTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import type { Emit, HostResult } from './events.js';
import { finishHost } from './finish.js';
import type { HostPlan } from './host-plan.js';
import { failedResult } from './host-result.js';
import { planHost } from './plan.js';
import type { HostRunOptions } from './run-options.js';
import { ReleaseSums, TrustedSums } from '../artifacts/index.js';
import { prefetchArtifacts } from './artifacts.js';
import { DEFAULT_LOCK_WAIT_SECONDS, holderLine, planIsStale, takeHostLock, type HostLock } from './host-lock.js';
import { connectionId } from './host-info-cache.js';
import { summary } from '../resources/types.js';
import { err, ok, type Result } from '../result.js';

export interface FleetOptions extends Omit<HostRunOptions, 'emit'> {
  readonly concurrency: number;
  readonly emit: Emit;
  /** Called once with every host's plan before anything is applied; false aborts. */
  readonly confirm?: (plans: readonly HostPlan[]) => Promise<boolean>;
  /**
   * `install --reinstall`: with `teardown`, each host is taken off (without
   * purge) and then installed, on one connection, as one result.
   */
  readonly reinstall?: boolean;
  /** Open a transport (tests may inject); defaults to openTransport. */
  readonly connect?: (config: HostConfig) => Promise<Transport>;
  /** How long an applying run waits for another run's host lock (`--lock-wait`); default 600 s. */
  readonly lockWaitSeconds?: number;
  /** Who this run is, as a run that has to wait for it is told (holderLine). */
  readonly lockHolder?: string;
}

export async function runFleet(configs: readonly HostConfig[], opts: FleetOptions): Promise<HostResult[]> {
  const connect = opts.connect ?? ((c: HostConfig) => openTransport(c.connection, c.name));
  const results = new Map<string, HostResult>();
  const transports = new Map<string, Transport>();
  // One fetch per checksum asset for the whole fleet, started while connecting.
  const releaseSums = opts.releaseSums ?? new ReleaseSums();
  const trustedSums = opts.trustedSums ?? new TrustedSums();
  const runOpts: HostRunOptions = { ...opts, releaseSums, trustedSums };

  const finish = (r: HostResult): void => {
    results.set(r.host, r);
    opts.emit({ type: 'host-end', host: r.host, result: r });
  };

  const prepare = async (config: HostConfig): Promise<HostPlan | undefined> => {
    const startedAt = Date.now();
    if (opts.signal?.aborted) {
      finish(failedResult(config.name, `${config.name}: interrupted before connecting`, startedAt, 0, 'interrupted'));
      return undefined;
    }
    // A host seen before: only its own architecture's checksum assets (none at all when every sum is known here).
    const arch = opts.hostInfoCache?.get(config.name, connectionId(config.connection))?.arch;
    prefetchArtifacts(config, opts.registry, releaseSums, arch);
    const opened = await openHost(config, connect, startedAt);
    if (!opened.ok) {
      finish(opened.error);
      return undefined;
    }
    const transport = opened.value;
    transports.set(config.name, transport);
    try {
      const outcome = await planHost(config, transport, runOpts);
      if (!outcome.ok) {
        finish(outcome.error);
        return undefined;
      }
      return outcome.value;
    } catch (e) {
      finish(failedResult(config.name, `${config.name}: ${(e as Error).message}`, startedAt, transport.stats.channels));
      return undefined;
    }
  };

  const waitSeconds = opts.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS;
  const holder = opts.lockHolder ?? holderLine('run');

  const complete = async (planned: HostPlan): Promise<void> => {
    let plan = planned;
    let lock: HostLock | undefined;
    try {
      // Only a run that will change the host takes the lock: plan, check and no-op runs pay no round trip for it.
      const changes = plan.recipes.some((r) => r.changes.length > 0);
      if (opts.mode === 'install' && (changes || (opts.reinstall && plan.teardown))) {
        const host = plan.config.name;
        const took = await takeHostLock(plan.transport, {
          holder,
          waitSeconds,
          ...(opts.signal ? { signal: opts.signal } : {}),
          onWait: (by) => opts.emit({ type: 'lock-wait', host, holder: by, waitSeconds }),
        });
        if (!took.ok) {
          finish(failedResult(host, `${host}: ${took.error}`, plan.startedAt, plan.transport.stats.channels - plan.channelsAtStart, took.interrupted ? 'interrupted' : 'failed'));
          return;
        }
        lock = took.lock;
        if (planIsStale(lock, Date.now() - plan.startedAt)) {
          // Another run changed the host since this one read its facts: plan again from the host as it is now.
          const again = await planHost(plan.config, plan.transport, runOpts);
          if (!again.ok) {
            finish(again.error);
            return;
          }
          // An approved plan is applied as approved or not at all: what the other run left may need other changes.
          if (opts.confirm && hasChanges(again.value) && planText(again.value) !== planText(plan)) {
            finish(
              failedResult(
                host,
                `${host}: another panel run changed the host after you approved this plan, and the plan is no longer the same: nothing applied; run again to review the new plan`,
                plan.startedAt,
                plan.transport.stats.channels - plan.channelsAtStart,
                'interrupted',
              ),
            );
            return;
          }
          plan = { ...again.value, startedAt: plan.startedAt, channelsAtStart: plan.channelsAtStart };
        }
      }
      const guard = lock?.guard ?? '';
      // Reports written on the host after the run (the status page), with the connection still open.
      const done = async (last: HostPlan, r: HostResult): Promise<void> => {
        const before = last.transport.stats.channels;
        for (const h of opts.hooks ?? []) await h.hostDone?.(last, r).catch(() => undefined);
        // The reports' round trips are the host's too: the count (and the benchmark) includes them.
        const after = last.transport.stats;
        const extra = after.channels - before;
        finish(extra === 0 ? r : { ...r, roundTrips: r.roundTrips + extra, bytesSent: after.wireBytesSent, bytesReceived: after.wireBytesReceived });
      };
      const first = await finishHost(plan, runOpts, guard);
      if (!opts.reinstall || !plan.teardown || first.status === 'failed' || first.status === 'interrupted') {
        await done(plan, first);
        return;
      }
      const { teardown: _, ...install } = runOpts;
      const again = await planHost(plan.config, plan.transport, install);
      if (!again.ok) {
        finish(combine(first, again.error));
        return;
      }
      await done(again.value, combine(first, await finishHost(again.value, install, guard)));
    } catch (e) {
      finish(failedResult(plan.config.name, `${plan.config.name}: ${(e as Error).message}`, plan.startedAt, plan.transport.stats.channels - plan.channelsAtStart));
    } finally {
      await lock?.release();
    }
  };

  const closeAll = async (): Promise<void> => {
    await Promise.all([...transports.values()].map((t) => t.close().catch(() => undefined)));
    transports.clear();
  };

  try {
    if (opts.confirm && opts.mode === 'install') {
      const plans = (await pool(configs, opts.concurrency, prepare)).filter((p): p is HostPlan => p !== undefined);
      const approved = plans.length > 0 && (await opts.confirm(plans));
      if (!approved) {
        for (const p of plans) finish(failedResult(p.config.name, `${p.config.name}: not applied (not confirmed)`, p.startedAt, 0, 'interrupted'));
      } else {
        await pool(plans, opts.concurrency, complete);
      }
    } else {
      await pool(configs, opts.concurrency, async (c) => {
        const plan = await prepare(c);
        if (plan) await complete(plan);
        const t = transports.get(c.name);
        if (t) {
          transports.delete(c.name);
          await t.close().catch(() => undefined);
        }
      });
    }
  } finally {
    await closeAll();
  }

  const ordered = configs.map((c) => results.get(c.name) ?? failedResult(c.name, `${c.name}: no result`, Date.now()));
  opts.emit({ type: 'recap', mode: opts.mode, hosts: ordered.map((r) => ({ ...r, ...(r.error ? { error: redact(r.error) } : {}) })) });
  return ordered;
}

/**
 * Open a host's transport; a failure is the host's result. Transport errors
 * name `user@addr:port`; an inventory host is known by its inventory name,
 * so that name leads unless it already does.
 */
export async function openHost(config: HostConfig, connect: (c: HostConfig) => Promise<Transport>, startedAt: number): Promise<Result<Transport, HostResult>> {
  try {
    return ok(await connect(config));
  } catch (e) {
    const msg = (e as Error).message;
    return err(failedResult(config.name, msg.startsWith(`${config.name}:`) ? msg : `${config.name}: ${msg}`, startedAt));
  }
}

/** One result for a host taken off and installed again in one run. */
export function combine(removed: HostResult, installed: HostResult): HostResult {
  const rebootPaths = [...new Set([...(removed.rebootPaths ?? []), ...(installed.rebootPaths ?? [])])];
  const changed = removed.changed + installed.changed;
  return {
    ...installed,
    status: installed.status === 'ok' && changed > 0 ? 'changed' : installed.status,
    changed,
    rebootRequired: removed.rebootRequired || installed.rebootRequired,
    ...(rebootPaths.length > 0 ? { rebootPaths } : {}),
    ...(removed.kept ? { kept: removed.kept } : {}),
    ...(removed.notes ? { notes: removed.notes } : {}),
    durationMs: removed.durationMs + installed.durationMs,
    roundTrips: removed.roundTrips + installed.roundTrips,
  };
}

/** Run `fn` over items with at most `limit` in flight, keeping input order in the output. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

function hasChanges(plan: HostPlan): boolean {
  return plan.recipes.some((r) => r.changes.length > 0);
}

/** What a person approved of a host's plan: each recipe's changes, in order. */
function planText(plan: HostPlan): string {
  return plan.recipes.map((r) => `${r.recipe.id}: ${r.changes.map((c) => summary(c)).join('; ')}`).join('\n');
}
