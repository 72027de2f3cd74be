/**
 * Domain names for HTTP-01 certificates. Pure and dependency-free (only
 * node:url and node:net) so the inventory, the CLI and the recipes can all
 * check names before anything connects anywhere.
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { err, ok, type Result } from '../result.js';

/**
 * A domain name that passed validateDomain: ASCII (punycode), lower case, no
 * root dot. Only this module makes one, so code holding a DomainName never
 * checks it again.
 */
export type DomainName = string & { readonly __brand: 'DomainName' };

/** Let's Encrypt's limit of names per certificate. */
export const MAX_NAMES = 100;

const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function show(s: string): string {
  return JSON.stringify(s);
}

/**
 * Check one name and return its ASCII (punycode, lower-case) form, the form
 * used in certificates, nginx `server_name` and directory names.
 */
export function validateDomain(input: string): Result<DomainName, string> {
  const q = show(input);
  if (input.length === 0) return err('domain is empty');
  if (input.length > 300) return err(`domain ${JSON.stringify(`${input.slice(0, 40)}…`)} is too long`);
  if (/[\s\p{Cc}]/u.test(input)) return err(`domain ${q} contains whitespace or a control character`);
  if (input.includes('*')) return err(`domain ${q}: wildcard names need a DNS-01 challenge; panel uses HTTP-01, list each name instead`);
  const bare = input.startsWith('[') && input.endsWith(']') ? input.slice(1, -1) : input;
  if (isIP(bare) !== 0) return err(`domain ${q} is an IP address; certificates here are issued for DNS names only`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return err(`domain ${q} looks like a URL; give the bare name without scheme or path`);
  // Reject ASCII punctuation before IDN mapping so e.g. a full-width semicolon
  // cannot sneak in as `;` after normalisation (checked again afterwards).
  const badAscii = /[^A-Za-z0-9.\-\u0080-\u{10FFFF}]/u.exec(input);
  if (badAscii) return err(`domain ${q} contains the character ${show(badAscii[0])}; only letters, digits, hyphens and dots are allowed`);

  const ascii = domainToASCII(input);
  if (ascii === '') return err(`domain ${q} is not a valid (internationalised) domain name`);
  const name = ascii.endsWith('.') ? ascii.slice(0, -1) : ascii; // the root dot is implied in certificates
  const badMapped = /[^a-z0-9.-]/.exec(name);
  if (badMapped) return err(`domain ${q} contains the character ${show(badMapped[0])} after IDN normalisation`);
  if (name.length > 253) return err(`domain ${q} is longer than 253 characters`);
  if (isIP(name) !== 0) return err(`domain ${q} is an IP address; certificates here are issued for DNS names only`);

  const labels = name.split('.');
  if (labels.length < 2) return err(`domain ${q} has a single label; a publicly trusted certificate needs a name like example.com`);
  for (const label of labels) {
    if (label.length === 0) return err(`domain ${q} has an empty label (two dots in a row, or a leading dot)`);
    if (label.length > 63) return err(`domain ${q} has a label longer than 63 characters`);
    if (label.startsWith('-') || label.endsWith('-')) return err(`domain ${q}: label ${show(label)} starts or ends with a hyphen`);
    if (!LABEL.test(label)) return err(`domain ${q}: label ${show(label)} is not a valid host name label`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1]!)) return err(`domain ${q} ends in an all-numeric label`);
  return ok(name as DomainName);
}

/**
 * Check a list of names for one certificate (the first is the primary: it
 * names the certificate's directory). All problems are reported at once.
 */
export function validateDomains(inputs: readonly string[]): Result<DomainName[], string[]> {
  const errors: string[] = [];
  const names: DomainName[] = [];
  for (const input of inputs) {
    const r = validateDomain(input);
    if (!r.ok) errors.push(r.error);
    else if (names.includes(r.value)) errors.push(`domain ${show(input)} is listed twice`);
    else names.push(r.value);
  }
  if (names.length > MAX_NAMES) errors.push(`${names.length} domains given; one certificate holds at most ${MAX_NAMES}`);
  return errors.length > 0 ? err(errors) : ok(names);
}

/** Names written in code (tests, constants) as DomainNames; throws on an invalid one, as a programming error. */
export function domainNames(...inputs: readonly string[]): DomainName[] {
  const r = validateDomains(inputs);
  if (!r.ok) throw new Error(r.error.join('; '));
  return r.value;
}
