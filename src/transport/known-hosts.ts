/**
 * OpenSSH known_hosts, as pure functions: parse the text, decide what a
 * presented host key means for a host, format the line that records it.
 * File access lives in known-hosts-file.ts so that this stays unit-testable.
 *
 * Semantics (a sensible subset of OpenSSH's):
 * - a line is `[marker] patterns keytype base64 [comment]`;
 * - patterns are a comma list of names (with `*`/`?` wildcards and `!`
 *   negation) or one hashed entry `|1|salt|hmac` (HMAC-SHA1 of the name);
 * - the name of a host is `addr` on port 22 and `[addr]:port` otherwise;
 * - `@revoked` lines refuse their key for the hosts they match, whatever
 *   any other line (or a pinned fingerprint) says;
 * - `@cert-authority` lines are ignored (panel does not do host certs);
 * - the host is "known" when any plain line matches its name, the key is
 *   accepted when it equals one of those lines' keys, otherwise "changed".
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { err, ok, type Result } from '../result.js';

export type Marker = 'revoked' | 'cert-authority';

export interface KnownHostLine {
  /** 1-based line number, for messages. */
  readonly line: number;
  readonly marker?: Marker;
  readonly patterns: HostPatterns;
  readonly keyType: string;
  /** The SSH wire-format public key blob. */
  readonly key: Buffer;
}

export type HostPatterns =
  | { readonly kind: 'hashed'; readonly salt: Buffer; readonly hash: Buffer }
  | { readonly kind: 'list'; readonly patterns: readonly string[] };

export interface ParsedKnownHosts {
  readonly entries: readonly KnownHostLine[];
  /** Lines that could not be understood; skipped, reported for diagnostics. */
  readonly skipped: readonly { readonly line: number; readonly reason: string }[];
}

export type HostKeyVerdict =
  | { readonly kind: 'match'; readonly fingerprint: string }
  | { readonly kind: 'unknown'; readonly fingerprint: string }
  | { readonly kind: 'changed'; readonly fingerprint: string; readonly known: readonly string[] }
  | { readonly kind: 'revoked'; readonly fingerprint: string };

/** The name OpenSSH looks up: `addr` on port 22, `[addr]:port` otherwise. */
export function hostName(address: string, port: number): string {
  const a = address.toLowerCase();
  return port === 22 ? a : `[${a}]:${port}`;
}

/** OpenSSH fingerprint format, as printed by `ssh-keygen -lf`: `SHA256:<base64, no padding>`. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** Accept `SHA256:abc`, `abc` or padded base64 for a pinned fingerprint. */
export function normalizeFingerprint(pin: string): string {
  const body = pin.trim().replace(/^SHA256:/i, '').replace(/=+$/, '');
  return `SHA256:${body}`;
}

/** The key type is the first string inside the wire-format blob. */
export function keyTypeOf(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const len = key.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > key.length) return undefined;
  const type = key.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : undefined;
}

export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostLine[] = [];
  const skipped: { line: number; reason: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const parsed = parseLine(trimmed, line);
    if (parsed.ok) entries.push(parsed.value);
    else skipped.push({ line, reason: parsed.error });
  });
  return { entries, skipped };
}

/** One line, or the reason it was skipped. */
function parseLine(text: string, line: number): Result<KnownHostLine, string> {
  const fields = text.split(/[ \t]+/);
  let marker: Marker | undefined;
  if (fields[0]?.startsWith('@')) {
    const m = fields.shift();
    if (m === '@revoked') marker = 'revoked';
    else if (m === '@cert-authority') marker = 'cert-authority';
    else return err(`unknown marker ${m}`);
  }
  const [hosts, keyType, b64] = fields;
  if (hosts === undefined || keyType === undefined || b64 === undefined) return err('too few fields');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return err('key is not base64');
  const key = Buffer.from(b64, 'base64');
  // The blob names its own type; a mismatch means a corrupted or hand-edited line.
  if (keyTypeOf(key) !== keyType) return err(`key blob is not of type ${keyType}`);
  const patterns = parsePatterns(hosts);
  if (!patterns.ok) return patterns;
  return ok(marker === undefined ? { line, patterns: patterns.value, keyType, key } : { line, marker, patterns: patterns.value, keyType, key });
}

function parsePatterns(hosts: string): Result<HostPatterns, string> {
  if (hosts.startsWith('|')) {
    const m = /^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$/.exec(hosts);
    if (!m?.[1] || !m[2]) return err('malformed hashed host');
    const salt = Buffer.from(m[1], 'base64');
    const hash = Buffer.from(m[2], 'base64');
    if (salt.length !== 20 || hash.length !== 20) return err('malformed hashed host');
    return ok({ kind: 'hashed', salt, hash });
  }
  const patterns = hosts.split(',').filter((p) => p !== '');
  if (patterns.length === 0) return err('no host patterns');
  return ok({ kind: 'list', patterns });
}

/** Does this line's host part name the host? (`name` from hostName()). */
export function matchesHost(patterns: HostPatterns, name: string): boolean {
  if (patterns.kind === 'hashed') {
    const h = createHmac('sha1', patterns.salt).update(name).digest();
    return timingSafeEqual(h, patterns.hash);
  }
  // OpenSSH: a matching negated pattern vetoes the line; otherwise any positive match.
  let positive = false;
  for (const p of patterns.patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1).toLowerCase(), name)) return false;
    } else if (globMatch(p.toLowerCase(), name)) {
      positive = true;
    }
  }
  return positive;
}

function globMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern === name;
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(name);
}

/** Decide what the presented key means for `name`. */
export function checkHostKey(known: ParsedKnownHosts, name: string, key: Buffer): HostKeyVerdict {
  const fp = fingerprint(key);
  const forHost = known.entries.filter((e) => e.marker !== 'cert-authority' && matchesHost(e.patterns, name));
  if (forHost.some((e) => e.marker === 'revoked' && e.key.equals(key))) return { kind: 'revoked', fingerprint: fp };
  const plain = forHost.filter((e) => e.marker === undefined);
  if (plain.length === 0) return { kind: 'unknown', fingerprint: fp };
  if (plain.some((e) => e.key.equals(key))) return { kind: 'match', fingerprint: fp };
  return { kind: 'changed', fingerprint: fp, known: [...new Set(plain.map((e) => fingerprint(e.key)))] };
}

/** Key types already recorded for `name`, so the client can ask the server for one of them first. */
export function knownKeyTypes(known: ParsedKnownHosts, name: string): string[] {
  const types = known.entries
    .filter((e) => e.marker === undefined && matchesHost(e.patterns, name))
    .map((e) => e.keyType);
  return [...new Set(types)];
}

/** The line that records a host key: `name keytype base64`. */
export function knownHostsLine(name: string, key: Buffer): string {
  const type = keyTypeOf(key);
  if (type === undefined) throw new Error('not an SSH public key blob');
  return `${name} ${type} ${key.toString('base64')}`;
}
