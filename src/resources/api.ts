/**
 * Options of every resource constructor exported from ./index.ts.
 * Recipes describe hosts with these; the constructors turn them into
 * Resources (facts → plan → Change). Keys are unique per host.
 *
 * Restart semantics: a service restarts only when a resource listed in its
 * `restartOn` has a planned change in this run (or a restart is still
 * pending from an interrupted earlier run); `start` when inactive.
 */
import type { ArtifactSource } from '../engine/state.js';
import type { Secret } from '../secret.js';
import type { Script } from '../shell.js';
import type { Resource } from './types.js';

export type Mode = number; // e.g. 0o644

interface Ownership {
  /** default 0o644 for files, 0o755 for directories */
  readonly mode?: Mode;
  /** default root */
  readonly owner?: string;
  /** default root */
  readonly group?: string;
}

/** key: `file:<path>` — content, mode, owner; atomic write; previous version backed up. */
export interface FileOptions extends Ownership {
  readonly path: string;
  readonly content: string | Buffer;
  /** Content is secret: facts carry only its hash, diffs are masked. */
  readonly secret?: boolean;
  /**
   * Shell that must accept the new content BEFORE it becomes live (Ansible's
   * `validate`): it runs on the temp file, "$1" (and "$2" is the final
   * path); non-zero fails the change with its output and leaves the live
   * file untouched. E.g. `panel_nginx_test "$1" "$2"`.
   */
  readonly validate?: Script;
}

/**
 * Which published artifact a download or archive is, for the state record's
 * `artifacts` section: its path below the mirror root (e.g.
 * `openfaas/faasd/releases/download/0.19.7/faasd`) and where its sum came from.
 */
export interface ArtifactRef {
  readonly path: string;
  readonly source: ArtifactSource;
  /** The release checksum asset the sum was read from (source `release-asset`), named when a changed sum is refused. */
  readonly sumUrl?: string;
}

/** key: `file:<path>` — a file rendered from templates/<source> (handlebars, noEscape, strict). */
export interface TemplateOptions extends Ownership {
  readonly path: string;
  /** File name under templates/, e.g. `containerd.service.hbs`. */
  readonly source: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly secret?: boolean;
  readonly validate?: Script;
  /** Directory holding `source` instead of the package's templates/ (tests, plugins). */
  readonly templatesDir?: string;
}

/** key: `directory:<path>` */
export interface DirectoryOptions extends Ownership {
  readonly path: string;
}

/** key: `apt:<sorted packages joined by ,>` — packages installed (apt lock waited for, noninteractive). */
export interface AptOptions {
  readonly packages: readonly string[];
}

/**
 * key: `download:<dest>` — a file fetched from `url` on the HOST (curl/wget),
 * sha256-verified before it replaces `dest`; a mismatch leaves the previous
 * file in place and fails with `checksum mismatch for <url>: expected …, got …`.
 */
export interface DownloadOptions extends Ownership {
  readonly url: string;
  readonly sha256: string;
  readonly dest: string;
  /** Record the sum in the state record's `artifacts`; a different published sum than recorded is refused (src/artifacts `fetchOf`). */
  readonly artifact?: ArtifactRef;
  /** Said (PlanContext.warn) when dest is absent: a first install, or the plan before it (e.g. faasd's licence). */
  readonly firstInstallNotice?: string;
}

/**
 * key: `archive:<into>:<url basename>` — a .tar.gz fetched on the host
 * (sha256-verified, cached under /var/cache/panel/), extracted into `into`.
 * `members` lists the files (relative to `into`, after `strip`) whose
 * presence and checksum-at-extraction prove the archive is in place; a
 * missing or altered member means extract again.
 */
export interface ArchiveOptions {
  readonly url: string;
  readonly sha256: string;
  readonly into: string;
  /** Leading path components removed (tar --strip-components). */
  readonly strip?: number;
  readonly members: readonly string[];
  /** Mode applied to extracted members (default: as in the archive). */
  readonly mode?: Mode;
  /** Record the sum in the state record's `artifacts`; a different published sum than recorded is refused (src/artifacts `fetchOf`). */
  readonly artifact?: ArtifactRef;
  /** Files of the archive (after `strip`) that are never installed, e.g. the CNI tarball's README.md and LICENSE. */
  readonly leaveOut?: readonly string[];
  /**
   * `into` is the archive's own directory (code-server): extracted whole
   * (empty directories, symlinks and modes as in the archive), swapped in
   * by rename, recorded as one tree digest instead of a record per file,
   * removed whole on uninstall. `members` must be executable files: the
   * parts the artifact needs to run.
   */
  readonly ownDir?: boolean;
}

/**
 * key: `unit:<name>` — a systemd unit file in /etc/systemd/system (or a
 * drop-in when `dropIn` is set: /etc/systemd/system/<name>.d/<dropIn>.conf,
 * key `unit:<name>.d/<dropIn>.conf`); a change runs `systemctl daemon-reload`.
 * Pass the result itself to a service: `restartOn: [u]`.
 */
export interface UnitOptions {
  /** e.g. `containerd.service` */
  readonly name: string;
  readonly content: string;
  readonly dropIn?: string;
  /** Directory for the unit file, default /etc/systemd/system. */
  readonly dir?: string;
  /**
   * The content holds a credential (a proxy URL with a password): the file
   * is 0600 and its diff masked, like every secret file.
   */
  readonly secret?: boolean;
}

/** key: `service:<name>` — enabled/running state; restart when a `restartOn` resource changed. */
export interface ServiceOptions {
  /** Unit name, e.g. `containerd` or `nginx.service`. */
  readonly name: string;
  readonly enabled: boolean;
  readonly running: boolean;
  /** Resources whose changes require a restart; each must be listed before the service on the host. */
  readonly restartOn?: readonly Resource[];
  /** Resources whose changes require only `systemctl reload`; listed before the service. */
  readonly reloadOn?: readonly Resource[];
}

/** key: `sysctl:<key>` — runtime value and a drop-in line in `file` (never duplicated). */
export interface SysctlOptions {
  /** e.g. `net.ipv4.conf.all.forwarding` */
  readonly key: string;
  readonly value: string;
  /** default /etc/sysctl.d/99-panel.conf */
  readonly file?: string;
}

/** key: `kmod:<name>` — loaded now and listed in /etc/modules-load.d/panel-<name>.conf. */
export interface KernelModuleOptions {
  readonly name: string;
}

/** key: `bridge:<name>` — a Linux bridge link with an IPv4 address, up. */
export interface BridgeOptions {
  readonly name: string;
  /** CIDR, e.g. `10.62.0.1/16` */
  readonly address: string;
}

/**
 * key: `command:<name>` — runs `run` only when `check` exits non-zero.
 * Reports a change only when it runs.
 */
export interface CommandOptions {
  readonly name: string;
  /** Shell; exit 0 means "already done". Read-only. */
  readonly check: Script;
  readonly run: Script;
  /** Shown as the reason, e.g. `no account`. */
  readonly reason?: string;
}

/**
 * key: `file:<path>` — a secret file (0600 by default) whose value is either
 * given (`value`: replaced when it differs, reported masked) or generated ON
 * THE HOST by `generate` (shell printing the value) when the file is absent;
 * an existing file is never overwritten without `value`.
 */
export interface SecretFileOptions extends Ownership {
  readonly path: string;
  readonly value?: Secret;
  readonly generate: Script;
}
