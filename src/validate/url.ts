import { err, ok, type Result } from '../result.js';

/** An ACME directory URL: https (http only for a CA on this machine, e.g. a local Pebble). */
export function validateAcmeDirectory(input: string): Result<string, string> {
  const q = JSON.stringify(input);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return err(`ACME directory ${q} is not a URL`);
  }
  const local = url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) return err(`ACME directory ${q} must be an https:// URL`);
  if (url.username || url.password) return err(`ACME directory ${q} must not carry credentials`);
  return ok(url.toString());
}
