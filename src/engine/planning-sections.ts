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
import { afterChecks, checkLines } from './batch.js';

const INFO_BEGIN = '@@panel-info-begin';
const INFO_END = '@@panel-info-end';

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
 * Every check once (no waiting) and whether the OS asks for a reboot, in a
 * subshell: verify mode is read-only like facts, and the mode does not leak
 * into what follows. It comes after the fact batch, whose prelude already
 * defined the functions checks call: the prelude is not sent twice.
 */
export function checksSection(checks: readonly Check[], allPassed = ''): string {
  // `allPassed`: the progress record of a run with nothing to do.
  return `(\nexport PANEL_MODE=verify\n${checkLines(checks, 0)}${afterChecks(allPassed)}) </dev/null\n`;
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
