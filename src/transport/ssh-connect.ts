/**
 * Opening one authenticated, host-key-verified ssh2 connection, and turning
 * every way that can fail into one ConnectError line naming `user@addr:port`.
 */
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import type { Connection } from '../config.js';
import { decideHostKey, type HostKeyPolicy } from './host-key.js';
import { appendKnownHost, defaultKnownHostsFile, readKnownHosts } from './known-hosts-file.js';
import { hostName, knownKeyTypes } from './known-hosts.js';
import { readPrivateKey } from './key-file.js';
import { ConnectError } from './types.js';

// ssh2 is CommonJS; Node's ESM loader only sees its default export.
const { Client } = ssh2;
type Client = InstanceType<typeof Client>;

export type SshConnection = Extract<Connection, { kind: 'ssh' }>;

export interface SshOptions {
  /** Handshake (TCP connect + key exchange + auth) deadline; default 15 s. */
  readonly readyTimeoutMs?: number;
  /** Keepalive probe interval; default 15 s (3 unanswered probes = connection lost). */
  readonly keepaliveIntervalMs?: number;
}

export const DEFAULT_READY_TIMEOUT_MS = 15_000;
const DEFAULT_KEEPALIVE_MS = 15_000;

/** `user@addr:port`, with IPv6 addresses bracketed so the port stays readable. */
export function displayName(conn: SshConnection): string {
  const addr = conn.address.includes(':') ? `[${conn.address}]` : conn.address;
  return `${conn.user}@${addr}:${conn.port}`;
}

interface Auth {
  readonly config: Pick<ConnectConfig, 'privateKey' | 'agent'>;
  /** How authentication was attempted, for the failure message. */
  readonly tried: string;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

// eslint-disable-next-line @typescript-eslint/require-await -- async so that `fail` (a throw) reaches the caller as a rejected connect
async function resolveAuth(conn: SshConnection, host: string, display: string): Promise<Auth> {
  const fail = (msg: string): never => {
    throw new ConnectError('auth', host, `${display}: ${msg}`);
  };
  let keyFile = conn.keyFile;
  if (keyFile === undefined) {
    const sock = process.env['SSH_AUTH_SOCK'];
    if (sock) return { config: { agent: sock }, tried: `ssh-agent at ${sock}` };
    // Like ssh(1): without an agent, fall back to the user's default key.
    keyFile = DEFAULT_KEYS.map((k) => join(homedir(), '.ssh', k)).find((f) => existsSync(f));
    if (keyFile === undefined) return fail('no key file given, SSH_AUTH_SOCK is not set and ~/.ssh has no id_ed25519/id_ecdsa/id_rsa');
  }
  const key = readPrivateKey(keyFile);
  if (!key.ok) return fail(key.error.message);
  const data = key.value;
  return { config: { privateKey: data }, tried: `key ${keyFile}` };
}

/** Host key algorithms ssh2 supports, in its default preference order. */
const HOST_KEY_ALGORITHMS: readonly ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * Ask for a key type already recorded for this host first (as OpenSSH does);
 * otherwise a host known by its RSA key that also has an ed25519 key would
 * present the ed25519 one and look "changed".
 */
export function hostKeyPreference(knownTypes: readonly string[]): ServerHostKeyAlgorithm[] {
  const first = knownTypes.flatMap((t): string[] => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  const preferred = HOST_KEY_ALGORITHMS.filter((a) => first.includes(a));
  return [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))];
}

interface SshError extends Error {
  readonly level?: string;
  readonly code?: string | number;
}

