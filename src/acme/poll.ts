/**
 * Polling authorizations and orders as RFC 8555 §7.5.1 / §7.4 ask: the CA's
 * Retry-After says when to ask again. acme-client 5.4's waitForValidStatus
 * drops the header (its own backoff only), so panel polls itself, through
 * acme-client's signed POST-as-GET (its `api.apiRequest`).
 */
import type acme from 'acme-client';

/** Without Retry-After: 1, 2, 4, 8 s, then every 10 s (acme-client's backoff as panel configured it). */
export function backoffMs(attempt: number): number {
  return Math.min(10_000, 1000 * 2 ** attempt);
}

/** Retry-After bounds while waiting for validation: at least 1 s, at most 60 s between polls. */
export const POLL_MIN_MS = 1000;
export const POLL_MAX_MS = 60_000;

/** The next wait: the CA's Retry-After (seconds or an HTTP date), bounded, else the backoff. */
export function pollDelayMs(retryAfter: string | undefined, attempt: number, now: Date): number {
  const t = retryAfter?.trim();
  let ms: number | undefined;
  if (t && /^\d+$/.test(t)) ms = Number(t) * 1000;
  else if (t && !Number.isNaN(Date.parse(t))) ms = Date.parse(t) - now.getTime();
  if (ms === undefined) return backoffMs(attempt);
  return Math.min(POLL_MAX_MS, Math.max(POLL_MIN_MS, ms));
}

export interface Polled {
  readonly status: string;
  readonly retryAfter: string | undefined;
  readonly body: Record<string, unknown>;
}

/**
 * Ask until the status leaves `waiting` (pending, processing, ready while an
 * order is finalized), sleeping what pollDelayMs says; fails when the next
 * wait would end after `deadline`.
 */
export async function pollUntilSettled(
  what: string,
  fetchOnce: () => Promise<Polled>,
  waiting: readonly string[],
  deadline: number,
  io: { now: () => Date; sleep: (ms: number) => Promise<void> } = { now: () => new Date(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) },
): Promise<Polled> {
  for (let attempt = 0; ; attempt++) {
    const p = await fetchOnce();
    if (!waiting.includes(p.status)) return p;
    const delay = pollDelayMs(p.retryAfter, attempt, io.now());
    if (io.now().getTime() + delay > deadline) throw new Error(`${what} still ${p.status} when panel stopped waiting`);
    await io.sleep(delay);
  }
}

interface AcmeApi {
  apiRequest(url: string, payload: null, validStatusCodes: number[]): Promise<{ headers: Record<string, unknown>; data: Record<string, unknown> }>;
}

/** One POST-as-GET of an authorization or order with acme-client's signing and nonces. */
export function postAsGet(client: acme.Client, url: string): () => Promise<Polled> {
  const api = (client as unknown as { api: AcmeApi }).api;
  return async () => {
    const resp = await api.apiRequest(url, null, [200]);
    const ra = resp.headers['retry-after'];
    const status = resp.data['status'];
    return { status: typeof status === 'string' ? status : '', retryAfter: typeof ra === 'string' ? ra : undefined, body: resp.data };
  };
}
