/** What a host run is asked to do, shared by planning and finishing (./plan.ts, ./finish.ts). */
import type { ReleaseSums, TrustedSums } from '../artifacts/index.js';
import type { TeardownMode } from '../resources/types.js';
import type { Emit, Mode } from './events.js';
import type { HostHooks } from './hooks.js';
import type { HostInfoCache } from './host-info-cache.js';
import type { Recipe } from './recipe.js';

export interface HostRunOptions {
  readonly mode: Mode;
  readonly registry: ReadonlyMap<string, Recipe>;
  readonly emit: Emit;
  /** Stop between atomic steps when aborted (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Ignore the host's stat cache and rehash every file (`check --deep`). */
  readonly deep?: boolean;
  /** How long post-conditions may take to become true after apply. */
  readonly verifyWaitSeconds?: number;
  /** Release checksum assets fetched in this run (shared by the fleet); a fresh one when absent. */
  readonly releaseSums?: ReleaseSums;
  /** Sums recorded on first use (--trust-artifact), shared by the fleet; the default record when absent. */
  readonly trustedSums?: TrustedSums;
  /**
   * Host info of earlier runs: with an entry, planning takes one round trip
   * (info, facts and, for check and install, the checks together); without,
   * two (info, then facts).
   */
  readonly hostInfoCache?: HostInfoCache;
  /** Shell contributions of report sinks (progress.json on the host, …). */
  readonly hooks?: readonly HostHooks[];
  /**
   * Take the host's recipes off instead of converging them (`panel
   * uninstall`): each recipe's `teardown`, dependents before what they
   * depend on. `mode` still says plan (dry run) or install (apply).
   */
  readonly teardown?: TeardownMode;
}
