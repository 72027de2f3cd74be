/**
 * CA rate limits (RFC 8555 §6.6; Let's Encrypt's boulder answers HTTP 429,
 * problem `urn:ietf:params:acme:error:rateLimited`, with `Retry-After` set to
 * the time until the limit resets: minutes for failed validations, up to
 * about a week for duplicate certificates).
 *
 * acme-client's axios interceptor (acme-client/src/axios.js) sleeps the full
 * Retry-After and tries again, up to 5 times: `install` or the renewal timer
 * would look hung for hours while holding the host lock. `failFastOn429`
 * turns a 429 into a `RateLimited` error before that interceptor sees it;
 * 5xx retries stay as they are.
 *
 * The time the CA named is recorded per name set on the machine running
 * panel (`holds.json` next to the account key), so the next `install`,
 * `renew` or timer run does not ask again before it, and `plan` shows it.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type acmeClient from 'acme-client';
import { defaultAccountKeyFile } from './account.js';

export const RATE_LIMITED = 'urn:ietf:params:acme:error:rateLimited';

/** The CA refused with rateLimited: its detail and when it may be asked again. */
export class RateLimited extends Error {
  constructor(
    readonly detail: string,
    readonly retryAt: Date,
  ) {
    super(`rate limited by the CA until ${retryAt.toISOString()}: ${detail}`);
    this.name = 'RateLimited';
  }
}

/** Retry-After is delta-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(header: string | undefined, now: Date): Date | undefined {
  if (header === undefined) return undefined;
  const h = header.trim();
  if (/^\d+$/.test(h)) return new Date(now.getTime() + Number(h) * 1000);
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** Without a usable Retry-After, wait this long: boulder's shortest window (failed validations) is an hour. */
const DEFAULT_HOLD_MS = 60 * 60 * 1000;

interface HttpError {
  response?: { status?: number; headers?: Record<string, unknown>; data?: unknown };
}

/** The RateLimited error for an axios error carrying a 429, or undefined for any other error. */
export function rateLimitedOf(e: unknown, now: Date): RateLimited | undefined {
  const res = (e as HttpError | undefined)?.response;
  if (res?.status !== 429) return undefined;
  const data = res.data as { type?: unknown; detail?: unknown } | undefined;
  const type = typeof data?.type === 'string' ? data.type : undefined;
  const detail = typeof data?.detail === 'string' ? data.detail.replace(/\s+/g, ' ').trim() : `HTTP 429${type ? ` ${type}` : ''}`;
  const header = res.headers?.['retry-after'];
  const at = parseRetryAfter(typeof header === 'string' ? header : typeof header === 'number' ? String(header) : undefined, now);
  return new RateLimited(detail, at ?? new Date(now.getTime() + DEFAULT_HOLD_MS));
}

const WRAPPED = Symbol('panel.failFastOn429');

/**
 * Make acme-client's axios instance fail at once on a 429 (idempotent). The
 * check rides on the response transforms (axios runs them on failed responses
 * too, before any response interceptor): what it throws carries no `config`,
 * and acme-client's retry interceptor passes such errors straight on.
 */
export function failFastOn429(acme: typeof acmeClient): void {
  const defaults = acme.axios.defaults as typeof acme.axios.defaults & { [WRAPPED]?: true };
  if (defaults[WRAPPED]) return;
  const before = defaults.transformResponse;
  const list = before === undefined ? [] : Array.isArray(before) ? before : [before];
  defaults.transformResponse = [
    ...list,
    (data: unknown, headers: unknown, status?: number) => {
      if (status !== 429) return data;
      const h = headers as { get?: (k: string) => unknown } & Record<string, unknown>;
      const retryAfter = typeof h.get === 'function' ? h.get('retry-after') : h['retry-after'];
      // status is 429 here, so rateLimitedOf always gives a RateLimited (an Error).
      throw rateLimitedOf({ response: { status, data, headers: { 'retry-after': retryAfter } } }, new Date())!;
    },
  ];
  defaults[WRAPPED] = true;
}

/** One name set's hold: the CA's own words and the time it named. */
export interface Hold {
  readonly until: string;
  readonly detail: string;
}

/** The key of a name set: the names as a certificate holds them (order does not matter). */
export function nameSetKey(names: readonly string[]): string {
  return [...names].map((n) => n.toLowerCase()).sort().join(',');
}

/** Holds per CA directory, kept next to the account key on the machine running panel. */
export class HoldStore {
  constructor(readonly file: string) {}

  static forDirectory(directory: string, env: NodeJS.ProcessEnv = process.env): HoldStore {
    return new HoldStore(join(dirname(defaultAccountKeyFile(directory, env)), 'holds.json'));
  }

  private read(): Record<string, Hold> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    try {
      const v = JSON.parse(text) as unknown;
      return v !== null && typeof v === 'object' ? (v as Record<string, Hold>) : {};
    } catch {
      return {}; // a damaged file only loses the wait, never a certificate
    }
  }

  /** The hold on these names, when it has not passed yet. */
  active(names: readonly string[], now: Date): Hold | undefined {
    const h = this.read()[nameSetKey(names)];
    return h !== undefined && Date.parse(h.until) > now.getTime() ? h : undefined;
  }

  record(names: readonly string[], hold: Hold): void {
    this.write({ ...this.read(), [nameSetKey(names)]: hold });
  }

  clear(names: readonly string[]): void {
    const all = this.read();
    const key = nameSetKey(names);
    if (!(key in all)) return;
    delete all[key];
    this.write(all);
  }

  private write(all: Record<string, Hold>): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

/** Reject when `p` has not settled within `ms`: one bound on a whole ACME order. */
export function withinTime<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s; nothing was installed (run again later)`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}
