/**
 * The fixed command that runs a script: `bash -s` (after `umask 022`), reading
 * the script on stdin — never the script itself on a command line. Only two
 * values reach this line, both generated here: `sudo -n` and a numeric timeout.
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
  argv.push('bash', '-c', UMASK_THEN_SCRIPT);
  return argv;
}

/**
 * What panel creates without an explicit mode is 0644/0755, whoever runs the
 * script: GNU sudo raises the caller's umask to at least 022, sudo-rs (Ubuntu
 * 26.04's sudo; 0.2.5 tested) passes it through, and a sudo user's umask is often
 * 002 (pam_umask with USERGROUPS_ENAB), which left /etc/panel, /var/lib/panel and
 * /var/cache/panel group-writable. Set here, it holds for every script.
 */
const UMASK_THEN_SCRIPT = 'umask 022 && exec bash -s';

/** Argv joined for an SSH exec request; every word is a constant or a number. */
export function bashCommandLine(opts: CommandOptions): string {
  return bashArgv(opts).map((w) => (w === UMASK_THEN_SCRIPT ? `'${w}'` : w)).join(' ');
}

/** The last line of a script `wholeScript` wraps: the script arrived whole. */
const SCRIPT_END = '# panel: end of script';

/**
 * `script` as `exec` sends it: its first line reads the rest with one `head -c`
 * of its exact length and evals it. bash reads a script on a pipe one byte per
 * read(2) (so a command it starts could read the rest of stdin), which cost
 * the host tens of milliseconds of CPU for a planning script of ~45 KB; `head`
 * reads it in a few. The length, not the end of stdin, ends the reading: the
 * script runs as soon as its last byte arrives, as under `bash -s`, whenever
 * the channel's EOF follows. Only for scripts that are the whole of stdin (not
 * `put`, whose bytes follow the script, nor a session, which reads lines sent
 * later). A script cut short (the connection lost while sending) runs no line.
 */
export function wholeScript(script: string): string {
  const body = `${script}\n${SCRIPT_END}\n`;
  return [
    `__panel_script=$(head -c ${String(Buffer.byteLength(body))}); if [[ $__panel_script != *$'\\n${SCRIPT_END}' ]]; then echo 'panel: the script arrived incomplete; nothing ran' >&2; exit 255; fi; eval "$__panel_script"`,
    body,
  ].join('\n');
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
