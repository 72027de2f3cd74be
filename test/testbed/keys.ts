/**
 * SSH identities of a bed: one client key accepted by every user on every host,
 * and one ed25519 host key per host. Host keys are collected into a known_hosts
 * file so tests keep host-key checking on.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { must } from './run.js';

export interface KeyPair {
  privateFile: string;
  /** `ssh-ed25519 AAAA… comment` */
  publicLine: string;
}

export async function generateKey(file: string, comment: string): Promise<KeyPair> {
  await must(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return { privateFile: file, publicLine: (await readFile(`${file}.pub`, 'utf8')).trim() };
}

/** OpenSSH's `SHA256:…` fingerprint of a public key line (unpadded base64 of the blob's hash). */
export function fingerprint(publicLine: string): string {
  const blob = publicLine.split(/\s+/)[1];
  if (blob === undefined) throw new Error(`not a public key line: ${publicLine}`);
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** known_hosts line for a host on port 22: `ADDR ssh-ed25519 AAAA…` (comment dropped). */
export function knownHostsLine(address: string, publicLine: string): string {
  const [type, blob] = publicLine.split(/\s+/);
  return `${address} ${type} ${blob}`;
}
