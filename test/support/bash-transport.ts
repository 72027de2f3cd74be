/**
 * Stand-in transport for engine unit tests: runs each script in a local
 * `bash -s` (no SSH, no root needed). It executes the engine's real batch
 * scripts, so marker parsing and shell quoting are exercised for real.
 */
import { spawn } from 'node:child_process';
import type { ExecResult, Transport, TransportStats } from '../../src/transport/types.js';

export class BashTransport implements Transport {
  readonly stats: TransportStats = { channels: 0, bytesSent: 0, bytesReceived: 0, wireBytesSent: 0, wireBytesReceived: 0 };
  readonly scripts: string[] = [];
  constructor(readonly name = 'bash-stand-in', private readonly env: NodeJS.ProcessEnv = process.env) {}

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
  async put(): Promise<void> {
    throw new Error('not used');
  }
  async get(): Promise<Buffer | undefined> {
    return undefined;
  }
  async close(): Promise<void> {}
}
