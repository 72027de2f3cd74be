/**
 * The ground the container stack stands on: a supported Debian/Ubuntu with
 * systemd, the packages faasd's installer asks for, IPv4 forwarding (now and
 * after reboot) and the kernel modules containerd and the CNI bridge need.
 */
import { z } from 'zod';
import { defineRecipe } from '../src/engine/recipe.js';
import type { HostInfo } from '../src/host-info.js';
import { apt, kernelModule, sysctl } from '../src/resources/index.js';

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

/**
 * runc comes from apt (containerd's tarball does not ship it); bridge-utils
 * and iptables are what the CNI bridge/firewall plugins drive (faasd#235:
 * iptables missing on Debian); curl fetches artifacts and answers verifies.
 */
export const BASE_PACKAGES = ['bridge-utils', 'ca-certificates', 'curl', 'iproute2', 'iptables', 'runc', 'tar'] as const;

export default defineRecipe({
  id: 'base',
  title: 'Supported OS, packages, forwarding, kernel modules',
  params: z.object({}).strict(),
  precheck: ({ host }) => hostRefusal(host),
  resources: () => [
    apt({ packages: BASE_PACKAGES }),
    // Containers on openfaas0 reach the world through NAT; upstream appends to
    // /etc/sysctl.conf on every run, the resource keeps one drop-in line.
    sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' }),
    kernelModule({ name: 'overlay' }),
    kernelModule({ name: 'br_netfilter' }),
  ],
  verify: () => [
    { name: 'IPv4 forwarding is on', script: 'sysctl -n net.ipv4.conf.all.forwarding', expect: /^1\s*$/ },
    { name: 'runc answers', script: 'runc --version', expect: /runc version/ },
  ],
});
