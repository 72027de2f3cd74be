/** What panel learns about a host before planning anything (one round trip). */
export type Arch = 'amd64' | 'arm64';

export interface HostInfo {
  /** /etc/os-release ID, e.g. `debian`, `ubuntu`. */
  readonly osId: string;
  /** /etc/os-release VERSION_ID, e.g. `12`, `22.04`. */
  readonly osVersion: string;
  readonly osPretty: string;
  /** Debian architecture name; undefined when unsupported (e.g. `s390x`). */
  readonly arch: Arch | undefined;
  readonly rawArch: string;
  /** The kernel has IPv6 enabled (a `[::]` listener would work). */
  readonly ipv6: boolean;
  /** PID 1 is systemd. */
  readonly systemd: boolean;
  readonly hostname: string;
  /**
   * The name servers the host itself uses, loopback stubs left out: from
   * /run/systemd/resolve/resolv.conf when systemd-resolved runs (its upstream
   * servers; /etc/resolv.conf then only names the 127.0.0.53 stub), else from
   * /etc/resolv.conf. Possibly empty.
   */
  readonly nameservers: readonly string[];
}

// Plain strings, not a template literal: the `${…}` here are shell expansions.
export const HOST_INFO_SCRIPT = [
  '. /etc/os-release 2>/dev/null',
  'echo "osId=${ID:-unknown}"',
  'echo "osVersion=${VERSION_ID:-}"',
  'echo "osPretty=${PRETTY_NAME:-unknown}"',
  'echo "rawArch=$(dpkg --print-architecture 2>/dev/null || uname -m)"',
  // Files read by bash itself (this runs in every round trip of a host seen before): no cat, hostname or awk.
  '__v=1; [ -r /proc/sys/net/ipv6/conf/all/disable_ipv6 ] && read -r __v </proc/sys/net/ipv6/conf/all/disable_ipv6',
  'if [ -e /proc/net/if_inet6 ] && [ "$__v" = 0 ]; then echo ipv6=1; else echo ipv6=0; fi',
  'if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi',
  // The kernel's hostname is what hostname(1) prints.
  '__h=; { read -r __h </proc/sys/kernel/hostname || read -r __h </etc/hostname; } 2>/dev/null; echo "hostname=$__h"',
  'if [ -s /run/systemd/resolve/resolv.conf ]; then __r=/run/systemd/resolve/resolv.conf; else __r=/etc/resolv.conf; fi',
  'while read -r __k __a __rest; do [ "$__k" = nameserver ] && [ -n "$__a" ] && echo "nameserver=$__a"; done <"$__r" 2>/dev/null',
  'true',
].join('\n') + '\n';

const LOOPBACK = /^(127\.|::1$|0\.0\.0\.0$)/;

export function parseHostInfo(stdout: string): HostInfo {
  const kv = new Map<string, string>();
  const nameservers: string[] = [];
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i <= 0) continue;
    const [k, v] = [line.slice(0, i), line.slice(i + 1).trim()];
    if (k === 'nameserver') {
      if (v !== '' && !LOOPBACK.test(v) && !nameservers.includes(v)) nameservers.push(v);
    } else kv.set(k, v);
  }
  const rawArch = kv.get('rawArch') ?? 'unknown';
  const arch: Arch | undefined =
    rawArch === 'amd64' || rawArch === 'x86_64' ? 'amd64' : rawArch === 'arm64' || rawArch === 'aarch64' ? 'arm64' : undefined;
  return {
    osId: kv.get('osId') ?? 'unknown',
    osVersion: kv.get('osVersion') ?? '',
    osPretty: kv.get('osPretty') ?? 'unknown',
    arch,
    rawArch,
    ipv6: kv.get('ipv6') === '1',
    systemd: kv.get('systemd') === '1',
    hostname: kv.get('hostname') ?? '',
    nameservers,
  };
}
