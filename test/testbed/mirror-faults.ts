/**
 * TEST-ONLY fault switch of a bed's artifact mirror: a test makes one path of
 * the mirror answer an HTTP error (every time, or the first n times and then
 * the real file, to show a retry), trickle the real file slowly, or serve
 * other bytes (a corrupted artifact).
 *
 * The switch is a file beside the mirror tree, `<run dir>/mirror-faults.json`,
 * which the bed's static server reads on every request to the mirror; it is
 * outside the served tree, so nothing of the upstream layout can reach or
 * change it. The server appends one JSON line per mirror request to
 * `<run dir>/mirror-requests.log` (what it answered, which fault), so a test
 * counts retries from the server's side.
 *
 * A fault's count (`times`) starts again whenever the faults file changes.
 */
import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type MirrorFault =
  /** Answer `status` (no body of the file); with `times`, only the first `times` requests, then the file. */
  | { readonly kind: 'status'; readonly status: number; readonly times?: number }
  /** Send the real file at this many bytes per second (headers at once, as a congested mirror does). */
  | { readonly kind: 'slow'; readonly bytesPerSecond: number }
  /** Answer 200 with these bytes instead of the file (a corrupted or tampered artifact). */
  | { readonly kind: 'body'; readonly body: string };

/** Faults by path below the mirror root (no leading slash), e.g. `openfaas/faasd/releases/download/0.19.7/faasd`. */
export type MirrorFaults = Readonly<Record<string, MirrorFault>>;

export interface MirrorRequest {
  /** ms since the epoch when the request arrived. */
  readonly at: number;
  readonly method: string;
  /** Below the mirror root, no leading slash. */
  readonly path: string;
  readonly status: number;
  /** The fault that shaped the answer, if any. */
  readonly fault?: MirrorFault['kind'];
}

export const faultsFile = (runDir: string): string => join(runDir, 'mirror-faults.json');
export const requestsLog = (runDir: string): string => join(runDir, 'mirror-requests.log');

/** Replace the bed's faults (atomically: the server never reads half a file). */
export async function writeFaults(runDir: string, faults: MirrorFaults): Promise<void> {
  const f = faultsFile(runDir);
  await writeFile(`${f}.tmp`, JSON.stringify(faults));
  await rename(`${f}.tmp`, f);
}

/** The faults file's text ('' when absent). */
export async function readFaultsText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return '';
  }
}

export function parseFaults(text: string): MirrorFaults {
  return text.trim() === '' ? {} : (JSON.parse(text) as MirrorFaults);
}

export async function logRequest(file: string, r: MirrorRequest): Promise<void> {
  await appendFile(file, `${JSON.stringify(r)}\n`);
}

/** Every mirror request logged so far (of one path, when given), oldest first. */
export async function readRequests(runDir: string, path?: string): Promise<MirrorRequest[]> {
  const text = await readFaultsText(requestsLog(runDir));
  const all = text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as MirrorRequest);
  return path === undefined ? all : all.filter((r) => r.path === path.replace(/^\/+/, ''));
}

/** What a bed exposes to tests (see Testbed.mirrorFaults). */
export interface MirrorFaultControl {
  /** Make `path` (below the mirror root) misbehave; replaces any fault of that path. */
  set(path: string, fault: MirrorFault): Promise<void>;
  /** Every path answers normally again, and the request log starts empty. */
  clear(): Promise<void>;
  /** The mirror's request log (of one path, when given). */
  requests(path?: string): Promise<MirrorRequest[]>;
}

export function mirrorFaultControl(runDir: string): MirrorFaultControl {
  return {
    set: async (path, fault) => {
      const now = parseFaults(await readFaultsText(faultsFile(runDir)));
      await writeFaults(runDir, { ...now, [path.replace(/^\/+/, '')]: fault });
    },
    clear: async () => {
      await writeFaults(runDir, {});
      await writeFile(requestsLog(runDir), '');
    },
    requests: (path) => readRequests(runDir, path),
  };
}
