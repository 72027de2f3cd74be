/**
 * Stand-in transport for engine unit tests: runs each script in a local
 * `bash -s` (no SSH, no root needed). It executes the engine's real batch
 * scripts, so marker parsing and shell quoting are exercised for real.
 */
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ExecResult, Session, Transport, TransportStats } from '../../src/transport/types.js';
import { lineSplitter } from '../../src/transport/lines.js';
import { tempDir } from './temp.js';

export class BashTransport implements Transport {
  readonly stats: TransportStats = { channels: 0, bytesSent: 0, bytesReceived: 0, wireBytesSent: 0, wireBytesReceived: 0 };
  readonly scripts: string[] = [];
  private readonly env: NodeJS.ProcessEnv;
  /**
   * Each stand-in is its own "host": its host lock lives in a directory of
   * its own (PANEL_RUN_DIR) unless `env` names one, so two stand-ins never
   * share a lock by accident and no test touches this machine's /run/panel.
   */
  constructor(
    readonly name = 'bash-stand-in',
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.env = { PANEL_RUN_DIR: tempDir('panel-run-'), ...env };
  }

  exec(script: string): Promise<ExecResult> {
    this.stats.channels++;
    this.stats.bytesSent += Buffer.byteLength(script);
    this.stats.wireBytesSent += Buffer.byteLength(script);
    this.scripts.push(script);
    return new Promise((resolve, reject) => {
      const child = spawn('bash', ['-s'], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        this.stats.bytesReceived += stdout.length + stderr.length;
        this.stats.wireBytesReceived += stdout.length + stderr.length;
        resolve({ code: code ?? 1, stdout, stderr });
      });
      child.stdin.end(script);
    });
  }
  /** A long-lived `bash -s` (the host lock); stdin stays open until `end`. */
  session(script: string, onLine: (line: string) => void): Promise<Session> {
    this.stats.channels++;
    this.scripts.push(script);
    const child = spawn('bash', ['-s'], { env: this.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const split = lineSplitter(onLine);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      split(d);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.on('error', () => {});
    const done = new Promise<ExecResult>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
    child.stdin.write(script);
    return Promise.resolve({ send: (line) => void (child.stdin.writable && child.stdin.write(`${line}\n`)), end: () => child.stdin.end(), done });
  }
  async put(): Promise<void> {
    throw new Error('not used');
  }
  async get(): Promise<Buffer | undefined> {
    return undefined;
  }
  /** This machine's loopback stands in for the host's (unit tests serve a fake gateway there). */
  forward(port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        this.stats.channels++;
        resolve(socket);
      });
      socket.once('error', reject);
    });
  }
  async close(): Promise<void> {}
}
