/**
 * Scripts that carry many resources' work in ONE round trip, and the parsers
 * for what comes back. Markers start with `@@panel-` on a line of their own;
 * resource snippets never print such lines.
 */
import type { Change, Check, FactOutput } from '../resources/types.js';
import { outputTail, quote, type Script } from '../shell.js';
import { PRELUDE, REBOOT_FILE, REBOOT_MARKER } from '../resources/prelude.js';
import { err, ok, type Result } from '../result.js';
import { ownerScript, recordScript, STATE_BEGIN, STATE_END } from './state.js';

const BEGIN = '@@panel-fact-begin';
const END = '@@panel-fact-end';

/**
 * The host state record, then all fact snippets, each in its own subshell
 * (or inline: `runsInline`), with begin/end markers. `units`: the systemd units the snippets read, asked
 * for all at once first (two systemctl processes, not three per unit);
 * `paths`: the paths whose stat they read, likewise (one stat, not one per path).
 */
export function factBatchScript(snippets: readonly Script[], deep: boolean, units: readonly string[] = [], paths: readonly string[] = []): string {
  const parts = [
    `export PANEL_MODE=facts${deep ? ' PANEL_DEEP=1' : ''}`,
    PRELUDE.text,
    `echo ${STATE_BEGIN}`,
    'if [ -f "$PANEL_STATE_FILE" ]; then printf \'%s\\n\' "$(<"$PANEL_STATE_FILE")"; fi',
    `echo; echo ${STATE_END}`,
  ];
  const asked = [...new Set(units)];
  if (asked.length > 0) parts.push(`panel_units_prefetch ${asked.map((u) => quote(u)).join(' ')} </dev/null`);
  const stats = [...new Set(paths)];
  if (stats.length > 0) parts.push(`panel_files_prefetch ${stats.map((p) => quote(p)).join(' ')} </dev/null`);
  snippets.forEach((s, i) => {
    parts.push(`echo ${BEGIN} ${i}`, runsInline(s) ? String(s) : `(\n${String(s)}\n) </dev/null`, `echo ${END} ${i} $?`);
  });
  return parts.join('\n') + '\n';
}

/**
 * A snippet that is one call of a prelude function that only reads (locals
 * and `return`, never `exit`, `cd`, a trap or a shell option: file, unit and
 * archive-member facts), its words as `quote` writes them (plain, or
 * single-quoted with `'\''` for a quote), in the `{ … } </dev/null` group
 * resources wrap their facts in. It runs in the batch's own shell: a subshell
 * costs the host a fork of a bash that holds the whole prelude, about as much
 * CPU as the call itself, and on a converged host most snippets are such a
 * call. Anything else keeps its subshell.
 */
const INLINE = /^\{\npanel_(?:file|unit|members)_facts(?: (?:[A-Za-z0-9_./:@%+=,-]|'[^']*'|\\')+)+\n(?:true\n)?\} <\/dev\/null$/;

export function runsInline(snippet: Script): boolean {
  return INLINE.test(String(snippet));
}

/** Split a fact batch's stdout back into one output per snippet. */
export function parseFactBatch(stdout: string, count: number): Result<FactOutput[], string> {
  const outs: FactOutput[] = [];
  const lines = stdout.split('\n');
  let current: number | undefined;
  let buf: string[] = [];
  for (const line of lines) {
    if (line.startsWith(BEGIN + ' ')) {
      current = Number(line.slice(BEGIN.length + 1));
      buf = [];
    } else if (line.startsWith(END + ' ')) {
      const [idx, code] = line.slice(END.length + 1).split(' ').map(Number);
      if (current === undefined || idx !== current) return err(`fact output out of order at snippet ${idx}`);
      outs[current] = { stdout: buf.join('\n') + (buf.length > 0 ? '\n' : ''), code: code ?? 1 };
      current = undefined;
    } else if (current !== undefined) {
      buf.push(line);
    }
  }
  if (outs.length !== count || outs.some((o) => o === undefined)) {
    return err(`fact batch incomplete: got ${outs.filter(Boolean).length} of ${count} outputs`);
  }
  return ok(outs);
}

/** Hook contributions run on their own (after a failure): the prelude, read-only mode. */
export function hookScript(body: string): string {
  return ['export PANEL_MODE=verify', PRELUDE.text, body].join('\n') + '\n';
}

