/** Which hosts the container stack supports; checked before any change. */
import type { HostInfo } from '../host-info.js';

/**
 * The releases panel is tested on (the README says how); anything else is
 * refused before any change unless the user allows it:
 * - Debian 12 and 13: real hosts of those releases in the testbed;
 * - Ubuntu 22.04 and 24.04: the testbed's cloud-like profile (ufw, systemd-resolved,
 *   needrestart, no kmod, dpkg lock at boot, sudo user);
 * - Ubuntu 26.04: the testbed's ubuntu-26.04-like profile (uutils coreutils, sudo-rs).
 */
export const SUPPORTED_OS: Readonly<Record<string, readonly string[]>> = {
  debian: ['12', '13'],
  ubuntu: ['22.04', '24.04', '26.04'],
};

const SUPPORTED_TEXT = 'Debian 12, 13 or Ubuntu 22.04, 24.04, 26.04';

/** What the OS check concluded: refuse, proceed, or proceed on an unsupported release the user allowed. */
export type OsVerdict =
  | { readonly kind: 'refuse'; readonly message: string }
  | { readonly kind: 'supported' }
  | { readonly kind: 'allowed-unsupported'; readonly message: string };

function describeOs(host: HostInfo): string {
  return `${host.osPretty} (${host.osId} ${host.osVersion || 'unknown version'})`;
}

/**
 * The release check alone. An unsupported release is one line naming the way out;
 * with allowUnsupported it proceeds, and the message says so for the recap.
 */
export function osVerdict(host: HostInfo, allowUnsupported: boolean): OsVerdict {
  const versions = SUPPORTED_OS[host.osId];
  if (versions?.includes(host.osVersion)) return { kind: 'supported' };
  if (allowUnsupported) {
    return {
      kind: 'allowed-unsupported',
      message: `${describeOs(host)} is not a release panel is tested on (${SUPPORTED_TEXT}); proceeding because of --allow-unsupported-os`,
    };
  }
  return {
    kind: 'refuse',
    message: `unsupported OS ${describeOs(host)}; panel supports ${SUPPORTED_TEXT} (--allow-unsupported-os to try anyway)`,
  };
}

/**
 * Why this host cannot run the stack, or undefined. An unsupported release
 * the user allowed is said through `warn`, so the recap shows it was allowed.
 */
export function hostRefusal(host: HostInfo, allowUnsupported = false, warn?: (message: string) => void): string | undefined {
  const os = osVerdict(host, allowUnsupported);
  if (os.kind === 'refuse') return os.message;
  if (host.arch === undefined) return `unsupported architecture ${host.rawArch}; panel supports amd64 and arm64`;
  if (!host.systemd) return 'systemd is not running as PID 1; faasd and containerd are run as systemd services';
  if (os.kind === 'allowed-unsupported') warn?.(os.message);
  return undefined;
}
