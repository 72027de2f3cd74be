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
}

// Plain strings, not a template literal: the `${…}` here are shell expansions.
export const HOST_INFO_SCRIPT = [
  '. /etc/os-release 2>/dev/null',
  'echo "osId=${ID:-unknown}"',
  'echo "osVersion=${VERSION_ID:-}"',
  'echo "osPretty=${PRETTY_NAME:-unknown}"',
  'echo "rawArch=$(dpkg --print-architecture 2>/dev/null || uname -m)"',
  'if [ -e /proc/net/if_inet6 ] && [ "$(cat /proc/sys/net/ipv6/conf/all/disable_ipv6 2>/dev/null || echo 1)" = 0 ]; then echo ipv6=1; else echo ipv6=0; fi',
  'if [ -d /run/systemd/system ]; then echo systemd=1; else echo systemd=0; fi',
  'echo "hostname=$(hostname 2>/dev/null || cat /etc/hostname)"',
].join('\n') + '\n';

export function parseHostInfo(stdout: string): HostInfo {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv.set(line.slice(0, i), line.slice(i + 1));
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
  };
}
