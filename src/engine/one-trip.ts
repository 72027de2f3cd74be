/**
 * The sections a converged host's single round trip carries besides the
 * fact batch (./batch.ts): the host-info script, whose answer confirms the
 * remembered info the resources were built from (./host-info-cache.ts), and
 * the post-conditions run once without waiting, whose answer makes the
 * verify round trip unnecessary when nothing is to change and all pass.
 */
import { HOST_INFO_SCRIPT, parseHostInfo, type HostInfo } from '../host-info.js';
import type { Check } from '../resources/types.js';
import { verifyScript } from './batch.js';

const INFO_BEGIN = '@@panel-info-begin';
const INFO_END = '@@panel-info-end';
export const REBOOT_MARKER = '@@panel-reboot-required';

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
 * defined the functions checks call: the prelude (22 KB) is not sent twice.
 */
export function checksSection(checks: readonly Check[]): string {
  const full = verifyScript(checks, 0);
  const head = verifyScript([], 0);
  const body = full.startsWith(head) ? `export PANEL_MODE=verify\n${full.slice(head.length)}` : full;
  return `(\n${body}[ -e /var/run/reboot-required ] && echo ${REBOOT_MARKER}\ntrue\n) </dev/null\n`;
}
