/**
 * One HTTP GET from the machine running panel, retried only when asking again
 * can help, with the same rules as the host's downloads (prelude
 * `panel_fetch`, curl --retry): a timeout, a refused or reset connection, and
 * HTTP 408, 429, 500, 502, 503, 504 are transient; any other HTTP error (404,
 * 403, 410) is an answer and fails at once, and so does a name that does not
 * resolve or a network with no route (asking again in a second does not
 * change those). Waits double between attempts (1 s, 2 s, …).
 *
 * Every attempt has its own deadline covering the headers AND the body, so a
 * mirror that answers and then trickles fails in bounded time instead of
 * hanging the run. Errors never include the URL: callers put it in their
 * one-line message in the place their sentence needs it.
 */
import type { Result } from '../result.js';

/** The statuses curl's --retry treats as transient (and so does the host's panel_fetch). */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** Connection errors worth another attempt; ENOTFOUND, EHOSTUNREACH, ENETUNREACH are not. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT']);

export interface RetryOptions {
  /** Attempts in all (1 = no retry). */
  readonly attempts: number;
  /** Deadline of one attempt, headers and body. */
  readonly attemptTimeoutMs: number;
  /** Wait before the first retry; doubled for each next one. */
  readonly firstBackoffMs: number;
  /** Tests shorten the waits; never the product. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export type Got<T> =
  | { readonly ok: true; readonly value: T }
  /** `reached`: the server answered (an HTTP status, or a body that broke off); false when nothing answered. */
  | { readonly ok: false; readonly error: string; readonly reached: boolean };

type Attempt<T> = Got<T> & { readonly transient?: boolean };

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
}

function connectFailure(e: unknown, timeoutMs: number): Attempt<never> {
  if (isTimeout(e)) return { ok: false, error: `no answer within ${timeoutMs / 1000} s`, reached: false, transient: true };
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  const why = code ?? cause?.message ?? (e as Error).message;
  return { ok: false, error: `cannot connect (${why})`, reached: false, transient: code !== undefined && TRANSIENT_CODES.has(code) };
}

async function attempt<T>(url: string, read: (res: Response) => Promise<Result<T, string>>, timeoutMs: number): Promise<Attempt<T>> {
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', signal });
  } catch (e) {
    return connectFailure(e, timeoutMs);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    return { ok: false, error: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, reached: true, transient: TRANSIENT_STATUSES.has(res.status) };
  }
  try {
    const r = await read(res);
    return r.ok ? { ok: true, value: r.value } : { ok: false, error: r.error, reached: true, transient: false };
  } catch (e) {
    await res.body?.cancel().catch(() => undefined);
    if (isTimeout(e) || signal.aborted) return { ok: false, error: `the answer did not finish within ${timeoutMs / 1000} s (mirror too slow)`, reached: true, transient: true };
    return { ok: false, error: `reading the answer failed (${(e as Error).message})`, reached: true, transient: true };
  }
}

/** GET `url` and `read` the answer, retrying transient failures; the error says how many attempts were made. */
export async function getWithRetry<T>(url: string, read: (res: Response) => Promise<Result<T, string>>, o: RetryOptions): Promise<Got<T>> {
  const sleep = o.sleep ?? defaultSleep;
  let wait = o.firstBackoffMs;
  for (let n = 1; ; n++) {
    const a = await attempt(url, read, o.attemptTimeoutMs);
    if (a.ok) return a;
    if (!a.transient || n >= o.attempts) {
      const tries = n > 1 ? ` (${n} attempts)` : '';
      return { ok: false, error: `${a.error}${tries}`, reached: a.reached };
    }
    await sleep(wait);
    wait *= 2;
  }
}
