/**
 * Argon2 password hashes in the PHC string format code-server stores and
 * verifies (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, unpadded standard
 * base64), in plain JavaScript (@noble/hashes): no native module, so the
 * single executable carries it like any other code, and synchronous, as
 * planning is. The parameters are the ones @node-rs/argon2 used before
 * (OWASP's: 19 MiB, 2 passes, 1 lane; 16-byte salt, 32-byte hash), so hashes
 * made by earlier versions of panel keep verifying and are kept.
 */
import { argon2d, argon2i, argon2id } from '@noble/hashes/argon2.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';

const ARGON2 = { argon2id, argon2i, argon2d } as const;
type Variant = keyof typeof ARGON2;
const DEFAULTS = { m: 19456, t: 2, p: 1 } as const;
const VERSION = 0x13;

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/=+$/, '');

/** A new argon2id hash of `password` with a fresh random salt. */
export function hashPassword(password: string, salt: Uint8Array = randomBytes(16)): string {
  const hash = argon2id(password, salt, { ...DEFAULTS, version: VERSION, dkLen: 32 });
  return `$argon2id$v=${VERSION}$m=${DEFAULTS.m},t=${DEFAULTS.t},p=${DEFAULTS.p}$${b64(salt)}$${b64(hash)}`;
}

const PHC = /^\$(argon2id|argon2i|argon2d)\$v=(\d+)\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

/** Whether `encoded` (a PHC argon2 string) is a hash of `password`; false for anything unparsable. */
export function verifyPassword(encoded: string, password: string): boolean {
  const m = PHC.exec(encoded);
  if (!m) return false;
  const [, variant, v, mem, t, p, salt, hash] = m as unknown as [string, Variant, string, string, string, string, string, string];
  const want = Buffer.from(hash, 'base64');
  // Costs far beyond what code-server makes would only burn this machine's memory: not ours, so not "verifies".
  if (Number(mem) > 1 << 20 || Number(t) > 64 || Number(p) > 64 || want.length < 4) return false;
  try {
    const got = ARGON2[variant](password, Buffer.from(salt, 'base64'), { m: Number(mem), t: Number(t), p: Number(p), version: Number(v), dkLen: want.length });
    return timingSafeEqual(Buffer.from(got), want);
  } catch {
    return false;
  }
}
