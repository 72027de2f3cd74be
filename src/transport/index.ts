/** Pick and open the transport for a host's Connection. */
import type { Connection } from '../config.js';
import { LocalTransport } from './local.js';
import { SshTransport, type SshTransportOptions } from './ssh.js';
import type { Transport } from './types.js';

export type OpenOptions = SshTransportOptions;

/**
 * Open a transport; rejects with ConnectError (one line naming the host and
 * the cause) when the host cannot be reached, verified, authenticated, or
 * when root is not available there.
 */
export async function openTransport(conn: Connection, name: string, opts: OpenOptions = {}): Promise<Transport> {
  if (conn.kind === 'local') return LocalTransport.open(name);
  return SshTransport.open(conn, name, opts);
}

export { LocalTransport, NOT_ROOT_MESSAGE } from './local.js';
export { SshTransport, DEFAULT_MAX_CHANNELS, type SshTransportOptions } from './ssh.js';
export { DEFAULT_READY_TIMEOUT_MS, displayName } from './ssh-connect.js';
export { ConnectError, TransportError, type ConnectErrorKind, type ExecOptions, type ExecResult, type Transport, type TransportStats } from './types.js';
