/** Runs scripts on this machine with `bash -s`; panel must already be root. */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { backstopMs, bashArgv, exitCode, isTimeoutExit, wholeScript } from './command.js';
import { getVia, putVia, type RawResult } from './files.js';
import { lineSplitter } from './lines.js';
import { ConnectError, TransportError, type ExecOptions, type ExecResult, type Session, type Transport, type TransportStats } from './types.js';

export const NOT_ROOT_MESSAGE = 'panel must run as root on the local machine (try sudo)';

export class LocalTransport implements Transport {
  readonly #counts = { channels: 0, bytesSent: 0, bytesReceived: 0 };

  get stats(): TransportStats {
    return { ...this.#counts, wireBytesSent: this.#counts.bytesSent, wireBytesReceived: this.#counts.bytesReceived };
  }

  private constructor(readonly name: string) {}

  /** Refuses (ConnectError 'not-root') unless this process runs as root. */
  static open(name = 'local', uid: number | undefined = process.getuid?.()): LocalTransport {
    if (uid !== 0) throw new ConnectError('not-root', name, NOT_ROOT_MESSAGE);
    return new LocalTransport(name);
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.run(Buffer.from(wholeScript(script)), opts);
    return { code: r.code, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  put(path: string, content: Buffer, mode?: number): Promise<void> {
    return putVia((stdin, o) => this.run(stdin, o), this.name, path, content, mode);
  }

  get(path: string): Promise<Buffer | undefined> {
    return getVia((stdin, o) => this.run(stdin, o), this.name, path);
  }

  forward(port: number): Promise<Duplex> {
    return new Promise<Duplex>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        this.#counts.channels++;
        resolve(socket);
      });
      socket.once('error', (e) => reject(new TransportError(this.name, `${this.name}: cannot reach 127.0.0.1:${port}: ${e.message}`)));
    });
  }

  async close(): Promise<void> {}

  /**
   * A child `bash -s` that lives as long as its stdin is open: when panel
   * exits, however it exits, the pipe closes and the script reads EOF.
   */
  session(script: string, onLine: (line: string) => void): Promise<Session> {
    const [cmd, ...args] = bashArgv({ sudo: false });
    this.#counts.channels++;
    const child = spawn(cmd ?? 'bash', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const split = lineSplitter(onLine);
    child.stdout.on('data', (d: Buffer) => {
      out.push(d);
      this.#counts.bytesReceived += d.length;
      split(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      this.#counts.bytesReceived += d.length;
    });
    child.stdin.on('error', () => {});
    const done = new Promise<ExecResult>((resolve, reject) => {
      child.on('error', (e) => reject(new TransportError(this.name, `${this.name}: cannot run bash: ${e.message}`)));
      child.on('close', (code, signal) => resolve({ code: exitCode(code, signal, false), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() }));
    });
    // A child that did not start rejects `done`; nobody may be waiting on it yet.
    done.catch(() => undefined);
    const write = (text: string): void => {
      this.#counts.bytesSent += Buffer.byteLength(text);
      if (!child.stdin.destroyed && child.stdin.writable) child.stdin.write(text);
    };
    write(script);
    // Detached (its own process group): a Ctrl-C in the terminal reaches panel, not the lock holder.
    return Promise.resolve({ send: (line) => write(`${line}\n`), end: () => child.stdin.end(), done });
  }

  /** Already root, so `sudo` is moot here: every command runs as root. */
  private run(stdin: Buffer, opts: ExecOptions): Promise<RawResult> {
    const [cmd, ...args] = bashArgv({ sudo: false, timeoutMs: opts.timeoutMs });
    this.#counts.channels++;
    this.#counts.bytesSent += stdin.length;
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const child = spawn(cmd ?? 'bash', args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let backstopFired = false;
      const backstop =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              // timeout(1) should have ended it; kill the whole group ourselves.
              backstopFired = true;
              if (child.pid !== undefined) {
                try {
                  process.kill(-child.pid, 'SIGKILL');
                } catch {
                  /* already gone */
                }
              }
            }, backstopMs(opts.timeoutMs));
      child.stdout.on('data', (d: Buffer) => {
        out.push(d);
        this.#counts.bytesReceived += d.length;
      });
      child.stderr.on('data', (d: Buffer) => {
        err.push(d);
        this.#counts.bytesReceived += d.length;
      });
      // A script that exits before reading all of stdin makes the write fail with EPIPE; that is its business.
      child.stdin.on('error', () => {});
      child.on('error', (e) => {
        if (backstop) clearTimeout(backstop);
        reject(new TransportError(this.name, `${this.name}: cannot run bash: ${e.message}`));
      });
      child.on('close', (code, signal) => {
        if (backstop) clearTimeout(backstop);
        const timedOut = backstopFired || isTimeoutExit(code, Date.now() - started, opts.timeoutMs);
        resolve({ code: exitCode(code, signal, timedOut), stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
      });
      child.stdin.end(stdin);
    });
  }
}
