/**
 * The second planning pass: each follow-up goes right after the change it
 * follows (after earlier follow-ups of that change), in that change's recipe,
 * and says so (`after`), since a dry run cannot know the outcome. A followed
 * change done by a local effect is handed its follow-ups when it runs (the
 * certificate tests the https site's `candidate` before ordering).
 */
import type { Change, FollowUp, Resource } from '../resources/types.js';
import { summary } from '../resources/types.js';
import { err, ok, type Result } from '../result.js';
import type { RecipePlan } from './host-plan.js';

/** A resource with the facts it was planned from. */
export interface PlannedFacts {
  readonly resource: Resource;
  readonly recipe: string;
  readonly facts: unknown;
}

export function placeFollowUps(recipes: readonly RecipePlan[], planned: readonly Change[], factsOf: readonly PlannedFacts[]): Result<RecipePlan[], string> {
  const out = recipes.map((rp) => ({ ...rp, changes: [...rp.changes] }));
  const followed = new WeakMap<Change, Change>();
  const followers = new Map<Change, Change[]>();
  for (const { resource, recipe, facts } of factsOf) {
    if (!resource.followUps) continue;
    let ups: FollowUp[];
    try {
      ups = resource.followUps(facts, planned);
    } catch (e) {
      return err(`recipe ${recipe}: ${resource.key}: ${(e as Error).message}`);
    }
    for (const up of ups) {
      if (up.change.resource !== resource.key) return err(`recipe ${recipe}: ${resource.key}: a follow-up must be a change of its own resource, not ${up.change.resource}`);
      const home = out.find((rp) => rp.changes.includes(up.follows));
      if (!home) return err(`recipe ${recipe}: ${resource.key}: follows a change that is not in the plan: ${summary(up.follows)}`);
      let at = home.changes.indexOf(up.follows) + 1;
      while (at < home.changes.length && followed.get(home.changes[at]!) === up.follows) at++;
      const change: Change = { ...up.change, after: [...(up.change.after ?? []), summary(up.follows)] };
      followed.set(change, up.follows);
      home.changes.splice(at, 0, change);
      followers.set(up.follows, [...(followers.get(up.follows) ?? []), change]);
    }
  }
  // A followed local effect is handed its follow-ups: the bound copy takes its place (same fields, same summary).
  return ok(out.map((rp) => ({ ...rp, changes: rp.changes.map((c) => bindFollowUps(c, followers.get(c))) })));
}

function bindFollowUps(c: Change, ups: readonly Change[] | undefined): Change {
  if (ups === undefined || !c.local) return c;
  const local = c.local;
  return { ...c, local: (host) => local(host, ups) };
}
