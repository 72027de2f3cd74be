/**
 * install / plan / check / renew: resolve hosts, pick sinks, run the fleet,
 * print the recap, choose the exit code.
 *   install: 0 converged, 1 any host failed
 *   plan:    0 (changes or not), 1 any host failed
 *   check:   0 converged, 2 drift, 1 error
 *   uninstall / install --reinstall: as install, and 3 when a host needs a
 *   reboot to finish (something could not be freed, or the OS asks for one)
 */
import { createInterface } from 'node:readline/promises';
import type { HostConfig } from '../config.js';
import type { EngineEvent, HostResult, Mode } from '../engine/events.js';
import { runFleet } from '../engine/fleet.js';
import { DEFAULT_LOCK_WAIT_SECONDS, holderLine } from '../engine/host-lock.js';
import { progressHooks } from '../report/host-progress.js';
import type { HostPlan } from '../engine/host-plan.js';
import type { Recipe } from '../engine/recipe.js';
import { publicChange, type PublicChange, type TeardownMode } from '../resources/types.js';
import { ndjsonSink } from '../report/ndjson.js';
import { plainSink } from '../report/plain.js';
import { planPrinter, wantColor } from '../report/plan-printer.js';
import { formatRecap } from '../report/recap.js';
import { redact } from '../secret.js';
import { NOT_ROOT_MESSAGE } from '../transport/local.js';
import type { Transport } from '../transport/types.js';
import { failedLastTime, lastRunPath, saveLastRun, stateDir } from './last-run.js';
import { HostInfoStore } from './host-info-store.js';
import type { CommonFlags } from './flags.js';
import { UsageError } from './options.js';
import { statusReads, writeStatusPage, type HealthCheck } from '../status/page.js';
import { TrustedSums, TRUST_FILE } from '../artifacts/index.js';
import { join } from 'node:path';
import { afterInstall, renewedFromHere, type RenewalRequest } from './renewal-schedule.js';

/** Printed as `panel: …`, so it does not start with "panel" itself (NOT_ROOT_MESSAGE does). */
export const LOCAL_NEEDS_ROOT = `${NOT_ROOT_MESSAGE.replace(/^panel /, '')}, or name a remote host with --host user@addr`;

export interface ConvergeInput {
  readonly mode: Mode;
  readonly flags: CommonFlags;
  readonly configs: readonly HostConfig[];
  readonly registry: ReadonlyMap<string, Recipe>;
  /** Opens a host's transport (tests pass a stand-in; default: the host's own connection). */
  readonly connect?: (config: HostConfig) => Promise<Transport>;
  /** `panel uninstall` (mode install = apply, plan = --dry-run). */
  readonly teardown?: TeardownMode;
  /** `install --reinstall`: teardown without purge, then install, one report. */
  readonly reinstall?: boolean;
  /** `install`: schedule the certificates' renewal here, or end with how to (renewal-schedule.ts). */
  readonly renewal?: RenewalRequest;
  /**
   * Runs the hosts in place of the recipe engine (`panel deploy`); sinks,
   * confirmation, Ctrl-C, the recap and the exit code stay this module's.
   */
  readonly runner?: (o: RunnerOptions) => Promise<HostResult[]>;
}

/** One change of a plan, as a person approves it. */
export interface PlannedChange {
  readonly host: string;
  readonly recipe: string;
  readonly change: PublicChange;
}

export interface RunnerOptions {
  readonly emit: (e: EngineEvent) => void;
  readonly signal: AbortSignal;
  readonly concurrency: number;
  readonly lockWaitSeconds: number;
  readonly lockHolder: string;
  /** Asked once with every host's changes before anything is applied (a terminal without --yes); false: apply nothing. */
  readonly confirm?: (changes: readonly PlannedChange[], hosts: number) => Promise<boolean>;
}

/** Exit code of an uninstall or reinstall that needs a reboot to finish. */
export const EXIT_REBOOT_REQUIRED = 3;

