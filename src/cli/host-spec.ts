/** `--host user@addr[:port]` → parts; IPv6 in brackets: `root@[2001:db8::1]:2222`. Errors as values. */
export interface HostSpec {
  readonly user: string;
  readonly address: string;
  readonly port: number;
}

const USER = /^[a-z_][a-z0-9_.-]{0,31}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;

export function parseHostSpec(spec: string): HostSpec | { readonly error: string } {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : 'root';
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  if (!USER.test(user)) return { error: `--host ${JSON.stringify(spec)}: invalid user name ${JSON.stringify(user)}` };
  let address: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracket) {
    address = bracket[1]!;
    portText = bracket[2];
    if (!IPV6.test(address) || !address.includes(':')) return { error: `--host ${JSON.stringify(spec)}: invalid IPv6 address` };
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) return { error: `--host ${JSON.stringify(spec)}: put an IPv6 address in brackets: user@[addr]:port` };
    address = parts[0] ?? '';
    portText = parts[1];
    if (!IPV4.test(address) && !HOSTNAME.test(address)) return { error: `--host ${JSON.stringify(spec)}: invalid address ${JSON.stringify(address)}` };
  }
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { error: `--host ${JSON.stringify(spec)}: invalid port ${JSON.stringify(portText)}` };
  return { user, address, port };
}

export function hostDisplayName(s: HostSpec): string {
  const addr = s.address.includes(':') ? `[${s.address}]` : s.address;
  return `${s.user}@${addr}:${s.port}`;
}
