/**
 * One applying panel run per host at a time. The lock is a `flock` held by a
 * script on its own channel for the whole apply, so it ends with the
 * connection or the panel process (no stale lock after a crash or a cut).
 * Read-only runs (plan, check, nothing to change) never take it.
 *
 * The same channel carries Ctrl-C to the host: on `interrupt` the holder
 * creates the run's interrupt file, and every apply script stops at its next
 * step boundary when it exists.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { quote } from '../shell.js';
import type { Session, Transport } from '../transport/types.js';

/** Default for `--lock-wait`: how long a run waits for another run's lock. */
export const DEFAULT_LOCK_WAIT_SECONDS = 600;

/** Where the lock lives on the host: tmpfs, so a reboot clears it. */
const RUN_DIR = '/run/panel';
/** Seconds between the holder's keep-alive lines: a dead connection makes the write fail and the lock go. */
const ALIVE_SECONDS = 10;

export interface HostLock {
  /** The run's id on the host (names its interrupt file). */
  readonly runId: string;
  /** True when another run held the lock first: the plan must be made again. */
  readonly waited: boolean;
  /** Seconds since another run last let go of the lock (host clock), when one ever did. */
  readonly releasedAgoSeconds?: number;
  /** Shell lines every apply script of this run starts with. */
  readonly guard: string;
  /** Ask the host to stop this run's apply scripts at their next step boundary. */
  interrupt(): void;
  /** Let go of the lock (idempotent). */
  release(): Promise<void>;
}

export type LockOutcome = { readonly ok: true; readonly lock: HostLock } | { readonly ok: false; readonly error: string; readonly interrupted: boolean };

export interface LockOptions {
  /** Who takes it, shown to a run that has to wait: see `holderLine`. */
  readonly holder: string;
  readonly waitSeconds: number;
  readonly signal?: AbortSignal;
  /** Called once when the lock is busy, with the holder's line. */
  readonly onWait: (holder: string) => void;
}

/** `panel install (pid 4242, root@laptop, started 2026-11-22T16:30:00Z)` — never argv beyond the subcommand (secrets). */
export function holderLine(command: string, now: Date = new Date()): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    /* no passwd entry */
  }
  const safe = (s: string): string => s.replace(/[^A-Za-z0-9._@:+-]/g, '?').slice(0, 64);
  return `panel ${safe(command)} (pid ${process.pid}, ${safe(user)}@${safe(hostname())}, started ${now.toISOString().replace(/\.\d+Z$/, 'Z')})`;
}

/** The holder script: take the lock (waiting up to `waitSeconds`), say so, then serve interrupts until stdin closes. */
export function lockScript(runId: string, holder: string, waitSeconds: number): string {
  return `set -u
d=\${PANEL_RUN_DIR:-${RUN_DIR}}
run=${quote(runId)}
mkdir -p -- "$d" && chmod 0700 -- "$d" || { echo "@@panel-lock-error cannot create $d"; exit 1; }
command -v flock >/dev/null 2>&1 || { echo '@@panel-lock-error flock(1) is missing (package util-linux)'; exit 1; }
exec 9>>"$d/lock" || { echo "@@panel-lock-error cannot open $d/lock"; exit 1; }
if ! flock -n 9; then
  h=$(head -c 300 -- "$d/lock.holder" 2>/dev/null | head -n 1 | tr -cd '[:print:]')
  echo "@@panel-lock-busy \${h:-another panel run}"
  flock -w ${Math.floor(waitSeconds)} 9 || { echo "@@panel-lock-timeout \${h:-another panel run}"; exit 3; }
fi
# Apply scripts of an earlier run that lost its connection may still be running: each holds a shared lock on apply.lock.
exec 8>>"$d/apply.lock" || { echo "@@panel-lock-error cannot open $d/apply.lock"; exit 1; }
if ! flock -n -x 8; then
  echo '@@panel-lock-busy an apply script of an earlier run that lost its connection (still running)'
  flock -w ${Math.floor(waitSeconds)} -x 8 || { echo '@@panel-lock-timeout an apply script of an earlier run'; exit 3; }
fi
exec 8>&-
printf '%s\\n' ${quote(holder)} > "$d/lock.holder"
trap 'rm -f -- "$d/interrupt.$run"; date +%s.%N > "$d/lock.released"' EXIT
# How long ago the previous holder let go (host clock only): a run that planned before that must plan again.
rel=$(head -c 40 -- "$d/lock.released" 2>/dev/null | tr -cd 0-9.)
echo "@@panel-lock-held $(date +%s.%N) $rel"
while :; do
  if IFS= read -r -t ${ALIVE_SECONDS} line; then
    case $line in interrupt) : > "$d/interrupt.$run" && echo @@panel-lock-interrupt ;; esac
  elif [ $? -gt 128 ]; then
    echo @@panel-lock-alive || exit 0
  else
    break
  fi
done
`;
}

