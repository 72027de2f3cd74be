/** How panel reaches a host: run a script, move a file, count the cost. */
import type { Duplex } from 'node:stream';

export interface ExecOptions {
  /** Run as root: `sudo -n` when the login user is not root. Default true. */
  readonly sudo?: boolean;
  /** Abort the command after this many milliseconds (exit code 124). */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Counters kept by every transport, for benchmarks and the recap. */
export interface TransportStats {
  /** Exec channels opened (round trips). */
  channels: number;
  /** Payload: scripts and file contents sent on stdin. */
  bytesSent: number;
  /** Payload: stdout and stderr received. */
  bytesReceived: number;
  /** On the network connection: SSH handshake, framing and encryption included (local: the payload). */
  wireBytesSent: number;
  wireBytesReceived: number;
}

export interface Transport {
  /** Display name used in every message: `root@10.0.0.2:22` or `local`. */
  readonly name: string;
  /**
   * Run a bash script on the host. The script travels on stdin (never on a
   * command line), so its size and content are not limited by argv quoting.
   * A non-zero exit is a result, not an exception; exceptions mean the
   * transport itself failed (connection lost, timeout).
   */
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Write bytes to a path on the host atomically (temp + rename), as root. */
  put(path: string, content: Buffer, mode?: number): Promise<void>;
  /** Read a file from the host, as root; undefined when absent. */
  get(path: string): Promise<Buffer | undefined>;
  /**
   * Start a bash script that keeps running while panel talks to it (the
   * host lock): its stdout comes back line by line, `send` writes lines to
   * its stdin after the script. Resolves once the script is started; one
   * channel for its whole life.
   */
  session(script: string, onLine: (line: string) => void, opts?: Pick<ExecOptions, 'sudo'>): Promise<Session>;
  /**
   * A TCP stream to `127.0.0.1:port` on the host, for talking to a service
   * that listens only on the host's loopback (the faasd gateway): over SSH a
   * forwarded channel of the same connection (no port is opened on the host),
   * locally a socket. Rejects with TransportError when it cannot be opened.
   */
  forward(port: number): Promise<Duplex>;
  readonly stats: TransportStats;
  close(): Promise<void>;
}

/** A running script started with `Transport.session`. */
export interface Session {
  /** Write one line to the script's stdin. */
  send(line: string): void;
  /** Close the script's stdin: it reads EOF. */
  end(): void;
  /** The script's end: exit code and output; rejects with TransportError when the connection is lost. */
  readonly done: Promise<ExecResult>;
}

/** Why a transport could not be opened; the CLI prints `host: message`. */
export type ConnectErrorKind =
  | 'unreachable'
  | 'timeout'
  | 'auth'
  | 'host-key-unknown'
  | 'host-key-changed'
  | 'host-key-revoked'
  | 'no-sudo'
  | 'not-root';

export class ConnectError extends Error {
  constructor(
    readonly kind: ConnectErrorKind,
    readonly host: string,
    message: string,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

/**
 * The transport failed while in use (connection lost, channel refused,
 * local spawn failed) — as opposed to a command exiting non-zero, which is
 * an ExecResult. The message names the host.
 */
export class TransportError extends Error {
  constructor(
    readonly host: string,
    message: string,
    /** What the command printed before the connection went away (its step markers say how far it got). */
    readonly partial?: { readonly stdout: string; readonly stderr: string },
  ) {
    super(message);
    this.name = 'TransportError';
  }
}
