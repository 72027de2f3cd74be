/**
 * What to do with the key a host presented: proceed, record it, or refuse
 * with a message a human can act on. Pure; the SSH transport does the I/O.
 */
import { homedir } from 'node:os';
import {
  checkHostKey,
  fingerprint,
  knownHostsLine,
  normalizeFingerprint,
  type ParsedKnownHosts,
} from './known-hosts.js';
import { ConnectError } from './types.js';

export interface HostKeyPolicy {
  /** Name shown first in every message: `user@addr:port`. */
  readonly display: string;
  /** Host name used by ConnectError (the inventory name). */
  readonly host: string;
  /** Name looked up in known_hosts: `addr` or `[addr]:port`. */
  readonly lookupName: string;
  readonly knownHostsFile: string;
  /** Pinned `SHA256:…`; overrides known_hosts (but not @revoked). */
  readonly pin?: string;
  readonly trustNewHost: boolean;
}

export type HostKeyDecision =
  | { readonly kind: 'accept' }
  /** Unknown host, trusted by flag: append this line, then accept. */
  | { readonly kind: 'record'; readonly line: string }
  | { readonly kind: 'refuse'; readonly error: ConnectError };

export function decideHostKey(known: ParsedKnownHosts, policy: HostKeyPolicy, key: Buffer): HostKeyDecision {
  const verdict = checkHostKey(known, policy.lookupName, key);
  const file = tildify(policy.knownHostsFile);
  const refuse = (kind: ConnectError['kind'], msg: string): HostKeyDecision => ({
    kind: 'refuse',
    error: new ConnectError(kind, policy.host, `${policy.display}: ${msg}`),
  });

  // Revocation beats everything, pins included: it is an explicit "never again".
  if (verdict.kind === 'revoked') {
    return refuse('host-key-revoked', `host key ${verdict.fingerprint} is marked @revoked in ${file}; refusing`);
  }
  if (policy.pin !== undefined) {
    const want = normalizeFingerprint(policy.pin);
    const got = fingerprint(key);
    if (want === got) return { kind: 'accept' };
    return refuse(
      'host-key-changed',
      `HOST KEY MISMATCH — pinned ${want}, host presented ${got}; refusing (possible man-in-the-middle)`,
    );
  }
  switch (verdict.kind) {
    case 'match':
      return { kind: 'accept' };
    case 'unknown':
      if (policy.trustNewHost) return { kind: 'record', line: knownHostsLine(policy.lookupName, key) };
      return refuse(
        'host-key-unknown',
        `host key not known (${verdict.fingerprint}); verify it and re-run with --trust-new-host to record it in ${file}`,
      );
    case 'changed':
      return refuse(
        'host-key-changed',
        `HOST KEY CHANGED — known_hosts has ${verdict.known.join(' or ')}, host presented ${verdict.fingerprint}; refusing (possible man-in-the-middle)`,
      );
  }
}

function tildify(path: string): string {
  const home = homedir();
  return home !== '/' && path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}
