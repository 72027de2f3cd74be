/**
 * A systemd service's enabled/running state, and restarts that survive an
 * interrupted run: a restart is recorded in the host state record (prepare
 * hook, merged into state.json at once) before any change of the round trip
 * runs, and cleared only after the restart succeeded — so if the config write
 * happened but the restart did not, the next run still restarts (Ansible's
 * lost-handler bug, ansible#10498).
 *
 * `restartOn`/`reloadOn` hold the resources themselves; the engine refuses a
 * reference to a resource that is not in the host's plan or comes after the
 * service (its change could never be seen in time).
 */
import { lines, type Script, sh } from '../shell.js';
import type { ServiceOptions } from './api.js';
import type { Change, FactOutput, PlanContext, Reference, Resource } from './types.js';
import { noStdin, opt, parseKv, plannedBy } from './util.js';

export interface ServiceFacts {
  /** `systemctl is-enabled`: enabled, disabled, static, masked, not-found, '' … */
  readonly enabled: string;
  /** `systemctl is-active`: active, inactive, failed, activating, '' … */
  readonly active: string;
  /** ActiveEnterTimestamp, '' when never active. */
  readonly since: string;
}

const UNIT = /^[A-Za-z0-9:_.@\\-]+$/;

/** States in which the unit counts as enabled (static/indirect units cannot be enabled further). */
const ENABLED_LIKE = new Set(['enabled', 'enabled-runtime', 'static', 'indirect', 'generated', 'alias', 'linked', 'linked-runtime']);
const RUNNING_LIKE = new Set(['active', 'activating', 'reloading', 'deactivating']);

export class ServiceResource implements Resource<ServiceFacts> {
  readonly key: string;
  /** Full unit name, `containerd.service`. */
  readonly unit: string;
  constructor(readonly o: ServiceOptions) {
    this.key = `service:${o.name}`;
    this.unit = /\.[a-z]+$/.test(o.name) ? o.name : `${o.name}.service`;
  }

  /** The resources this service restarts or reloads on; the engine checks each is planned before it. */
  get references(): readonly Reference[] {
    return [
      ...(this.o.restartOn ?? []).map((r) => ({ field: 'restartOn', key: r.key })),
      ...(this.o.reloadOn ?? []).map((r) => ({ field: 'reloadOn', key: r.key })),
    ];
  }

  /** Asked for all services of the batch at once (prelude: panel_units_prefetch). */
  get units(): readonly string[] {
    return [this.unit];
  }

  facts(): Script {
    return noStdin(sh`panel_unit_facts ${this.unit}
true`);
  }

  parse(out: FactOutput): ServiceFacts {
    const kv = parseKv(this.key, out);
    return {
      enabled: opt(kv, 'enabled') ?? '',
      active: opt(kv, 'active') ?? '',
      since: opt(kv, 'since') ?? '',
    };
  }

  plan(f: ServiceFacts, ctx: PlanContext): Change[] {
    const u = this.unit;
    const base = { resource: this.key, target: u };
    const changes: Change[] = [];
    const restartBy = plannedBy(ctx, (this.o.restartOn ?? []).map((r) => r.key));
    const reloadBy = plannedBy(ctx, (this.o.reloadOn ?? []).map((r) => r.key));
    // A restart/reload recorded by an earlier, interrupted run.
    const pending = ctx.state?.pending(u);
    const upstream = [...restartBy, ...reloadBy];
    const afterOf = (xs: string[]) => (xs.length > 0 ? { after: xs } : {});
    const clear = sh`panel_pending_clear ${u}`;
    // A unit that does not come up: the error carries its journal, not just "exit 1".
    const orFail = (action: 'start' | 'restart' | 'reload'): Script => sh`systemctl ${action} ${u} || { panel_unit_journal ${u} >&2; exit 1; }`;
    // A unit file written earlier in the script is read first (prelude: panel_units_fresh).
    const fresh = sh`panel_units_fresh || exit 1`;

    const isEnabled = ENABLED_LIKE.has(f.enabled);
    if (this.o.enabled && !isEnabled) {
      const masked = f.enabled === 'masked' || f.enabled === 'masked-runtime';
      changes.push({
        ...base,
        action: 'enable',
        reason: f.enabled === '' ? 'not found' : f.enabled,
        ...afterOf(upstream),
        // The links only, no reload of systemd for each: the script's end reloads once (prelude: panel_units_stale).
        // A unit systemd holds as masked cannot start until it reloads: an unmask marks the units, not only the links.
        script: lines(
          masked ? sh`systemctl unmask --no-reload ${u} && panel_units_stale units || exit 1` : undefined,
          sh`systemctl enable --no-reload ${u} || exit 1`,
          sh`panel_units_stale links || exit 1`,
        ),
      });
    } else if (!this.o.enabled && (f.enabled === 'enabled' || f.enabled === 'enabled-runtime')) {
      changes.push({ ...base, action: 'disable', reason: f.enabled, script: lines(sh`systemctl disable --no-reload ${u} || exit 1`, sh`panel_units_stale links || exit 1`) });
    }

    const running = RUNNING_LIKE.has(f.active);
    if (this.o.running) {
      if (!running) {
        // A start loads the new definition and config anyway: no restart on top of it.
        changes.push({
          ...base,
          action: 'start',
          reason: f.active === '' ? 'not found' : f.active,
          ...afterOf(upstream),
          // An earlier change of this run (a package's postinst) may have
          // started the unit already, with the old config: restart it then.
          script: lines(
            fresh,
            sh`systemctl reset-failed ${u} >/dev/null 2>&1 || true`,
            restartBy.length > 0 || reloadBy.length > 0
              ? sh`if systemctl is-active --quiet ${u}; then systemctl restart ${u} || { panel_unit_journal ${u} >&2; exit 1; }; else systemctl start ${u} || { panel_unit_journal ${u} >&2; exit 1; }; fi`
              : orFail('start'),
            clear,
          ),
        });
      } else if (restartBy.length > 0 || pending === 'restart') {
        const prepare = sh`panel_pending_set ${u} restart`;
        changes.push({
          ...base,
          action: 'restart',
          reason: restartBy.length > 0 ? 'dependency changed' : 'restart pending from an earlier run',
          ...afterOf(restartBy),
          prepare,
          script: lines(fresh, orFail('restart'), clear),
        });
      } else if (reloadBy.length > 0 || pending === 'reload') {
        const prepare = sh`panel_pending_set ${u} reload`;
        changes.push({
          ...base,
          action: 'reload',
          reason: reloadBy.length > 0 ? 'configuration changed' : 'reload pending from an earlier run',
          ...afterOf(reloadBy),
          prepare,
          script: lines(fresh, orFail('reload'), clear),
        });
      }
    } else if (running) {
      changes.push({ ...base, action: 'stop', reason: f.active, script: lines(fresh, sh`systemctl stop ${u} || exit 1`, clear) });
    }
    return changes;
  }
}

export function service(o: ServiceOptions): ServiceResource {
  if (!UNIT.test(o.name)) throw new Error(`service: not a unit name: ${JSON.stringify(o.name)}`);
  return new ServiceResource(o);
}
