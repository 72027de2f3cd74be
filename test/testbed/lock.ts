/**
 * A cross-process lock file: several test processes (other helpers' suites run
 * at the same time on this machine) build caches and allocate beds, and must not
 * race. O_EXCL creation is atomic; a lock whose holder died is taken over.
 */
import { open, readFile, rm, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { processAlive, processStart } from './procs.js';
import { sleep } from './run.js';

interface Holder {
  pid: number;
  start: string;
}

async function tryTake(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'wx');
    const me: Holder = { pid: process.pid, start: (await processStart(process.pid)) ?? '' };
    await fh.writeFile(JSON.stringify(me));
    await fh.close();
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
}

async function holderDead(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return false; // vanished: the next try will tell
  }
  if (text === '') return false; // being written right now
  try {
    const h = JSON.parse(text) as Holder;
    return !(await processAlive(h.pid, h.start));
  } catch {
    return true;
  }
}

/** Run fn while holding the lock at path; waits (polling) up to timeoutMs. */
export async function withLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 15 * 60_000): Promise<T> {
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  while (!(await tryTake(path))) {
    if (await holderDead(path)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${path}`);
    await sleep(200);
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
