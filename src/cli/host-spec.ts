/**
 * `--host user@addr[:port]` → parts; IPv6 in brackets: `root@[2001:db8::1]:2222`.
 * The parts are checked with the inventory's schemas, so a host is accepted
 * on the command line exactly when it would be accepted in fleet.yaml.
 * Errors as values.
 */
import { isIP } from 'node:net';
import { address as addressSchema, port as portSchema, user as userSchema } from '../inventory/schema.js';

export interface HostSpec {
  readonly user: string;
  readonly address: string;
  readonly port: number;
}

export function parseHostSpec(spec: string): HostSpec | { readonly error: string } {
  const at = spec.lastIndexOf('@');
  const user = at >= 0 ? spec.slice(0, at) : 'root';
  const rest = at >= 0 ? spec.slice(at + 1) : spec;
  if (!userSchema.safeParse(user).success) return { error: `--host ${JSON.stringify(spec)}: invalid user name ${JSON.stringify(user)}` };
  let address: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracket) {
    address = bracket[1]!;
    portText = bracket[2];
    if (isIP(address) !== 6) return { error: `--host ${JSON.stringify(spec)}: invalid IPv6 address` };
  } else {
    const parts = rest.split(':');
    if (parts.length > 2) return { error: `--host ${JSON.stringify(spec)}: put an IPv6 address in brackets: user@[addr]:port` };
    address = parts[0] ?? '';
    portText = parts[1];
    if (!addressSchema.safeParse(address).success) return { error: `--host ${JSON.stringify(spec)}: invalid address ${JSON.stringify(address)}` };
  }
  const port = portText === undefined ? 22 : Number(portText);
  if (!portSchema.safeParse(port).success) return { error: `--host ${JSON.stringify(spec)}: invalid port ${JSON.stringify(portText)}` };
  return { user, address, port };
}
export function hostDisplayName(s: HostSpec): string {
  const addr = s.address.includes(':') ? `[${s.address}]` : s.address;
  return `${s.user}@${addr}:${s.port}`;
}
