/**
 * Process identity on the runner. A pid alone can be reused after a crash, so
 * every recorded process also carries its start time (field 22 of /proc/PID/stat).
 */
import { readFile } from 'node:fs/promises';
import { sleep } from './run.js';

export async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parens: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19]; // field 22 overall
  } catch {
    return undefined;
  }
}

/** True when pid runs and (if given) started at `start`; zombies count as dead. */
export async function processAlive(pid: number, start?: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest[0] === 'Z' || rest[0] === 'X') return false;
    return start === undefined || start === '' || rest[19] === start;
  } catch {
    return false;
  }
}

export interface ProcRecord {
  pid: number;
  start: string;
  what: string;
}

export async function recordOf(pid: number, what: string): Promise<ProcRecord> {
  return { pid, start: (await processStart(pid)) ?? '', what };
}

/** SIGTERM, wait up to graceMs, then SIGKILL; only if it is still the same process. */
export async function terminate(p: ProcRecord, graceMs = 2000): Promise<void> {
  if (!(await processAlive(p.pid, p.start))) return;
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!(await processAlive(p.pid, p.start))) return;
    await sleep(50);
  }
  if (await processAlive(p.pid, p.start)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

/** Start a long-lived process in its own session, output appended to logFile; it outlives us. */
export async function spawnDetached(
  argv: readonly string[],
  logFile: string,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd?: string,
): Promise<ProcRecord> {
  const { spawn } = await import('node:child_process');
  const { open } = await import('node:fs/promises');
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('spawnDetached: empty argv');
  const log = await open(logFile, 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', log.fd, log.fd], env, cwd });
  const exited = new Promise<never>((_, reject) => child.on('error', reject));
  exited.catch(() => undefined);
  child.unref();
  await log.close();
  if (child.pid === undefined) await exited;
  return recordOf(child.pid ?? -1, what);
}

/** One TCP connect attempt: true when host:port accepts within timeoutMs. */
export async function tcpOpen(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise<boolean>((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** Resolves once host:port accepts TCP connections; rejects after timeoutMs or when `proc` died. */
export async function waitPort(host: string, port: number, timeoutMs: number, proc?: ProcRecord): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tcpOpen(host, port, 500)) return;
    if (proc && !(await processAlive(proc.pid, proc.start))) throw new Error(`${proc.what} exited before listening on ${host}:${port}`);
    if (Date.now() > deadline) throw new Error(`${host}:${port} not listening after ${timeoutMs} ms`);
    await sleep(50);
  }
}
