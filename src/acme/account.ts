/**
 * The ACME account key on the machine running panel: created once per CA
 * directory and kept (0600 in a 0700 directory), so renewals reuse the same
 * account. Never printed; registered with the redactor as a second guard.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { registerSecret } from '../secret.js';

/** `~/.config/panel/acme/<directory host[_port]>/account.pem` ($XDG_CONFIG_HOME respected). */
export function defaultAccountKeyFile(directoryUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  const u = new URL(directoryUrl);
  const dir = u.port ? `${u.hostname}_${u.port}` : u.hostname;
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'panel', 'acme', dir.replace(/[^A-Za-z0-9._-]/g, '_'), 'account.pem');
}

/** Read the account key, creating it when absent. */
export async function loadOrCreateAccountKey(file: string): Promise<Buffer> {
  try {
    const key = readFileSync(file);
    registerSecret(key.toString('utf8'));
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`ACME account key ${file}: ${(e as Error).message}`);
  }
  // acme-client (and axios under it) load only when a certificate is ordered.
  const { default: acme } = await import('acme-client');
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  registerSecret(key.toString('utf8'));
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    // 'wx': two panel processes racing to create the key must not overwrite each other's.
    writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file);
    throw new Error(`ACME account key ${file}: cannot write: ${(e as Error).message}`);
  }
  chmodSync(file, 0o600); // umask may have narrowed it further; never wider
  return key;
}
