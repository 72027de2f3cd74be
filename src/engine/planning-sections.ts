/**
 * The sections a converged host's single round trip carries besides the
 * fact batch (./batch.ts): the host-info script, whose answer confirms the
 * remembered info the resources were built from (./host-info-cache.ts), and
 * the post-conditions run once without waiting, whose answer makes the
 * verify round trip unnecessary when nothing is to change and all pass, and
 * the files report hooks read after the run (./hooks.ts `reads`).
 */
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../host-info.js';
import type { Check } from '../resources/types.js';
import { quote } from '../shell.js';
import { checkLines } from './batch.js';

const INFO_BEGIN = '@@panel-info-begin';
const INFO_END = '@@panel-info-end';
import { REBOOT_FILE, REBOOT_MARKER } from '../resources/prelude.js';
export { REBOOT_MARKER };

/** Host info between markers, in a subshell of its own so nothing it sets reaches the facts. */
export function infoSection(): string {
  return `echo ${INFO_BEGIN}\n(\n${HOST_INFO_SCRIPT}) </dev/null\necho ${INFO_END}\n`;
}

/** The info section's answer; undefined when the script died before it ended. */
export function extractInfo(stdout: string): HostInfo | undefined {
  const b = stdout.indexOf(`${INFO_BEGIN}\n`);
  const e = stdout.indexOf(`\n${INFO_END}\n`, b);
  if (b < 0 || e < 0) return undefined;
  return parseHostInfo(stdout.slice(b + INFO_BEGIN.length + 1, e + 1));
}

/**
 * Every check once (no waiting) and whether the OS asks for a reboot, run
 * beside the facts: `start` goes into the fact batch right after its
 * prefetches (./batch.ts `factBatchScript`) and starts the checks in a
 * process of their own; `collect`, after the last fact, prints their answer
 * where it always came, then runs `allPassed` (hook shell: the progress
 * record of a run with nothing to do) when no check exited non-zero. The
 * checks wait on other processes (containerd answering `ctr version`, the
 * gateway and provider answering HTTP, runc starting): beside the facts they
 * cost a converged host's round trip their CPU on another core instead of
 * their time in line. They read only, like facts, and start after the
 * prefetches so that `panel_units_active` answers from them. The process is
 * a fork of the batch's shell: the prelude's functions are defined there, not
 * sent twice (22 KB); verify mode stays in it.
 */
export interface ChecksAlongside {
  readonly start: string;
  readonly collect: string;
}

export function checksAlongside(checks: readonly Check[], allPassed = ''): ChecksAlongside {
  const body = `export PANEL_MODE=verify\n${checkLines(checks, 0)}`;
  const start = `exec {__panel_checks}< <(\n{\n${body}[ -e ${REBOOT_FILE} ] && echo ${REBOOT_MARKER}\ntrue\n} </dev/null\n)\n`;
  // Builtins only: a check's answer is a few lines, and failing is read from its begin line's exit code.
  const collect = [
    '__panel_checks_failed=',
    'while IFS= read -r -u "$__panel_checks" __l || [ -n "$__l" ]; do',
    '  printf \'%s\\n\' "$__l"',
    '  case $__l in "@@panel-check-begin "*" 0") ;; "@@panel-check-begin "*) __panel_checks_failed=1 ;; esac',
    'done',
    'exec {__panel_checks}<&-',
    ...(allPassed === '' ? [] : ['if [ -z "$__panel_checks_failed" ]; then', '(', 'export PANEL_MODE=verify', allPassed, ') </dev/null', 'fi']),
    'true',
  ].join('\n');
  return { start, collect: `${collect}\n` };
}

const READ_BEGIN = '@@panel-read-begin';
const READ_END = '@@panel-read-end';
const READ_ABSENT = '@@panel-read-absent';

/** Each file in base64 on one line between markers, or a marker saying it is not there. Read-only: fit for facts mode. */
export function readsSection(paths: readonly string[]): string {
  return paths
    .map((p, i) => `echo '${READ_BEGIN} ${i}'\nif [ -f ${quote(p)} ]; then base64 -w0 -- ${quote(p)}; echo; else echo '${READ_ABSENT}'; fi\necho '${READ_END} ${i}'\n`)
    .join('');
}

/** The files' contents (undefined: not there); a path whose answer is missing is left out, so its reader reads it itself. */
export function extractReads(stdout: string, paths: readonly string[]): ReadonlyMap<string, Buffer | undefined> {
  const out = new Map<string, Buffer | undefined>();
  paths.forEach((p, i) => {
    const m = new RegExp(`^${READ_BEGIN} ${i}\\n(.*)\\n${READ_END} ${i}$`, 'm').exec(stdout);
    if (!m) return;
    const body = m[1] ?? '';
    if (body === READ_ABSENT) out.set(p, undefined);
    else if (/^[A-Za-z0-9+/]*={0,2}$/.test(body)) out.set(p, Buffer.from(body, 'base64'));
  });
  return out;
}
