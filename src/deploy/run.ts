/**
 * `panel deploy` over a fleet: every host planned (at most `concurrency` at
 * once), one confirmation for all of them when asked, then each host applied
 * on the connection it was planned on. A failing host never stops the others.
 */
import type { HostConfig } from '../config.js';
import type { RunnerOptions } from '../cli/converge.js';
import type { HostResult } from '../engine/events.js';
import { openHost, pool } from '../engine/fleet.js';
import { failedResult } from '../engine/host-result.js';
import { redact } from '../secret.js';
import { openTransport } from '../transport/index.js';
import type { Transport } from '../transport/types.js';
import { applyDeployHost, DEPLOY, planDeployHost, publicChanges, type DeployOptions, type HostDeployPlan } from './host.js';

export interface DeployRun extends Omit<DeployOptions, 'emit' | 'signal' | 'lockWaitSeconds' | 'lockHolder'> {
  readonly dryRun: boolean;
  readonly connect?: (config: HostConfig) => Promise<Transport>;
}

export function deployRunner(configs: readonly HostConfig[], d: DeployRun): (o: RunnerOptions) => Promise<HostResult[]> {
  return async (o) => {
    const connect = d.connect ?? ((c: HostConfig) => openTransport(c.connection, c.name));
    const opts: DeployOptions = { ...d, emit: o.emit, signal: o.signal, lockWaitSeconds: o.lockWaitSeconds, lockHolder: o.lockHolder };
    const results = new Map<string, HostResult>();
    const transports: Transport[] = [];
    const finish = (r: HostResult): void => {
      results.set(r.host, r);
      o.emit({ type: 'host-end', host: r.host, result: r });
    };
    const prepare = async (config: HostConfig): Promise<HostDeployPlan | undefined> => {
      const startedAt = Date.now();
      if (o.signal.aborted) {
        finish(failedResult(config.name, `${config.name}: interrupted before connecting`, startedAt, 0, 'interrupted'));
        return undefined;
      }
      const opened = await openHost(config, connect, startedAt);
      if (!opened.ok) {
        finish(opened.error);
        return undefined;
      }
      const t = opened.value;
      transports.push(t);
      try {
        const planned = await planDeployHost(config, t, opts);
        if (!planned.ok) {
          o.emit({ type: 'recipe-end', host: config.name, recipe: DEPLOY, status: 'failed', changes: 0, ...(planned.result.error ? { error: planned.result.error } : {}) });
          finish(planned.result);
          return undefined;
        }
        return planned.plan;
      } catch (e) {
        finish(failedResult(config.name, `${config.name}: ${DEPLOY}: ${(e as Error).message}`, startedAt, t.stats.channels));
        return undefined;
      }
    };
    const apply = async (p: HostDeployPlan): Promise<void> => {
      try {
        finish(await applyDeployHost(p, opts, d.dryRun));
      } catch (e) {
        finish(failedResult(p.config.name, `${p.config.name}: ${DEPLOY}: ${(e as Error).message}`, p.startedAt, p.transport.stats.channels));
      }
    };
    try {
      if (o.confirm && !d.dryRun) {
        const plans = (await pool(configs, o.concurrency, prepare)).filter((p): p is HostDeployPlan => p !== undefined);
        const changes = plans.flatMap((p) => publicChanges(p.plan).map((change) => ({ host: p.config.name, recipe: DEPLOY, change })));
        if (plans.length > 0 && (await o.confirm(changes, plans.length))) await pool(plans, o.concurrency, apply);
        else for (const p of plans) finish(failedResult(p.config.name, `${p.config.name}: not applied (not confirmed)`, p.startedAt, 0, 'interrupted'));
      } else {
        await pool(configs, o.concurrency, async (c) => {
          const p = await prepare(c);
          if (p) await apply(p);
        });
      }
    } finally {
      await Promise.all(transports.map((t) => t.close().catch(() => undefined)));
    }
    const ordered = configs.map((c) => results.get(c.name) ?? failedResult(c.name, `${c.name}: no result`, Date.now()));
    o.emit({ type: 'recap', mode: d.dryRun ? 'plan' : 'install', hosts: ordered.map((r) => ({ ...r, ...(r.error ? { error: redact(r.error) } : {}) })) });
    return ordered;
  };
}
