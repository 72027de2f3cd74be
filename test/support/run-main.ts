/**
 * `main` in-process with stdout and stderr captured and nothing contacted:
 * the host connection is a stand-in that records the host and fails, and so
 * is `fetch` (the artifact checksum prefetch that starts before connecting).
 * "Reached the stand-in" means panel accepted every input of the run.
 */
import { main } from '../../src/cli/main.js';
import type { HostConfig } from '../../src/config.js';

export interface MainOutcome {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** Hosts the run tried to connect to (the stand-in's record). */
  readonly connected: string[];
  /** URLs the run tried to fetch (the stand-in's record). */
  readonly fetched: string[];
}

export async function runMain(argv: readonly string[]): Promise<MainOutcome> {
  let out = '';
  let err = '';
  const connected: string[] = [];
  const fetched: string[] = [];
  const writeOut = process.stdout.write;
  const writeErr = process.stderr.write;
  const realFetch = globalThis.fetch;
  const capture = (append: (s: string) => void) =>
    ((chunk: unknown, ...rest: unknown[]): boolean => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      const cb = rest.find((a) => typeof a === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture((s) => (out += s));
  process.stderr.write = capture((s) => (err += s));
  globalThis.fetch = (async (url: string | URL | Request) => {
    fetched.push(String(url));
    throw new Error('fetch stand-in: no network in this test');
  }) as typeof fetch;
  let code: number;
  try {
    code = await main(argv, {
      connect: async (c: HostConfig) => {
        connected.push(c.name);
        throw new Error('connection stand-in: not connecting in this test');
      },
    });
  } finally {
    process.stdout.write = writeOut;
    process.stderr.write = writeErr;
    globalThis.fetch = realFetch;
  }
  return { code, out, err, connected, fetched };
}
