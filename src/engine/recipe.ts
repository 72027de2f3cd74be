/**
 * A recipe describes what a host should look like for one capability.
 * It returns resources (desired state) and checks (post-conditions); the
 * engine decides what to do about them.
 */
import type { z } from 'zod';
import type { DeclaredArtifact, ArtifactSet } from '../artifacts/index.js';
import type { HostConfig } from '../config.js';
import type { HostInfo } from '../host-info.js';
import type { Check, Resource } from '../resources/types.js';

export interface RecipeContext<P> {
  readonly params: P;
  readonly host: HostInfo;
  readonly config: HostConfig;
  /**
   * The artifacts the recipe declared, with URL and the sum to verify
   * against; the engine always passes it (optional so a test can build a
   * context for a recipe that declares none).
   */
  readonly artifacts?: ArtifactSet;
}

/** What a recipe's teardown knows: its context, and whether the user asked to remove kept data too. */
export interface TeardownContext<P> extends RecipeContext<P> {
  /** `--purge`: also remove what is kept by default (secrets, certificates, volumes, credentials). */
  readonly purge: boolean;
}

/** What precheck sees: the recipe's context, and a way to proceed with a word to the user. */
export interface PrecheckContext<P> extends RecipeContext<P> {
  /**
   * As planning's PlanContext.warn: shown by every sink and in the recap, and
   * the host proceeds (e.g. a release panel is not tested on, allowed by the
   * user). Optional so a test can call precheck with a bare context.
   */
  readonly warn?: (message: string) => void;
}

export interface Recipe<P = unknown> {
  readonly id: string;
  readonly title: string;
  /** Recipes that must converge before this one (also pulled in when this one is asked for). */
  readonly after: readonly string[];
  readonly params: z.ZodType<P>;
  /**
   * Refuse the host before anything changes: return a message to refuse
   * (e.g. unsupported OS), undefined to proceed.
   */
  // Method syntax on purpose: a Recipe<P> must be storable in a registry of
  // Recipe<unknown>; the engine always passes params parsed by `params`.
  precheck?(ctx: PrecheckContext<P>): string | undefined;
  /**
   * Release artifacts the recipe installs. The engine resolves them for the
   * host (URL, sum, where the sum came from) before precheck, refusing the
   * host when one cannot be verified, and reports each one.
   */
  artifacts?(params: P): readonly DeclaredArtifact[];
  resources(ctx: RecipeContext<P>): ReadonlyArray<Resource<unknown>>;
  verify?(ctx: RecipeContext<P>): readonly Check[];
  /**
   * The resources that take this recipe off the host (`panel uninstall`),
   * planned and applied like `resources` (facts → plan → apply). Without it
   * the recipe's removal is the default: what the state record lists for it.
   */
  teardown?(ctx: TeardownContext<P>): ReadonlyArray<Resource<unknown>>;
}

/** Identity function that keeps P inferred from the zod schema. */
export function defineRecipe<S extends z.ZodType>(r: {
  id: string;
  title: string;
  after?: readonly string[];
  params: S;
  precheck?: (ctx: PrecheckContext<z.output<S>>) => string | undefined;
  artifacts?: (params: z.output<S>) => readonly DeclaredArtifact[];
  resources: (ctx: RecipeContext<z.output<S>>) => ReadonlyArray<Resource<unknown>>;
  verify?: (ctx: RecipeContext<z.output<S>>) => readonly Check[];
  teardown?: (ctx: TeardownContext<z.output<S>>) => ReadonlyArray<Resource<unknown>>;
}): Recipe<z.output<S>> {
  return { after: [], ...r } as Recipe<z.output<S>>;
}
