/**
 * A resource is one idempotent piece of desired host state. It is split into
 * three parts so that reading and deciding never touch the host:
 *   facts()  – a read-only shell snippet; the engine batches the snippets of
 *              every resource of a host into ONE round trip;
 *   parse()  – turns that snippet's output into typed facts;
 *   plan()   – pure: facts (+ what earlier resources will change) → Changes.
 * A Change carries the script that performs it, so what `panel plan` shows
 * is exactly what `panel install` runs.
 */

import type { HostState, Recorded } from '../engine/state.js';
import type { Script } from '../shell.js';

/** What a fact snippet produced. */
export interface FactOutput {
  readonly stdout: string;
  readonly code: number;
}

export type ChangeAction =
  | 'create'
  | 'update'
  | 'delete'
  | 'install'
  | 'remove'
  | 'set'
  | 'load'
  | 'enable'
  | 'disable'
  | 'start'
  | 'stop'
  | 'restart'
  | 'reload'
  | 'run';

interface ChangeBase {
  /** Key of the resource that planned it. */
  readonly resource: string;
  readonly action: ChangeAction;
  /** What is acted on: a path, a unit, a package list, a sysctl key. */
  readonly target: string;
  /** Why, in a few words: `content differs`, `inactive`, `absent`. */
  readonly reason: string;
  /** Unified diff for file content; secrets are already masked here. */
  readonly diff?: string;
  /**
   * Summaries of earlier changes this one depends on. A dry run cannot know
   * their outcome, so the plan says "after …" instead of guessing.
   */
  readonly after?: readonly string[];
  /**
   * Shell run at the START of the apply round trip, before any change of it:
   * e.g. a service records a pending restart, so a run interrupted after the
   * config write but before the restart still restarts next time.
   */
  readonly prepare?: Script;
  /**
   * What this change creates or changes on the host, for the host state
   * record (/var/lib/panel/state.json): after the change's script succeeded
   * the engine journals each entry in the same step. Files are measured on
   * the host (sha256, size, mtime); an artifact sum is recorded as given.
   */
  readonly records?: readonly Recorded[];
  /**
   * The file this change writes, as it will be (never a secret), for a change
   * it follows to rehearse: the site's switch to https offers its text, and
   * the certificate runs `nginx -t` with it before asking the CA.
   */
  readonly candidate?: FileCandidate;
}

export interface FileCandidate {
  readonly path: string;
  readonly content: string;
}

/**
 * Host work that a local effect hands to the engine while it runs. The engine
 * sends it in its own batch (with any changes still waiting to be applied and
 * the round trip's prepare/progress header); local code never holds a
 * connection.
 */
export interface HostSteps {
  /** Run `script` (root, `set -euo pipefail`, prelude loaded) now; rejects with the step's exit code and stderr tail. */
  run(script: Script): Promise<void>;
}

/**
 * Work done on the machine running panel (e.g. talking to an ACME CA),
 * interleaved with host work: `host.run()` for steps the local work must wait
 * for (publishing challenge files), and the returned script — if any — finishes
 * the change on the host. That script joins the engine's batch like any
 * change's script, so it shares a round trip with the changes after it.
 * `followUps`: the changes other resources planned to follow this one (see
 * Resource.followUps), as planned; bound by the engine after the second
 * planning pass, so a local effect can rehearse them before it commits to
 * anything (the certificate tests the https site before ordering).
 */
export type LocalEffect = (host: HostSteps, followUps?: readonly Change[]) => Promise<Script | undefined>;

/** A change is performed either by a host script or by a local effect, never both. */
export type Change = ChangeBase &
  (
    | {
        /** Shell that performs the change (root, `set -euo pipefail`, prelude loaded). Never printed: may embed secrets. */
        readonly script: Script;
        readonly local?: never;
      }
    | { readonly local: LocalEffect; readonly script?: never }
  );

/** What planning can see of the rest of the host's plan. */
export interface PlanContext {
  /** Changes planned so far for this host (earlier resources and recipes), in order. */
  readonly planned: readonly Change[];
  /** The host state record as the facts round trip read it (absent: nothing recorded yet). */
  readonly state?: HostState;
  /**
   * Tell the user something that is not a change and not a failure (shown by
   * every sink, repeated on every run while it holds). Identical messages of
   * one host are shown once. Optional so that a bare `{ planned }` (unit
   * tests) stays a valid context; the engine always provides it.
   */
  readonly warn?: (message: string) => void;
  /**
   * Teardown only: say that something recorded is deliberately left on the
   * host (kept without --purge, or not panel's to remove); the run reports it.
   */
  readonly keep?: (what: string, why?: string) => void;
  /** Teardown only: what the user asked uninstall to do. */
  readonly teardown?: TeardownMode;
}

