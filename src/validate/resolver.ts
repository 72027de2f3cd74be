/** A DNS server given as `--acme-resolver` / acme.resolver. */
import { isIP } from 'node:net';

/** `--acme-resolver` input: an IP address, optionally with a port. */
export function validResolver(spec: string): boolean {
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(spec) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(spec);
  if (!m) return isIP(spec) === 6;
  return isIP(m[1]!) !== 0 && (m[2] === undefined || (Number(m[2]) > 0 && Number(m[2]) < 65536));
}