export async function converge(input: ConvergeInput): Promise<number> {
  const { mode, flags } = input;
  let configs = input.configs;
  if (flags.retryFailed) {
    const failed = failedLastTime();
    if (!Array.isArray(failed)) throw new UsageError(failed.error);
    configs = configs.filter((c) => failed.includes(c.name));
    if (configs.length === 0) {
      process.stderr.write('panel: no host failed last time; nothing to retry\n');
      return 0;
    }
  }
  if (configs.some((c) => c.connection.kind === 'local') && typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UsageError(LOCAL_NEEDS_ROOT);
  }
  const concurrency = flags.concurrency === undefined ? 10 : Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new UsageError(`--concurrency ${JSON.stringify(flags.concurrency)}: a whole number from 1 to 256`);

  const lockWait = flags.lockWait === undefined ? DEFAULT_LOCK_WAIT_SECONDS : Number(flags.lockWait);
  if (!Number.isInteger(lockWait) || lockWait < 0 || lockWait > 86_400) throw new UsageError(`--lock-wait ${JSON.stringify(flags.lockWait)}: whole seconds from 0 to 86400`);

  const json = flags.json ?? false;
  const tty = Boolean(process.stderr.isTTY) && !json && process.env['CI'] !== 'true';
  const wantConfirm = mode === 'install' && !flags.yes && !json && Boolean(process.stdin.isTTY) && Boolean(process.stdout.isTTY);
  // listr2 loads only for the interactive tree (not for --json, CI or piped runs).
  const listr = tty ? await import('../report/listr.js') : undefined;
  let listrDone: Promise<void> | undefined;
  const startSinks = (): ((e: EngineEvent) => void)[] => {
    const sinks: ((e: EngineEvent) => void)[] = [];
    if (json) return [ndjsonSink((l) => process.stdout.write(l))];
    if (listr) {
      const l = listr.listrSink(configs.map((c) => c.name), process.stderr, mode);
      sinks.push(l.emit);
      listrDone = l.done;
    } else {
      sinks.push(plainSink((l) => process.stderr.write(l), mode));
    }
    if (mode !== 'install') sinks.push(planPrinter((t) => process.stdout.write(t), { diffs: true, color: wantColor(process.stdout) }));
    return sinks;
  };
  // While waiting for confirmation the plan is printed as a whole; the
  // progress tree starts afterwards and replays what happened so far.
  let buffered: EngineEvent[] | undefined = wantConfirm ? [] : undefined;
  let sinks = wantConfirm ? [] : startSinks();
  // The run's health checks per host, for the status page.
  const health = new Map<string, HealthCheck[]>();
  const emit = (e: EngineEvent): void => {
    if (e.type === 'verify') health.set(e.host, [...(health.get(e.host) ?? []), { check: e.check, ok: e.ok }]);
    if (buffered) buffered.push(e);
    else sinks.forEach((s) => s(e));
  };
  const goLive = (): void => {
    const replay = buffered ?? [];
    buffered = undefined;
    sinks = startSinks();
    replay.forEach(emit);
  };

  const confirmChanges = wantConfirm
    ? async (changes: readonly PlannedChange[], hosts: number): Promise<boolean> => {
        if (changes.length > 0) {
          for (const { host, recipe, change: c } of changes) {
            process.stdout.write(redact(`${host}  ${recipe}  ~ ${c.summary}${c.after?.length ? `  (after: ${c.after.join('; ')})` : ''}\n`));
            if (c.diff) process.stdout.write(redact(c.diff.replace(/\n?$/, '\n')));
          }
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          const answer = await rl.question(`Apply ${changes.length} change(s) on ${hosts} host(s)? [y/N] `);
          rl.close();
          if (!/^y(es)?$/i.test(answer.trim())) return false;
        }
        goLive();
        return true;
      }
    : undefined;
  const confirm = confirmChanges
    ? (plans: readonly HostPlan[]): Promise<boolean> =>
        confirmChanges(
          plans.flatMap((p) => p.recipes.flatMap((r) => r.changes.map((c) => ({ host: p.config.name, recipe: r.recipe.id, change: publicChange(c) })))),
          plans.length,
        )
    : undefined;

  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts++;
    if (interrupts === 1) {
      process.stderr.write('\npanel: interrupted — finishing the current step on each host (Ctrl-C again to quit now)\n');
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);

  // The subcommand only: argv may hold secrets (-p).
  const holder = holderLine(process.argv.slice(2).find((a) => !a.startsWith('-')) ?? 'run');
  let results: HostResult[];
  try {
    results = input.runner
      ? await input.runner({ emit, signal: controller.signal, concurrency, lockWaitSeconds: lockWait, lockHolder: holder, ...(confirmChanges ? { confirm: confirmChanges } : {}) })
      : await runFleet(configs, {
          mode,
          registry: input.registry,
          emit,
          signal: controller.signal,
          concurrency,
          lockWaitSeconds: lockWait,
          lockHolder: holder,
          deep: flags.deep ?? false,
          // The status page is a report of an install; a teardown (uninstall) leaves it alone.
          hooks: mode === 'install' && !input.teardown ? [progressHooks, { hostDone: (plan, r) => writeStatusPage(plan, r, health.get(r.host) ?? []), reads: statusReads }] : [progressHooks],
          trustedSums: new TrustedSums(join(stateDir(), TRUST_FILE)),
          hostInfoCache: new HostInfoStore(join(stateDir(), 'host-info')),
          ...(input.teardown ? { teardown: input.teardown } : {}),
          ...(input.reinstall ? { reinstall: true } : {}),
          ...(confirm ? { confirm } : {}),
          ...(input.connect ? { connect: input.connect } : {}),
        });
  } finally {
    process.off('SIGINT', onSigint);
    if (buffered) goLive();
  }
  await listrDone;
  // --retry-failed reads the last install's hosts: a deploy leaves that record alone.
  if (mode === 'install' && !input.runner) {
    try {
      saveLastRun({ mode, finishedAt: new Date().toISOString(), hosts: results });
    } catch (e) {
      process.stderr.write(`panel: could not save ${lastRunPath()}: ${(e as Error).message}\n`);
    }
  }
  if (!json) process.stdout.write('\n' + redact(formatRecap(mode, results)));
  let scheduleFailed = false;
  if (input.renewal && mode === 'install') {
    let note: string | undefined;
    try {
      note = afterInstall(input.renewal, renewedFromHere(configs, input.registry), process.cwd());
    } catch (e) {
      note = `panel: the certificates' renewal could not be scheduled: ${(e as Error).message}\n`;
      scheduleFailed = input.renewal.schedule;
    }
    // The recap's last lines (on stderr with --json, so stdout stays NDJSON).
    if (note) (json ? process.stderr : process.stdout).write(redact(note));
  }
  if (scheduleFailed || results.some((r) => r.status === 'failed' || r.status === 'interrupted')) return 1;
  if (mode === 'check' && results.some((r) => r.status === 'drift')) return 2;
  if (input.teardown && mode === 'install' && results.some((r) => r.rebootRequired)) return EXIT_REBOOT_REQUIRED;
  return 0;
}
