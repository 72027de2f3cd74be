/**
 * The ground the container stack stands on: a supported Debian/Ubuntu with
 * systemd, the packages faasd's installer asks for, IPv4 forwarding (now and
 * after reboot) and the kernel modules containerd and the CNI bridge need.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { defineRecipe } from '../src/engine/recipe.js';
import { apt, kernelModule, sysctl } from '../src/resources/index.js';
import { hostRefusal } from './os.js';

export { hostRefusal, SUPPORTED_OS } from './os.js';

/**
 * runc comes from apt (containerd's tarball does not ship it); bridge-utils
 * and iptables are what the CNI bridge/firewall plugins drive (faasd#235:
 * iptables missing on Debian); curl fetches artifacts and answers verifies.
 */
export const BASE_PACKAGES = ['bridge-utils', 'ca-certificates', 'curl', 'iproute2', 'iptables', 'runc', 'tar'] as const;

const moduleName = z.string().regex(/^[A-Za-z0-9_-]+$/, 'a kernel module name');

const params = z
  .object({
    /**
     * overlay: containerd's snapshotter; br_netfilter: bridged traffic through
     * iptables. A list, or comma-separated for `--set base.kernelModules=overlay`
     * (kernels without br_netfilter, such as the testbed's).
     */
    kernelModules: z
      .union([z.array(moduleName), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''))])
      .pipe(z.array(moduleName))
      .default(['overlay', 'br_netfilter']),
  })
  .strict();

export default defineRecipe({
  id: 'base',
  title: 'Supported OS, packages, forwarding, kernel modules',
  params,
  precheck: ({ host }) => hostRefusal(host),
  resources: ({ params }) => [
    apt({ packages: BASE_PACKAGES }),
    // Containers on openfaas0 reach the world through NAT; upstream appends to
    // /etc/sysctl.conf on every run, the resource keeps one drop-in line.
    sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' }),
    ...params.kernelModules.map((name) => kernelModule({ name })),
  ],
  verify: () => [
    { name: 'IPv4 forwarding is on', script: sh`sysctl -n net.ipv4.conf.all.forwarding`, expect: /^1\s*$/ },
    { name: 'runc answers', script: sh`runc --version`, expect: /runc version/ },
  ],
});
