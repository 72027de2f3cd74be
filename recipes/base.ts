/**
 * The ground the container stack stands on: a supported Debian/Ubuntu with
 * systemd, the packages faasd's installer asks for, IPv4 forwarding (now and
 * after reboot) and the kernel module containerd needs.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { defineRecipe } from '../src/engine/recipe.js';
import { apt, kernelModule, sysctl } from '../src/resources/index.js';
import { hostRefusal } from '../src/stack/os.js';

export { hostRefusal, SUPPORTED_OS } from '../src/stack/os.js';

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
     * overlay: containerd's overlayfs snapshotter (containerd's own unit only
     * tries `-modprobe overlay`, which silently does nothing without kmod).
     *
     * Not br_netfilter: faasd does not need it. Upstream's installer
     * (faasd:hack/install.sh) loads no module, and neither faasd 0.19.7 nor the
     * CNI plugins v0.9.1 its conflist uses (bridge, host-local, firewall) refer
     * to br_netfilter or net.bridge.bridge-nf-call-*. br_netfilter only makes
     * frames switched between two ports of a bridge pass through iptables;
     * faasd's traffic never depends on that: containers reach each other on
     * openfaas0 at layer 2, and everything else (the provider on 10.62.0.1,
     * the world through ipMasq) is routed, which iptables sees anyway. Where
     * another tool has loaded it, the firewall plugin's FORWARD accepts for
     * the container addresses keep bridged traffic flowing.
     *
     * A list, or comma-separated for `--set base.kernelModules=overlay,br_netfilter`.
     */
    kernelModules: z
      .union([z.array(moduleName), z.string().transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x !== ''))])
      .pipe(z.array(moduleName))
      .default(['overlay']),
    /** Proceed on a release panel is not tested on (`--allow-unsupported-os`). */
    allowUnsupportedOs: z
      .union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')])
      .default(false),
  })
  .strict();

export default defineRecipe({
  id: 'base',
  title: 'Supported OS, packages, forwarding, kernel modules',
  params,
  precheck: ({ host, params, warn }) => hostRefusal(host, params.allowUnsupportedOs, warn),
  resources: ({ params }) => [
    apt({ packages: BASE_PACKAGES }),
    // Containers on openfaas0 reach the world through NAT; upstream appends to
    // /etc/sysctl.conf on every run, the resource keeps one drop-in line.
    sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' }),
    ...params.kernelModules.map((name) => kernelModule({ name })),
  ],
  verify: () => [
    // What `sysctl -n net.ipv4.conf.all.forwarding` prints, read by bash (no process on every converged host).
    { name: 'IPv4 forwarding is on', script: sh`read -r v </proc/sys/net/ipv4/conf/all/forwarding && echo "$v"`, expect: /^1\s*$/ },
    { name: 'runc answers', script: sh`runc --version`, expect: /runc version/ },
  ],
});
