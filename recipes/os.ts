/** Which hosts the container stack supports; checked before any change. */
import type { HostInfo } from '../src/host-info.js';

/** The releases panel is tested on; anything else is refused before any change. */
export const SUPPORTED_OS: Readonly<Record<string, readonly string[]>> = {
  ubuntu: ['20.04', '22.04', '24.04'],
  debian: ['12'],
};

const SUPPORTED_TEXT = 'Ubuntu 20.04, 22.04, 24.04 or Debian 12';

/** Why this host cannot run the stack, or undefined. */
export function hostRefusal(host: HostInfo): string | undefined {
  const versions = SUPPORTED_OS[host.osId];
  if (!versions || !versions.includes(host.osVersion)) {
    return `unsupported OS ${host.osPretty} (${host.osId} ${host.osVersion || 'unknown version'}); panel supports ${SUPPORTED_TEXT}`;
  }
  if (host.arch === undefined) return `unsupported architecture ${host.rawArch}; panel supports amd64 and arm64`;
  if (!host.systemd) return 'systemd is not running as PID 1; faasd and containerd are run as systemd services';
  return undefined;
}