/** One line for each way the handshake can fail. */
export function describeConnectFailure(err: SshError, ctx: { host: string; display: string; user: string; tried: string; readyTimeoutMs: number }): ConnectError {
  const at = (kind: ConnectError['kind'], msg: string) => new ConnectError(kind, ctx.host, `${ctx.display}: ${msg}`);
  if (err.level === 'client-authentication') return at('auth', `authentication failed for user ${ctx.user} (tried ${ctx.tried})`);
  if (err.level === 'agent') return at('auth', `ssh-agent failed (${err.message})`);
  if (err.level === 'client-timeout') {
    return at('timeout', `timed out after ${ctx.readyTimeoutMs / 1000} s waiting for SSH (host down or port filtered?)`);
  }
  switch (err.code) {
    case 'ECONNREFUSED':
      return at('unreachable', 'connection refused (is sshd running?)');
    case 'EHOSTUNREACH':
      return at('unreachable', 'host unreachable (no route to host)');
    case 'ENETUNREACH':
      return at('unreachable', 'network unreachable');
    case 'ETIMEDOUT':
      return at('timeout', 'connection timed out');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return at('unreachable', 'cannot resolve host name');
    case 'ECONNRESET':
      return at('unreachable', 'connection reset during the SSH handshake (not an SSH server, or sshd refused us?)');
  }
  return at('unreachable', `SSH handshake failed: ${err.message}`);
}

/** An authenticated client and the TCP socket under it (whose byte counts are the wire traffic). */
export interface SshSession {
  readonly client: Client;
  readonly socket: Socket;
}

/** Connect, verify the host key, authenticate. Rejects only with ConnectError. */
export async function connectSsh(conn: SshConnection, host: string, opts: SshOptions = {}): Promise<SshSession> {
  const display = displayName(conn);
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const auth = await resolveAuth(conn, host, display);
  const knownHostsFile = conn.knownHosts ?? defaultKnownHostsFile();
  const lookupName = hostName(conn.address, conn.port);
  let known;
  try {
    known = await readKnownHosts(knownHostsFile);
  } catch (err) {
    throw new ConnectError('host-key-unknown', host, `${display}: cannot read ${knownHostsFile}: ${(err as Error).message}`);
  }
  const policy: HostKeyPolicy = {
    display,
    host,
    lookupName,
    knownHostsFile,
    trustNewHost: conn.trustNewHost ?? false,
    ...(conn.fingerprint !== undefined ? { pin: conn.fingerprint } : {}),
  };

  return new Promise<SshSession>((resolve, reject) => {
    const client = new Client();
    // Our own socket (ssh2 would make the same one) so that its byte counts stay readable.
    const socket = new Socket();
    // Set by the host verifier: a refusal explains the generic "Host denied" error that follows.
    let refusal: ConnectError | undefined;
    let settled = false;
    const fail = (e: ConnectError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(e);
    };
    client.once('ready', () => {
      if (settled) return;
      settled = true;
      resolve({ client, socket });
    });
    // Stays attached for the client's life: after `ready` the transport handles errors via 'close'.
    client.on('error', (err: SshError) => {
      fail(refusal ?? describeConnectFailure(err, { host, display, user: conn.user, tried: auth.tried, readyTimeoutMs }));
    });
    client.once('close', () => {
      fail(refusal ?? new ConnectError('unreachable', host, `${display}: connection closed during the SSH handshake`));
    });
    const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
      const decision = decideHostKey(known, policy, key);
      if (decision.kind === 'accept') return verify(true);
      if (decision.kind === 'refuse') {
        refusal = decision.error;
        return verify(false);
      }
      appendKnownHost(knownHostsFile, decision.line).then(
        () => verify(true),
        (err: Error) => {
          refusal = new ConnectError('host-key-unknown', host, `${display}: cannot record host key in ${knownHostsFile}: ${err.message}`);
          verify(false);
        },
      );
    };
    try {
      socket.setMaxListeners(0);
      // Connecting before handing it over: ssh2 then waits for 'connect' and maps its errors as for its own socket.
      socket.connect({ host: conn.address, port: conn.port });
      client.connect({
        sock: socket,
        host: conn.address,
        port: conn.port,
        username: conn.user,
        ...auth.config,
        readyTimeout: readyTimeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs ?? DEFAULT_KEEPALIVE_MS,
        keepaliveCountMax: 3,
        hostVerifier,
        algorithms: { serverHostKey: hostKeyPreference(conn.fingerprint === undefined ? knownKeyTypes(known, lookupName) : []) },
      });
    } catch (err) {
      socket.destroy();
      fail(new ConnectError('unreachable', host, `${display}: cannot start SSH connection: ${(err as Error).message}`));
    }
  });
}