/**
 * A run of shell changes applied in one round trip; `header` runs first (the
 * host's prepare hooks, hook contributions). Each step records what its
 * change declares in the state journal, which the prelude merges into
 * state.json when the script ends, however it ends.
 *
 * `guard` (the host lock's lines: interrupt file, shared apply lock) runs
 * before the header. Before each step the script stops, as a success, when
 * the run's interrupt file exists (Ctrl-C): the step before it finished, the
 * ones after it never start.
 */
export function applyScript(changes: readonly Change[], header: string, recipe: string | ((c: Change) => string), guard = ''): string {
  const parts = ['export PANEL_MODE=apply', PRELUDE.text, guard, header];
  changes.forEach((c, i) => {
    const owner = { recipe: typeof recipe === 'string' ? recipe : recipe(c), resource: c.resource };
    const records = (c.records ?? []).map((r) => recordScript(r, owner));
    // The subshell stands alone on purpose: as the left side of `||` bash
    // would ignore errexit inside it, and a failing line would not stop the step.
    // fd 8 (the run's shared apply lock) is closed for the step, so nothing it starts keeps the lock.
    parts.push(
      `if [ -n "\${PANEL_INTERRUPT:-}" ] && [ -e "$PANEL_INTERRUPT" ]; then echo '@@panel-interrupted ${i}'; exit 0; fi`,
      `echo '@@panel-step ${i}' >&2`,
      `(\nset -euo pipefail\n${String(ownerScript(owner))}\n${String(c.script)}\n${records.join('\n')}\n) </dev/null 8>&-`,
      `__rc=$?`,
      `if [ "$__rc" -ne 0 ]; then echo "@@panel-fail ${i} $__rc"; exit "$__rc"; fi`,
      `echo '@@panel-ok ${i}'`,
    );
  });
  return parts.join('\n') + '\n';
}

export interface ApplyOutcome {
  /** Indices of changes that completed. */
  readonly done: readonly number[];
  /** `record`: every step succeeded, then writing the state record failed (stderrTail is its one line). */
  readonly failed?: { readonly index: number; readonly code: number; readonly stderrTail: string; readonly record?: true };
  /** The step the script stopped before, at the run's interrupt (Ctrl-C). */
  readonly interruptedAt?: number;
}

export function parseApply(stdout: string, stderr: string, code: number, count: number): ApplyOutcome {
  const done: number[] = [];
  let failed: ApplyOutcome['failed'];
  let interruptedAt: number | undefined;
  for (const line of stdout.split('\n')) {
    const ok = /^@@panel-ok (\d+)$/.exec(line);
    if (ok) done.push(Number(ok[1]));
    const f = /^@@panel-fail (\d+) (\d+)$/.exec(line);
    if (f) failed = { index: Number(f[1]), code: Number(f[2]), stderrTail: stepStderr(stderr, Number(f[1])) };
    const stop = /^@@panel-interrupted (\d+)$/.exec(line);
    if (stop) interruptedAt = Number(stop[1]);
  }
  if (interruptedAt !== undefined && !failed && code === 0) return { done, interruptedAt };
  if (!failed && code !== 0) {
    // The script died outside a step (prelude, header) or the channel broke;
    // after its last step: the record's merge failed (its one line says so).
    const index = done.length < count ? done.length : count - 1;
    const record = done.length >= count ? /^panel: writing \S*state\.json failed: .*$/m.exec(stderr) : null;
    failed = record ? { index, code, stderrTail: record[0], record: true } : { index, code, stderrTail: tail(stderr) };
  }
  return failed ? { done, failed } : { done };
}

/**
 * Where a script was when its connection went away: the steps that ended
 * well, and the one it had started (announced on stderr) without a result.
 */
export function applyProgress(stdout: string, stderr: string): { readonly done: readonly number[]; readonly running?: number } {
  const done = [...stdout.matchAll(/^@@panel-ok (\d+)$/gm)].map((m) => Number(m[1]));
  const started = [...stderr.matchAll(/^@@panel-step (\d+)$/gm)].map((m) => Number(m[1]));
  const last = started.at(-1);
  return last !== undefined && !done.includes(last) ? { done, running: last } : { done };
}

function stepStderr(stderr: string, index: number): string {
  const marker = `@@panel-step ${index}`;
  const at = stderr.lastIndexOf(marker);
  return failureTail(at >= 0 ? stderr.slice(at + marker.length) : stderr);
}

/**
 * The header line of a journal block a failed check appends: a unit's (prelude: panel_unit_journal,
 * "panel: UNIT is …; last lines of its journal") or a task's ("panel: the gateway task; last lines …").
 */
