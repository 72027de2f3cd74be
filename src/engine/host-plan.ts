/**
 * What planning hands to finishing: one host's plan. Types only, and only
 * type imports of modules below the engine's run (no hooks, no planning, no
 * apply), so every engine module can name a plan without an import circle.
 */
import type { HostConfig } from '../config.js';
import type { HostInfo } from '../host-info.js';
import type { Change, Check, Resource } from '../resources/types.js';
import type { Transport } from '../transport/types.js';
import type { ResolvedArtifact } from '../artifacts/index.js';
import type { HostState } from './state.js';
import type { Recipe } from './recipe.js';

/** A recipe built for one host: its resources, checks and artifacts, before any fact is read. */
export interface BuiltRecipe {
  readonly recipe: Recipe;
  readonly resources: readonly Resource[];
  readonly checks: readonly Check[];
  /** Raised by the recipe's precheck (redacted, each message once per host). */
  readonly warnings: readonly string[];
  /** The release artifacts the recipe declared, resolved for this host (URL, sum and its source). */
  readonly artifacts: readonly ResolvedArtifact[];
}

/** A built recipe planned against the host's facts. */
export interface RecipePlan extends BuiltRecipe {
  readonly changes: readonly Change[];
  /** Raised by this recipe's resources while planning. */
  readonly warnings: readonly string[];
}

export interface HostPlan {
  /** A teardown plan (uninstall). */
  readonly teardown: boolean;
  /** What the teardown leaves on the host on purpose (kept without --purge, pre-existing). */
  readonly kept: readonly string[];
  /** Teardown: everything left or moved aside, and why (`what: why`). */
  readonly notes: readonly string[];
  readonly config: HostConfig;
  readonly transport: Transport;
  readonly info: HostInfo;
  /** The host state record as the facts round trip read it. */
  readonly state: HostState;
  readonly recipes: readonly RecipePlan[];
  readonly startedAt: number;
  readonly channelsAtStart: number;
  /** The checks' answer from the facts round trip (run once, no waiting), when they rode along. */
  readonly early?: EarlyVerify;
  /** The files report hooks asked for (`HostHooks.reads`), as planning read them; undefined: not there. */
  readonly reads?: ReadonlyMap<string, Buffer | undefined>;
}

/** What the checks said in the facts round trip: verify mode's markers, parsed like a verify round trip's. */
export interface EarlyVerify {
  readonly stdout: string;
  /** The hooks' `checked` record rode along (written on the host if every check exited 0). */
  readonly checkedRecord?: boolean;
}
