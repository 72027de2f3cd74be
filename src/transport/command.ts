/**
 * The fixed command that runs a script: `bash -s`, reading the script on
 * stdin — never the script itself on a command line. Only two values reach
 * this line, both generated here: `sudo -n` and a numeric timeout.
 */
import { constants } from 'node:os';

export interface CommandOptions {
  /** Prefix `sudo -n` (non-interactive: fail instead of prompting). */
  readonly sudo: boolean;
  readonly timeoutMs?: number;
}

/** Grace between TERM and KILL when a command overruns its timeout. */
const KILL_AFTER_S = 5;

export function bashArgv(opts: CommandOptions): string[] {
  const argv: string[] = [];
  if (opts.sudo) argv.push('sudo', '-n');
  if (opts.timeoutMs !== undefined) {
    // GNU timeout puts the command in its own process group and signals the whole group.
    argv.push('timeout', '-k', `${KILL_AFTER_S}s`, `${(Math.max(1, opts.timeoutMs) / 1000).toFixed(3)}s`);
  }
  argv.push('bash', '-s');
  return argv;
}

/** Argv joined for an SSH exec request; every word is a constant or a number. */
export function bashCommandLine(opts: CommandOptions): string {
  return bashArgv(opts).join(' ');
}

/** How long to wait past timeoutMs before giving up on the process ourselves. */
export function backstopMs(timeoutMs: number): number {
  return timeoutMs + (KILL_AFTER_S + 5) * 1000;
}

/**
 * Exit status as a shell reports it; a timed-out command is 124 whether
 * timeout(1) had to TERM (124) or KILL (137) it.
 */
export function exitCode(code: number | null, signal: string | null, timedOut: boolean): number {
  if (timedOut) return 124;
  if (code !== null) return code;
  const num = signal === null ? undefined : (constants.signals as Record<string, number | undefined>)[signal.startsWith('SIG') ? signal : `SIG${signal}`];
  return num === undefined ? 255 : 128 + num;
}

/** Did this result come from timeout(1) expiring? */
export function isTimeoutExit(code: number | null, elapsedMs: number, timeoutMs: number | undefined): boolean {
  return timeoutMs !== undefined && elapsedMs >= timeoutMs && (code === 124 || code === 137);
}