const JOURNAL_HEAD = /^panel: .*; last lines of its journal /;

/**
 * The last lines of a failure's output; a unit's journal block is kept whole
 * (with the two lines before it, systemctl's own complaint), since its last
 * 6 lines alone rarely say why the unit stopped.
 */
export function failureTail(text: string, lines = 6): string {
  const all = tail(text, 60).split('\n');
  const head = all.findIndex((l) => JOURNAL_HEAD.test(l));
  return head < 0 ? all.slice(-lines).join('\n') : all.slice(Math.max(0, head - 2)).join('\n');
}

export function tail(text: string, lines = 6): string {
  return outputTail(text, lines);
}

/**
 * Every check in one round trip; each retried until it passes or
 * `waitSeconds` is spent. Run once (0 s: planning's look, `check`), a check
 * costs its own processes only: no clock, no retry loop, no `tail`.
 * `__panel_checks_failed` is set when one exits non-zero (./planning-sections.ts).
 */
export function verifyScript(checks: readonly Check[], waitSeconds: number): string {
  return ['export PANEL_MODE=verify', PRELUDE.text, checkLines(checks, waitSeconds)].join('\n');
}

/** The checks of verifyScript, for a shell that has the prelude already (./planning-sections.ts). */
export function checkLines(checks: readonly Check[], waitSeconds: number): string {
  const parts: string[] = [];
  const base = Math.max(0, Math.floor(waitSeconds));
  checks.forEach((c, i) => {
    // A run that does not wait (plan, check) never waits for one check either.
    const wait = base === 0 ? 0 : Math.max(base, Math.floor(c.waitSeconds ?? 0));
    const once = `__out=$( { ${String(c.script)}
} 2>&1 </dev/null ); __rc=$?`;
    if (wait === 0) parts.push(once);
    else
      parts.push(
        // bash's own clock (SECONDS), no date process a turn. The pause grows from 0.1 s to 0.5 s: a service
        // that answers right after its restart is seen at once, one that takes seconds (the stack's first start)
        // is seen within half a second, and a costly check (ctr) runs at most twice a second while it waits.
        // A sleep that takes no fraction still sleeps (1 s), so the loop never spins.
        `__deadline=$(( SECONDS + ${wait} )); __pause=0.1`,
        `while :; do`,
        `  ${once}`,
        `  [ $__rc -eq 0 ] && break`,
        `  [ "$SECONDS" -ge "$__deadline" ] && break`,
        `  sleep "$__pause" 2>/dev/null || sleep 1`,
        `  case $__pause in 0.1) __pause=0.2 ;; 0.2) __pause=0.4 ;; *) __pause=0.5 ;; esac`,
        `done`,
      );
    parts.push(
      `[ $__rc -eq 0 ] || __panel_checks_failed=1`,
      `echo "@@panel-check-begin ${i} $__rc"`,
      `panel_last_lines 60 "$__out"`,
      `echo "@@panel-check-end ${i}"`,
    );
  });
  return parts.join('\n') + '\n';
}

/**
 * What follows the checks (after verifyScript or checkLines): the reboot
 * marker when the OS asks for one, then `allPassed` (hook shell: a record of
 * the run) only when no check exited non-zero.
 */
export function afterChecks(allPassed = ''): string {
  const after = allPassed === '' ? '' : `if [ -z "\${__panel_checks_failed:-}" ]; then\n${allPassed}\nfi\n`;
  return `[ -e ${REBOOT_FILE} ] && echo ${REBOOT_MARKER}\n${after}true\n`;
}

export interface CheckOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

export function parseVerify(stdout: string, checks: readonly Check[]): CheckOutcome[] {
  const results: CheckOutcome[] = checks.map(() => ({ ok: false, detail: 'no result (verify script died)' }));
  const re = /^@@panel-check-begin (\d+) (\d+)\n([\s\S]*?)^@@panel-check-end \1$/gm;
  for (const m of stdout.matchAll(re)) {
    const i = Number(m[1]);
    const code = Number(m[2]);
    const out = m[3] ?? '';
    const check = checks[i];
    if (!check) continue;
    const matched = check.expect ? check.expect.test(out) : true;
    const ok = code === 0 && matched;
    const detail = ok
      ? ''
      : code !== 0
        ? `exit ${code}${out.trim() ? `: ${failureTail(out, 3)}` : ''}`
        : `output did not match ${String(check.expect)}: ${tail(out, 3)}`;
    results[i] = { ok, detail };
  }
  return results;
}
