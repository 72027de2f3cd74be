/**
 * Every recipe's desired state for one host info, before any fact is known:
 * parameters, artifacts, prechecks, resources and checks. Refusals happen
 * here, before any change. Its events wait until the info is confirmed.
 */
import type { HostConfig } from '../config.js';
import type { HostInfo } from '../host-info.js';
import type { Check, Resource, TeardownMode } from '../resources/types.js';
import { removal } from '../resources/removal.js';
import { redact } from '../secret.js';
import type { Transport } from '../transport/types.js';
import type { ReleaseSums, ResolvedArtifact, TrustedSums } from '../artifacts/index.js';
import { err, ok, type Result } from '../result.js';
import { declaredArtifacts, resolveHostArtifacts } from './artifacts.js';
import type { EngineEvent } from './events.js';
import type { Recipe, RecipeContext } from './recipe.js';
import type { BuiltRecipe } from './host-plan.js';
import { recordRebuild } from './record-rebuild.js';


/** Every recipe built for one host info. */
export interface Built {
  readonly info: HostInfo;
  readonly recipes: readonly BuiltRecipe[];
  /** Which recipe declared each resource key. */
  readonly owner: ReadonlyMap<string, string>;
  readonly resolved: readonly { recipe: string; artifact: ResolvedArtifact }[];
  /** The artifact events, emitted once the info is confirmed. */
  readonly events: readonly EngineEvent[];
  /** The warning messages raised so far (planning shows each message once per host). */
  readonly seen: ReadonlySet<string>;
}

export interface BuildInput {
  readonly config: HostConfig;
  readonly transport: Transport;
  /** Uninstall: each recipe's teardown instead of its resources. */
  readonly teardown: TeardownMode | undefined;
  readonly sums: ReleaseSums;
  readonly trusted: TrustedSums;
}

export async function buildRecipes(order: readonly Recipe[], info: HostInfo, input: BuildInput): Promise<Result<Built, string>> {
  const { config, transport, teardown } = input;
  const host = config.name;
  const seen = new Set<string>();
  const events: EngineEvent[] = [];
  const recipes: BuiltRecipe[] = [];
  const owner = new Map<string, string>();
  const resolved: { recipe: string; artifact: ResolvedArtifact }[] = [];
  for (const recipe of order) {
    const parsed = recipe.params.safeParse(config.params[recipe.id] ?? {});
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
      return err(`recipe ${recipe.id}: invalid parameters: ${issues}`);
    }
    // A teardown needs no install inputs (domains, e-mail, artifacts): no artifacts, no precheck.
    let ctx: RecipeContext<unknown> = { params: parsed.data, host: info, config };
    if (!teardown) {
      const artifacts = await resolveHostArtifacts(declaredArtifacts(recipe, parsed.data), info, config, input.sums, transport, input.trusted);
      if (!artifacts.ok) return err(`recipe ${recipe.id}: ${artifacts.error}`);
      for (const a of artifacts.value.all) {
        resolved.push({ recipe: recipe.id, artifact: a });
        events.push({
          type: 'artifact',
          host,
          recipe: recipe.id,
          artifact: { name: a.name, version: a.version, arch: a.arch, url: a.url, path: a.relPath, sha256: a.sha256, source: a.sumFrom, ...(a.sumUrl ? { sumUrl: a.sumUrl } : {}) },
        });
      }
      ctx = { ...ctx, artifacts: artifacts.value };
    }
    const warnings: string[] = [];
    const warn = (message: string): void => {
      if (seen.has(message)) return;
      seen.add(message);
      warnings.push(redact(message));
    };
    const refusal = teardown ? undefined : recipe.precheck?.({ ...ctx, warn });
    if (refusal) return err(`recipe ${recipe.id}: ${refusal}`);
    let resources: readonly Resource[];
    let checks: readonly Check[];
    try {
      if (teardown) {
        const own = recipe.teardown?.({ ...ctx, purge: teardown.purge }) ?? [removal({ recipe: recipe.id, purge: teardown.purge })];
        // A damaged record is rebuilt first, in the first recipe taken off, so every removal after it is recorded into a valid file.
        resources = teardown.rebuildRecord && recipes.length === 0 ? [recordRebuild(), ...own] : own;
        checks = [];
      } else {
        resources = recipe.resources(ctx);
        checks = recipe.verify?.(ctx) ?? [];
      }
    } catch (e) {
      return err(`recipe ${recipe.id}: ${(e as Error).message}`);
    }
    for (const r of resources) {
      const prev = owner.get(r.key);
      if (prev) return err(`resource ${r.key} is declared by both recipe ${prev} and recipe ${recipe.id}`);
      owner.set(r.key, recipe.id);
    }
    recipes.push({ recipe, resources, checks, warnings, artifacts: ctx.artifacts?.all ?? [] });
  }
  const references = referenceProblem(recipes);
  if (!references.ok) return references;
  return ok({ info, recipes, owner, resolved, events, seen });
}

/**
 * A resource may only react to resources planned before it (planning sees
 * earlier changes only): a reference to an unknown or later resource would be
 * a restart that silently never happens, so the plan is refused.
 */
function referenceProblem(built: readonly { recipe: Recipe; resources: readonly Resource[] }[]): Result<void, string> {
  const position = new Map<string, { index: number; recipe: string }>();
  let index = 0;
  for (const b of built) for (const r of b.resources) position.set(r.key, { index: index++, recipe: b.recipe.id });
  index = 0;
  for (const b of built) {
    for (const r of b.resources) {
      const here = index++;
      for (const ref of r.references ?? []) {
        const at = position.get(ref.key);
        if (at === undefined) {
          return err(`recipe ${b.recipe.id}: ${r.key}: ${ref.field} refers to ${ref.key}, which is not part of this host's plan`);
        }
        if (at.index >= here) {
          return err(`recipe ${b.recipe.id}: ${r.key}: ${ref.field} refers to ${ref.key} (recipe ${at.recipe}), which is listed ${at.index === here ? 'as the same resource' : 'after it'}; list it before the service`);
        }
      }
    }
  }
  return ok(undefined);
}