/**
 * What `panel uninstall` was asked to do. Packages panel installed are
 * removed only when asked (`remove`: apt-get remove, configuration kept;
 * `purge`), and never while another package needs them or their
 * configuration directories hold a file neither panel nor the package made
 * (`force` with purge copies such files to /var/lib/panel/kept/ and goes on).
 */
export interface TeardownMode {
  /** `--purge`: also remove what is kept by default (secrets, certificates, volumes, credentials). */
  readonly purge: boolean;
  readonly packages: 'keep' | 'remove' | 'purge';
  readonly force: boolean;
  /** `--rebuild-record`: a damaged state.json is rebuilt from what is readable instead of refused. */
  readonly rebuildRecord: boolean;
}

/** One resource naming another (e.g. a service's `restartOn`), checked by the engine at plan time. */
export interface Reference {
  /** The option that holds it, for the error message: `restartOn`. */
  readonly field: string;
  readonly key: string;
}

export interface Resource<F = unknown> {
  /** Unique on a host: `file:/etc/sysctl.d/99-panel.conf`, `service:containerd`. */
  readonly key: string;
  /**
   * Resources this one reacts to. Each must be in the host's plan and listed
   * BEFORE this one (planning sees only earlier changes); the engine refuses
   * the plan otherwise.
   */
  readonly references?: readonly Reference[];
  /** Read-only shell printing facts on stdout. Runs as root with `set -u`, not `-e`. */
  facts(): Script;
  /**
   * systemd units whose state the facts read: asked for all resources of the
   * batch at once before the snippets run (prelude: panel_units_prefetch).
   */
  readonly units?: readonly string[];
  /**
   * Paths whose stat the facts read (panel_file_facts): asked for all
   * resources of the batch in one stat process before the snippets run
   * (prelude: panel_files_prefetch).
   */
  readonly paths?: readonly string[];
  parse(out: FactOutput): F;
  /**
   * Work on the machine running panel that the pure plan then reads, from the
   * facts, after the facts round trip and before planning (the CA's renewal
   * window for the certificate the host has, stored locally). Never touches
   * the host. Returns warnings for the recipe; must not throw.
   */
  prepare?(facts: F): Promise<readonly string[]>;
  plan(facts: F, ctx: PlanContext): Change[];
  /**
   * Second planning pass, once every resource of the host is planned: changes
   * that must follow a LATER resource's change (e.g. the nginx site switching
   * to https right after the certificate recipe's order). Each follow-up is
   * applied right after the change it follows, in that change's recipe, and is
   * planned, reported and recorded like any change of this resource.
   */
  followUps?(facts: F, plan: readonly Change[]): FollowUp[];
}

export interface FollowUp {
  /** A change of the host's plan, by identity. */
  readonly follows: Change;
  readonly change: Change;
}

/** One line a person reads: `update /etc/foo (content differs)`. */
export function summary(c: Pick<Change, 'action' | 'target' | 'reason'>): string {
  return `${c.action} ${c.target} (${c.reason})`;
}

/** The public face of a change, for printers and JSON: no script. */
export interface PublicChange {
  readonly resource: string;
  readonly action: ChangeAction;
  readonly target: string;
  readonly reason: string;
  readonly summary: string;
  readonly diff?: string;
  readonly after?: readonly string[];
}

export function publicChange(c: Change): PublicChange {
  return {
    resource: c.resource,
    action: c.action,
    target: c.target,
    reason: c.reason,
    summary: summary(c),
    ...(c.diff !== undefined ? { diff: c.diff } : {}),
    ...(c.after !== undefined && c.after.length > 0 ? { after: c.after } : {}),
  };
}

/** A post-condition checked after apply and by `panel check`. */
export interface Check {
  readonly name: string;
  /** Shell run as root; passes when it exits 0 and (if given) stdout matches. */
  readonly script: Script;
  readonly expect?: RegExp;
  /**
   * After a change, how long this check may take to become true when that is
   * longer than the run's wait (a service that pulls images at its first start).
   */
  readonly waitSeconds?: number;
}