/**
 * What each apply script of the run starts with: where its interrupt file is,
 * and a shared lock on apply.lock for as long as the script lives (steps run
 * with fd 8 closed, so a daemon a step starts cannot keep it).
 */
export function applyGuard(runId: string): string {
  return [
    `PANEL_INTERRUPT=\${PANEL_RUN_DIR:-${RUN_DIR}}/interrupt.${quote(runId)}`,
    `if command -v flock >/dev/null 2>&1 && exec 8>>"\${PANEL_RUN_DIR:-${RUN_DIR}}/apply.lock"; then flock -s 8 || true; fi`,
  ].join('\n');
}

/**
 * Must the plan be made again once the lock is held? When this run waited,
 * and when another run let go of the lock after this one began planning
 * (it applied between our facts and our lock). Both times come from the
 * host's clock, so clock skew between machines does not matter.
 */
export function planIsStale(lock: Pick<HostLock, 'waited' | 'releasedAgoSeconds'>, plannedAgoMs: number): boolean {
  return lock.waited || (lock.releasedAgoSeconds !== undefined && lock.releasedAgoSeconds * 1000 <= plannedAgoMs);
}

export function newRunId(): string {
  return randomBytes(8).toString('hex');
}

/** Take the host lock; waits (saying so once) while another run holds it. */
export async function takeHostLock(transport: Transport, opts: LockOptions): Promise<LockOutcome> {
  // Interrupted before applying: no channel, nothing to wait for.
  if (opts.signal?.aborted) return { ok: false, error: 'interrupted before applying', interrupted: true };
  const runId = newRunId();
  let waited = false;
  type Got = { held: true; ago?: number } | { held: false; error: string };
  let settle: ((o: Got) => void) | undefined;
  const state = new Promise<Got>((resolve) => (settle = resolve));
  const onLine = (line: string): void => {
    const m = /^@@panel-lock-(\w+)(?: (.*))?$/.exec(line);
    if (!m) return;
    const [, kind, text = ''] = m;
    if (kind === 'busy') {
      waited = true;
      opts.onWait(text);
    } else if (kind === 'held') {
      const [now, rel] = text.split(' ').map(Number);
      settle?.(now !== undefined && rel !== undefined && Number.isFinite(now) && Number.isFinite(rel) && rel > 0 ? { held: true, ago: Math.max(0, now - rel) } : { held: true });
    } else if (kind === 'timeout') {
      settle?.({ held: false, error: `another panel run holds the host lock (${text}); gave up after ${opts.waitSeconds} s (--lock-wait)` });
    } else if (kind === 'error') {
      settle?.({ held: false, error: `cannot take the host lock: ${text}` });
    }
  };
  let session: Session;
  try {
    session = await transport.session(lockScript(runId, opts.holder, opts.waitSeconds), onLine);
  } catch (e) {
    return { ok: false, error: `cannot take the host lock: ${(e as Error).message}`, interrupted: false };
  }
  session.done.then(
    (r) => settle?.({ held: false, error: `cannot take the host lock: the lock script ended (exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}` }),
    (e: Error) => settle?.({ held: false, error: `cannot take the host lock: ${e.message}` }),
  );
  const onAbort = (): void => settle?.({ held: false, error: 'interrupted while waiting for the host lock' });
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const got = await state;
  opts.signal?.removeEventListener('abort', onAbort);
  if (!got.held) {
    session.end();
    return { ok: false, error: got.error, interrupted: opts.signal?.aborted ?? false };
  }
  let released = false;
  const release = async (): Promise<void> => {
    if (released) return;
    released = true;
    opts.signal?.removeEventListener('abort', interrupt);
    session.end();
    await session.done.catch(() => undefined);
  };
  const interrupt = (): void => session.send('interrupt');
  opts.signal?.addEventListener('abort', interrupt, { once: true });
  return { ok: true, lock: { runId, waited, ...(got.ago !== undefined ? { releasedAgoSeconds: got.ago } : {}), guard: applyGuard(runId), interrupt, release } };
}
