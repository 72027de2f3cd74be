/**
 * One SSH connection per host, reused for the whole run. Every exec opens a
 * channel running `bash -s` (or `sudo -n bash -s`) with the script on stdin;
 * a semaphore keeps channels under sshd's MaxSessions (10 by default).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client, ClientChannel } from 'ssh2';
import { backstopMs, bashCommandLine, exitCode, isTimeoutExit, wholeScript } from './command.js';
import { getVia, putVia, type RawResult } from './files.js';
import { lineSplitter } from './lines.js';
import { Semaphore } from './semaphore.js';
import { connectSsh, displayName, type SshConnection, type SshOptions } from './ssh-connect.js';
import { ConnectError, TransportError, type ExecOptions, type ExecResult, type Session, type Transport, type TransportStats } from './types.js';

/** One channel's output and exit status, as `#watch` collects them. */
interface ChannelOutput {
  stdout(): Buffer;
  stderr(): Buffer;
  partial(): { stdout: string; stderr: string };
  exited(): boolean;
  code(): number | null;
  signal(): string | null;
}

export interface SshTransportOptions extends SshOptions {
  /** Concurrent exec channels; default 8 (OpenSSH MaxSessions is 10, leave room). */
  readonly maxChannels?: number;
}

export const DEFAULT_MAX_CHANNELS = 8;
/** Retries of a refused channel open (25 ms doubling: ~1.5 s in all). */
const OPEN_RETRIES = 6;

export class SshTransport implements Transport {
  readonly #counts = { channels: 0, bytesSent: 0, bytesReceived: 0 };
  readonly #client: Client;
  readonly #socket: Socket;
  readonly #display: string;
  readonly #sem: Semaphore;
  /** Root commands need `sudo -n` (login user is not root and sudo not disabled). */
  readonly #sudo: boolean;
  /** Why the connection went away, once it has. */
  #lost: string | undefined;
  #closing = false;
  #lastError: string | undefined;
  readonly #inflight = new Set<(err: Error) => void>();

