/**
 * `--secret NAME=@FILE` (the value is the file's content, as faas-cli's
 * `secret create --from-file`) or `--secret NAME` (the value is the
 * environment variable PANEL_SECRET_<NAME>, upper-cased, `-` and `.` as `_`).
 * A value is never taken from the command line itself: argv is visible to
 * every user of the machine.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { err, ok, type Result } from '../result.js';
import { Secret } from '../secret.js';
import type { SecretInput } from './host.js';

const NAME = /^[a-zA-Z0-9]([-._a-zA-Z0-9]*[a-zA-Z0-9])?$/;

export function secretEnvName(name: string): string {
  return `PANEL_SECRET_${name.toUpperCase().replace(/[-.]/g, '_')}`;
}

export function parseSecretFlags(flags: readonly string[], env: Readonly<Record<string, string | undefined>>, cwd: string): Result<SecretInput[], string[]> {
  const out = new Map<string, SecretInput>();
  const errors: string[] = [];
  for (const f of flags) {
    const eq = f.indexOf('=');
    const name = eq < 0 ? f : f.slice(0, eq);
    const from = eq < 0 ? undefined : f.slice(eq + 1);
    if (!NAME.test(name)) {
      errors.push(`--secret ${JSON.stringify(name)}: a secret name is letters, digits, -, . and _`);
      continue;
    }
    if (out.has(name)) {
      errors.push(`--secret ${name}: given twice`);
      continue;
    }
    let value: string;
    if (from === undefined) {
      const v = env[secretEnvName(name)];
      if (v === undefined || v === '') {
        errors.push(`--secret ${name}: set ${secretEnvName(name)} in the environment, or give --secret ${name}=@FILE`);
        continue;
      }
      value = v;
    } else if (from.startsWith('@') && from.length > 1) {
      try {
        value = readFileSync(resolve(cwd, from.slice(1)), 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        errors.push(`--secret ${name}: cannot read ${from.slice(1)}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
        continue;
      }
    } else {
      errors.push(`--secret ${name}: the value comes from a file (--secret ${name}=@FILE) or from ${secretEnvName(name)}, never from the command line`);
      continue;
    }
    if (value === '') {
      errors.push(`--secret ${name}: the value is empty`);
      continue;
    }
    out.set(name, { name, value: new Secret(value) });
  }
  return errors.length > 0 ? err(errors) : ok([...out.values()]);
}
