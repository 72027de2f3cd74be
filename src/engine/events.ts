/**
 * Everything the engine reports goes through these events; the terminal tree,
 * plain lines, NDJSON and the recap are all sinks of the same stream.
 */
import type { HostInfo } from '../host-info.js';
import type { ArtifactSource } from './state.js';
import type { PublicChange } from '../resources/types.js';

export type Mode = 'install' | 'plan' | 'check';

export type HostStatus = 'ok' | 'changed' | 'drift' | 'failed' | 'interrupted';

export interface HostResult {
  readonly host: string;
  readonly status: HostStatus;
  /** Resources already as desired. */
  readonly ok: number;
  /** Changes applied (install) or found (plan/check). */
  readonly changed: number;
  /** 1 when the host failed (a host stops at its first failure). */
  readonly failed: number;
  /** Failed verifications (check). */
  readonly failedChecks: number;
  readonly rebootRequired: boolean;
  /**
   * Why a reboot is required: what panel could not free (a busy mount, a
   * process that will not die: `/run/containerd/… (busy)`), and the OS's own
   * /var/run/reboot-required. The next run after the reboot finishes the job.
   */
  readonly rebootPaths?: readonly string[];
  /** Uninstall: what was left on the host on purpose (kept without --purge, pre-existing). */
  readonly kept?: readonly string[];
  /**
   * Uninstall: every decision to leave or move something, with why (`what:
   * why`): a package kept and the file or package that kept it, a file
   * changed since panel wrote it, a copy in /var/lib/panel/kept/.
   */
  readonly notes?: readonly string[];
  readonly durationMs: number;
  /** One line: host, recipe, resource, exit code, stderr tail. */
  readonly error?: string;
  /** Exec round trips used on this host. */
  readonly roundTrips: number;
  /** Warnings raised while planning (each also sent as a `warning` event). */
  readonly warnings?: readonly string[];
  /** Bytes on the connection to this host, each way (SSH handshake included); absent when it never connected. */
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
}

/** A release artifact a recipe will install, and where the sum it is verified against came from. */
export interface ArtifactReport {
  readonly name: string;
  readonly version: string;
  readonly arch: string;
  readonly url: string;
  /** Path below the mirror root: the key of the host's `artifacts` record. */
  readonly path: string;
  readonly sha256: string;
  /** pinned in this repository, given with --checksums, the release's checksum asset, or recorded on first use (--trust-artifact). */
  readonly source: ArtifactSource;
  /** The checksum asset's URL (source `release-asset`). */
  readonly sumUrl?: string;
}

export type EngineEvent =
  | { readonly type: 'host-start'; readonly host: string; readonly recipes: readonly string[] }
  | { readonly type: 'host-info'; readonly host: string; readonly info: HostInfo }
  | { readonly type: 'artifact'; readonly host: string; readonly recipe: string; readonly artifact: ArtifactReport }
  | { readonly type: 'recipe-start'; readonly host: string; readonly recipe: string; readonly title: string }
  | {
      readonly type: 'change';
      readonly host: string;
      readonly recipe: string;
      readonly status: 'planned' | 'applied' | 'failed';
      readonly change: PublicChange;
    }
  | {
      readonly type: 'verify';
      readonly host: string;
      readonly recipe: string;
      readonly check: string;
      readonly ok: boolean;
      readonly detail?: string;
    }
  | {
      readonly type: 'recipe-end';
      readonly host: string;
      readonly recipe: string;
      readonly status: 'ok' | 'changed' | 'failed' | 'skipped';
      readonly changes: number;
      readonly error?: string;
    }
  /**
   * Something the user must know that is not a failure: a sysctl a later file
   * overrides at boot, a module a container cannot load, a dpkg lock waited for.
   */
  | { readonly type: 'warning'; readonly host: string; readonly recipe: string; readonly message: string }
  /** Another panel run holds the host's lock; this one waits up to `waitSeconds` (`--lock-wait`). */
  | { readonly type: 'lock-wait'; readonly host: string; readonly holder: string; readonly waitSeconds: number }
  | { readonly type: 'host-end'; readonly host: string; readonly result: HostResult }
  | { readonly type: 'recap'; readonly mode: Mode; readonly hosts: readonly HostResult[] };

export type Emit = (event: EngineEvent) => void;