  private constructor(
    readonly name: string,
    client: Client,
    socket: Socket,
    conn: SshConnection,
    opts: SshTransportOptions,
  ) {
    this.#client = client;
    this.#socket = socket;
    this.#display = displayName(conn);
    this.#sem = new Semaphore(opts.maxChannels ?? DEFAULT_MAX_CHANNELS);
    this.#sudo = conn.sudo ?? conn.user !== 'root';
    client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    client.on('close', () => {
      this.#lost = this.#closing ? 'transport closed' : `connection lost${this.#lastError ? ` (${this.#lastError})` : ''}`;
      const err = new TransportError(this.name, `${this.#display}: ${this.#lost}`);
      for (const rejectOne of this.#inflight) rejectOne(err);
      this.#inflight.clear();
    });
  }

  /** Connect, then check once that sudo works, so a missing sudo fails here and not mid-apply. */
  static async open(conn: SshConnection, name: string, opts: SshTransportOptions = {}): Promise<SshTransport> {
    const { client, socket } = await connectSsh(conn, name, opts);
    const t = new SshTransport(name, client, socket, conn, opts);
    if (t.#sudo) {
      let r: RawResult;
      try {
        r = await t.#probeSudo();
      } catch (err) {
        await t.close();
        throw new ConnectError('unreachable', name, (err as Error).message);
      }
      if (r.code !== 0) {
        await t.close();
        const line = r.stderr.toString().trim().split('\n')[0] || `exit ${r.code}`;
        throw new ConnectError(
          'no-sudo',
          name,
          `${t.#display}: user ${conn.user} cannot run sudo without a password (sudo -n failed: ${line})`,
        );
      }
    }
    return t;
  }

  /**
   * `sudo -n true`, once more if its channel closed without an exit status
   * while the connection stayed up: seen now and then on a sudo-rs host right
   * after login, under load. The probe changes nothing, so a second try is safe;
   * a lost connection or a real answer (any exit status) is never retried.
   */
  async #probeSudo(): Promise<RawResult> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#sem.use(() => this.#channel('sudo -n true', Buffer.alloc(0), undefined));
      } catch (err) {
        const noStatus = /channel closed without an exit status/.test((err as Error).message);
        if (!noStatus || this.#lost !== undefined || attempt >= 2) throw err;
        await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
      }
    }
  }

  get stats(): TransportStats {
    return { ...this.#counts, wireBytesSent: this.#socket.bytesWritten, wireBytesReceived: this.#socket.bytesRead };
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.#run(Buffer.from(wholeScript(script)), opts);
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  put(path: string, content: Buffer, mode?: number): Promise<void> {
    return putVia((stdin, o) => this.#run(stdin, o), this.name, path, content, mode);
  }

  get(path: string): Promise<Buffer | undefined> {
    return getVia((stdin, o) => this.#run(stdin, o), this.name, path);
  }

  /**
   * The channel keeps a semaphore slot for the session's whole life; the
   * script reads the lines sent after it from the same stdin (bash reads a
   * piped script byte by byte, so it leaves them unread for `read`).
   */
  session(script: string, onLine: (line: string) => void, opts: Pick<ExecOptions, 'sudo'> = {}): Promise<Session> {
    const command = bashCommandLine({ sudo: (opts.sudo ?? true) && this.#sudo });
    return new Promise<Session>((resolveOpen, rejectOpen) => {
      void this.#sem.use(async () => {
        let ch: ClientChannel;
        try {
          ch = await this.#open(command);
        } catch (err) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as #open rejected (ssh2 rejects with Errors)
          rejectOpen(err);
          return;
        }
        this.#counts.channels++;
        const split = lineSplitter(onLine);
        const done = new Promise<ExecResult>((resolve, reject) => {
          const got = this.#watch(ch, split);
          const onLost = (err: Error): void => {
            this.#inflight.delete(onLost);
            reject(new TransportError(this.name, err.message, got.partial()));
          };
          this.#inflight.add(onLost);
          ch.on('close', () => {
            setImmediate(() => {
              if (!this.#inflight.has(onLost)) return;
              this.#inflight.delete(onLost);
              if (!got.exited()) {
                reject(this.#closedWithoutExit(got));
                return;
              }
              const p = got.partial();
              resolve({ code: exitCode(got.code(), got.signal(), false), stdout: p.stdout, stderr: p.stderr });
            });
          });
        });
        const stdin = Buffer.from(script);
        this.#counts.bytesSent += stdin.length;
        ch.write(stdin);
        resolveOpen({
          // After the channel closed there is nobody to tell: a late line is dropped.
          send: (line) => {
            const b = Buffer.from(`${line}\n`);
            this.#counts.bytesSent += b.length;
            try {
              ch.write(b);
            } catch {
              /* channel gone */
            }
          },
          end: () => {
            try {
              ch.end();
            } catch {
              /* channel gone */
            }
          },
          done,
        });
        await done.catch(() => undefined);
      });
    });
  }

  /** A direct-tcpip channel: sshd connects to the host's loopback for us (AllowTcpForwarding must not be `no`). */
  forward(port: number): Promise<Duplex> {
    if (this.#lost !== undefined) return Promise.reject(new TransportError(this.name, `${this.#display}: ${this.#lost}`));
    return new Promise<Duplex>((resolve, reject) => {
      this.#client.forwardOut('127.0.0.1', 0, '127.0.0.1', port, (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          const hint = /administratively prohibited/i.test(err.message) ? ' (sshd refuses TCP forwarding: AllowTcpForwarding no)' : '';
          reject(new TransportError(this.name, `${this.#display}: cannot reach 127.0.0.1:${port} on the host: ${err.message}${hint}`));
          return;
        }
        this.#counts.channels++;
        ch.on('data', (d: Buffer) => (this.#counts.bytesReceived += d.length));
        resolve(ch);
      });
    });
  }

  async close(): Promise<void> {
    if (this.#lost !== undefined) return;
    this.#closing = true;
    await new Promise<void>((resolve) => {
      this.#client.once('close', () => resolve());
      this.#client.end();
    });
  }

  #run(stdin: Buffer, opts: ExecOptions): Promise<RawResult> {
    const command = bashCommandLine({ sudo: (opts.sudo ?? true) && this.#sudo, timeoutMs: opts.timeoutMs });
    return this.#sem.use(() => this.#channel(command, stdin, opts.timeoutMs));
  }

  /**
   * Open an exec channel, retrying a refused open: sshd frees a finished
   * session's slot only in a later pass of its main loop, so an open that
   * arrives right after a close can briefly see MaxSessions exceeded even
   * though we never hold more than maxChannels. Nothing ran, so retrying is safe.
   */
  async #open(command: string): Promise<ClientChannel> {
    for (let attempt = 0; ; attempt++) {
      if (this.#lost !== undefined) throw new TransportError(this.name, `${this.#display}: ${this.#lost}`);
      try {
        return await new Promise<ClientChannel>((resolve, reject) => {
          this.#client.exec(command, (err: Error | undefined, ch: ClientChannel) => (err ? reject(err) : resolve(ch)));
        });
      } catch (err) {
        const refused = /Channel open failure/i.test((err as Error).message);
        if (!refused || attempt >= OPEN_RETRIES) {
          throw new TransportError(this.name, `${this.#display}: cannot open a channel: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 25 * 2 ** attempt));
      }
    }
  }

  /**
   * What one channel sends back: its output (counted as received), its exit
   * status. A script that exits before reading all its stdin makes our write
   * fail; that is its business, so channel errors are ignored here.
   */
  #watch(ch: ClientChannel, onStdout?: (d: Buffer) => void): ChannelOutput {
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let code: number | null = null;
    let signal: string | null = null;
    let exited = false;
    ch.on('data', (d: Buffer) => {
      out.push(d);
      this.#counts.bytesReceived += d.length;
      onStdout?.(d);
    });
    ch.stderr.on('data', (d: Buffer) => {
      errOut.push(d);
      this.#counts.bytesReceived += d.length;
    });
    ch.on('exit', (c: number | null, s?: string) => {
      exited = true;
      code = c;
      signal = s ?? null;
    });
    ch.on('error', () => {});
    const stdout = (): Buffer => Buffer.concat(out);
    const stderr = (): Buffer => Buffer.concat(errOut);
    return {
      stdout,
      stderr,
      // What came back before a lost connection: the step markers in it say where the script was.
      partial: () => ({ stdout: stdout().toString(), stderr: stderr().toString() }),
      exited: () => exited,
      code: () => code,
      signal: () => signal,
    };
  }

  /** A channel that closed without an exit status: the connection is going away, and its reason wins. */
  #closedWithoutExit(got: ChannelOutput): TransportError {
    return new TransportError(this.name, `${this.#display}: ${this.#lost ?? 'channel closed without an exit status (connection lost?)'}`, got.partial());
  }

  /** One exec channel: send stdin, collect output, resolve with the exit status. */
  async #channel(command: string, stdin: Buffer, timeoutMs: number | undefined): Promise<RawResult> {
    const ch = await this.#open(command);
    this.#counts.channels++;
    const started = Date.now();
    return new Promise<RawResult>((resolve, reject) => {
      let settled = false;
      let backstop: NodeJS.Timeout | undefined;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        if (backstop) clearTimeout(backstop);
        this.#inflight.delete(onLost);
        fn();
      };
      const got = this.#watch(ch);
      const onLost = (err: Error) => finish(() => reject(new TransportError(this.name, err.message, got.partial())));
      this.#inflight.add(onLost);
      if (this.#lost !== undefined) return onLost(new TransportError(this.name, `${this.#display}: ${this.#lost}`));

      let timedOut = false;
      if (timeoutMs !== undefined) {
        // timeout(1) on the host normally ends it; this covers a host that stops answering.
        backstop = setTimeout(() => {
          timedOut = true;
          ch.close();
        }, backstopMs(timeoutMs));
      }
      ch.on('close', () => {
        if (!got.exited() && !timedOut) {
          // Channel ended without an exit status: the connection is going away; let its reason win.
          setImmediate(() => finish(() => reject(this.#closedWithoutExit(got))));
          return;
        }
        const to = timedOut || isTimeoutExit(got.code(), Date.now() - started, timeoutMs);
        finish(() => resolve({ code: exitCode(got.code(), got.signal(), to), stdout: got.stdout(), stderr: got.stderr() }));
      });
      this.#counts.bytesSent += stdin.length;
      ch.end(stdin);
    });
  }
}
