/**
 * A private key file, read and parsed before any connection. panel never asks
 * for a passphrase (it runs unattended, over many hosts at once): a
 * passphrase-protected key is used through ssh-agent, which holds it
 * unlocked, and panel reaches the agent through SSH_AUTH_SOCK.
 */
import { readFileSync } from 'node:fs';
import ssh2 from 'ssh2';
import { err, ok, type Result } from '../result.js';

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { utils } = ssh2;

/** What to tell a user who gave a passphrase-protected key file. */
export function passphraseAdvice(file: string): string {
  return `is passphrase-protected, and panel never asks for a passphrase: load it into ssh-agent (ssh-add ${file}) and run without a key file (no --key, no key: in the inventory); panel then signs through the agent at SSH_AUTH_SOCK`;
}

export interface KeyProblem {
  readonly kind: 'unreadable' | 'passphrase' | 'invalid';
  /** One line naming the file. */
  readonly message: string;
}

/** The key file's bytes, or why it cannot be used. */
export function readPrivateKey(file: string): Result<Buffer, KeyProblem> {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (e) {
    return err({ kind: 'unreadable', message: `cannot read key file ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
  const parsed = utils.parseKey(data);
  if (parsed instanceof Error) {
    return err(
      /encrypted|passphrase/i.test(parsed.message)
        ? { kind: 'passphrase', message: `key file ${file} ${passphraseAdvice(file)}` }
        : { kind: 'invalid', message: `key file ${file} is not a usable private key (${parsed.message})` },
    );
  }
  return ok(data);
}
