/**
 * The ACME account contact. RFC 5322 allows characters like `$`, `'` and `|`
 * in the local part; real mailboxes almost never use them and they are the
 * ones that turn into injection, so panel accepts the common subset only.
 */
import { validateDomain } from './domain.js';
import { err, ok, type Result } from '../result.js';

const LOCAL = /^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*$/;

/** Reserved for documentation (RFC 2606); Let's Encrypt refuses contacts there (boulder's forbidden mail domains). */
const RESERVED = new Set(['example.com', 'example.net', 'example.org']);

/** Returns the address with its domain in ASCII (punycode) form. */
export function validateEmail(input: string): Result<string, string> {
  const q = JSON.stringify(input);
  if (input.length === 0) return err('email address is empty');
  if (input.length > 254) return err(`email address ${JSON.stringify(`${input.slice(0, 40)}…`)} is longer than 254 characters`);
  if (/^mailto:/i.test(input)) return err(`email address ${q}: give the bare address without mailto:`);
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) return err(`email address ${q} needs the form name@domain`);
  const local = input.slice(0, at);
  const domain = input.slice(at + 1);
  if (local.length > 64) return err(`email address ${q}: the part before @ is longer than 64 characters`);
  if (!LOCAL.test(local)) {
    return err(`email address ${q}: the part before @ may hold letters, digits, and . _ % + - (no leading, trailing or double dots)`);
  }
  const d = validateDomain(domain);
  if (!d.ok) return err(`email address ${q}: ${d.error}`);
  if (RESERVED.has(d.value)) return err(`email address ${q}: ${d.value} is reserved for examples and a CA refuses it; give a mailbox you read, or leave -m out (it is optional)`);
  return ok(`${local}@${d.value}`);
}
