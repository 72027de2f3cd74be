/**
 * Flag values that are not host settings on their own: the password flags
 * (secret, so never written into an inventory structure), the ACME directory
 * shorthand, the default recipe list. An error is one line naming the flag.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { LETS_ENCRYPT_STAGING } from '../config.js';
import { Secret } from '../secret.js';
import type { CommonFlags } from './flags.js';
import { UsageError } from './usage-error.js';

export type { CommonFlags } from './flags.js';

export const STACK = ['base', 'containerd', 'cni', 'bridge', 'faasd'] as const;
export const WEB = ['nginx', 'certificate', 'status'] as const;

export { UsageError };

function expandHome(p: string): string {
  return p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : resolve(p);
}

/** -p, --password-file or PANEL_PASSWORD; at least 8 characters (faasd's basic auth). */
export function passwordFrom(flags: CommonFlags, env: Readonly<Record<string, string | undefined>> = process.env): Secret | undefined {
  if (flags.password !== undefined && flags.passwordFile !== undefined) throw new UsageError('use either -p/--password or --password-file, not both');
  if (flags.password !== undefined) return checkedPassword('-p/--password', flags.password);
  if (flags.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(expandHome(flags.passwordFile), 'utf8');
    } catch {
      throw new UsageError(`--password-file ${flags.passwordFile}: no such file`);
    }
    return checkedPassword('--password-file', text.replace(/\r?\n$/, ''));
  }
  const fromEnv = env['PANEL_PASSWORD'];
  return fromEnv ? checkedPassword('PANEL_PASSWORD', fromEnv) : undefined;
}

/**
 * faasd's basic auth takes one line: a line break would be cut off by the
 * secret file's readers (the status page's htpasswd, curl's config line), so
 * the password the user typed would not be the one that works. Never echoed.
 */
function checkedPassword(from: string, value: string): Secret {
  if (value.length < 8) throw new UsageError(`${from}: the password must have at least 8 characters`);
  if (/[\r\n\0]/.test(value)) throw new UsageError(`${from}: the password must be one line (no line break or NUL character)`);
  return new Secret(value);
}

/** `--recipes a,b`; undefined when not given. */
export function recipesFlag(flags: CommonFlags): string[] | undefined {
  if (flags.recipes === undefined) return undefined;
  const ids = flags.recipes.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new UsageError('--recipes: empty list');
  return ids;
}

/** What a run without --recipes converges on the hosts the flags name. */
export function defaultRecipes(domains: readonly string[]): string[] {
  return domains.length > 0 ? [...STACK, ...WEB] : [...STACK];
}

/** `--staging` is a name for Let's Encrypt's staging directory; undefined when neither is given. */
export function acmeDirectory(flags: CommonFlags): string | undefined {
  if (flags.staging && flags.acmeDirectory) throw new UsageError('use either --staging or --acme-directory, not both');
  return flags.acmeDirectory ?? (flags.staging ? LETS_ENCRYPT_STAGING : undefined);
}
