/**
 * ACME Renewal Information (RFC 9773). When the CA's directory names
 * `renewalInfo`, the CA says when a certificate should be renewed (its
 * suggested window), and a renewal names the certificate it replaces.
 *
 * The window is fetched on the machine running panel for the certificate
 * the host has (read with the planning facts, whoever issued it: the
 * certificate resource's prepare step, between facts and plan) and for one
 * panel has just issued, and stored next to the account key with the time
 * the CA allows the next fetch (Retry-After). The plan (pure, synchronous)
 * reads the store: it renews at a random time inside the window, drawn once
 * per window, or at once when the window has passed. Without a stored window
 * the ⅓ / ½ rule of cert-info.ts applies (renewalDue: one answer for the
 * renewal, `check` and the status page).
 */
import { randomInt, X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import https from 'node:https';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import { defaultAccountKeyFile } from './account.js';
import { USER_AGENT } from './user-agent.js';

/** A DER element: tag, where its content starts, and its length. */
interface Der {
  readonly tag: number;
  readonly start: number;
  readonly len: number;
}

function derAt(buf: Buffer, at: number): Der {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[start + i]!;
    start += n;
  }
  if (start + len > buf.length) throw new Error('truncated DER');
  return { tag, start, len };
}

function children(buf: Buffer, el: Der): Der[] {
  const out: Der[] = [];
  for (let at = el.start; at < el.start + el.len; ) {
    const c = derAt(buf, at);
    out.push(c);
    at = c.start + c.len;
  }
  return out;
}

/** The CA's renewal window for the installed certificate (ARI, RFC 9773), with the moment panel drew in it. */
export interface AriWindow {
  readonly start: Date;
  readonly end: Date;
  readonly renewAt: Date;
  /** The CA's page about why the window is where it is (e.g. a revocation), when it gave one. */
  readonly explanationURL?: string;
}

const AKI_OID = Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x23]); // 2.5.29.35

/**
 * The certificate's ARI identifier (RFC 9773 §4.1): base64url of the
 * Authority Key Identifier's keyIdentifier, '.', base64url of the serial
 * number's DER content octets (a leading zero octet included).
 */
export function certId(certPem: string): string {
  const der = new X509Certificate(certPem).raw;
  const tbs = children(der, derAt(der, 0))[0]!;
  const fields = children(der, tbs);
  const serial = fields[0]!.tag === 0xa0 ? fields[1]! : fields[0]!; // [0] version is optional
  const exts = fields.find((f) => f.tag === 0xa3);
  if (!exts) throw new Error('the certificate has no extensions (no Authority Key Identifier)');
  for (const ext of children(der, children(der, exts)[0]!)) {
    const parts = children(der, ext);
    const oid = der.subarray(parts[0]!.start - 2, parts[0]!.start + parts[0]!.len);
    if (!oid.equals(AKI_OID)) continue;
    const value = parts[parts.length - 1]!; // OCTET STRING (after the optional critical flag)
    const aki = derAt(der, value.start);
    const keyId = children(der, aki).find((c) => c.tag === 0x80);
    if (!keyId) break;
    const b64 = (d: Der) => der.subarray(d.start, d.start + d.len).toString('base64url');
    return `${b64(keyId)}.${b64(serial)}`;
  }
  throw new Error('the certificate has no Authority Key Identifier keyIdentifier');
}

/** The CA's answer (RFC 9773 §4.2), as panel keeps it. */
const windowRecord = z.object({
  start: z.string(),
  end: z.string(),
  /** Drawn once per window: the moment panel renews. */
  renewAt: z.string(),
  /** Not asked again before this (Retry-After). */
  nextFetch: z.string(),
  explanationURL: z.string().optional(),
});
export type WindowRecord = z.infer<typeof windowRecord>;
/** A directory without renewalInfo: not asked again before nextFetch (a converged run leaves the CA alone). */
const noAriRecord = z.object({ noAri: z.literal(true), nextFetch: z.string() });
const storeFile = z.record(z.string(), z.union([windowRecord, noAriRecord]));
type Stored = z.infer<typeof storeFile>;

const renewalInfoBody = z.object({
  suggestedWindow: z.object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) }),
  explanationURL: z.string().optional(),
});

/** Retry-After bounds: RFC 9773 §4.3 asks clients to poll at least daily and not hammer the CA. */
export const MIN_RETRY_MS = 60_000;
export const MAX_RETRY_MS = 24 * 3600_000;
/** Without a Retry-After: six hours, as Let's Encrypt sends. */
export const DEFAULT_RETRY_MS = 6 * 3600_000;

/** Retry-After (seconds or an HTTP date) as milliseconds from `now`, clamped. */
export function retryAfterMs(header: string | undefined, now: Date): number {
  let ms = DEFAULT_RETRY_MS;
  if (header !== undefined && header.trim() !== '') {
    const t = header.trim();
    if (/^\d+$/.test(t)) ms = Number(t) * 1000;
    else if (!Number.isNaN(Date.parse(t))) ms = Date.parse(t) - now.getTime();
  }
  return Math.min(MAX_RETRY_MS, Math.max(MIN_RETRY_MS, ms));
}

/**
 * When to renew inside a window: a uniformly random moment, so that many
 * clients do not all come at its start; the window's start when it has
 * already passed (renew at once).
 */
export function pickRenewalTime(start: Date, end: Date, now: Date, rand: (n: number) => number = (n) => (n <= 0 ? 0 : randomInt(Math.min(n, 2 ** 47)))): Date {
  if (end.getTime() <= now.getTime()) return start;
  const from = Math.max(start.getTime(), now.getTime());
  return new Date(from + rand(end.getTime() - from));
}

/** The windows the CA named, by certID, in a 0600 file next to the account key. */
export class RenewalWindows {
  constructor(readonly file: string) {}

  static forDirectory(directory: string, env: NodeJS.ProcessEnv = process.env): RenewalWindows {
    return new RenewalWindows(join(dirname(defaultAccountKeyFile(directory, env)), 'renewal-info.json'));
  }

  private all(): Stored {
    try {
      const parsed = storeFile.safeParse(JSON.parse(readFileSync(this.file, 'utf8')));
      return parsed.success ? parsed.data : {};
    } catch {
      return {};
    }
  }

  get(id: string): WindowRecord | undefined {
    const r = this.all()[id];
    return r && !('noAri' in r) ? r : undefined;
  }

  /** The stored window of certificate `id` as the plan reads it, or undefined (none stored, no id). */
  window(id: string | undefined): AriWindow | undefined {
    const r = id !== undefined ? this.get(id) : undefined;
    return r ? { start: new Date(r.start), end: new Date(r.end), renewAt: new Date(r.renewAt), ...(r.explanationURL !== undefined ? { explanationURL: r.explanationURL } : {}) } : undefined;
  }

  /** Until when `directory` is known to have no renewalInfo. */
  noAriUntil(directory: string): Date | undefined {
    const r = this.all()[`directory ${directory}`];
    return r && 'noAri' in r ? new Date(r.nextFetch) : undefined;
  }

  markNoAri(directory: string, until: Date): void {
    this.write(`directory ${directory}`, { noAri: true, nextFetch: until.toISOString() });
  }

  set(id: string, rec: WindowRecord): void {
    this.write(id, rec);
  }

  private write(id: string, rec: Stored[string]): void {
    const all = { ...this.all(), [id]: rec };
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

interface Fetched {
  readonly status: number;
  readonly body: string;
  readonly retryAfter: string | undefined;
}

function getUrl(url: string, caFile: string | undefined): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const agent = url.startsWith('https:') && caFile !== undefined ? new https.Agent({ ca: [...rootCertificates, readFileSync(caFile, 'utf8')], keepAlive: false }) : undefined;
    const get = url.startsWith('https:') ? https.get : httpGet;
    const req = get(url, { ...(agent ? { agent } : {}), headers: { 'user-agent': USER_AGENT }, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 1 << 20) body += d; // a renewalInfo answer is tiny; never hold more than 1 MiB
      });
      res.on('end', () => {
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, body, retryAfter: ra });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', reject);
  });
}

/** The CA's explanationURL when it is a plain http(s) URL: it is shown in `check` and on the status page. */
function explanation(url: string | undefined): string | undefined {
  return url !== undefined && url.length <= 2048 && /^https?:\/\/[^\s\x00-\x1f\x7f"'<>]+$/.test(url) ? url : undefined;
}

/** The directory's renewalInfo URL, or undefined when the CA has no ARI. */
export async function renewalInfoUrl(directory: string, caFile: string | undefined): Promise<string | undefined> {
  const r = await getUrl(directory, caFile);
  if (r.status !== 200) throw new Error(`the directory answered HTTP ${r.status}`);
  try {
    const url = (JSON.parse(r.body) as { renewalInfo?: unknown }).renewalInfo;
    return typeof url === 'string' && url !== '' ? url : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Ask the CA for the window of certificate `id` (certId) when the stored answer allows it
 * (Retry-After), and store it. Returns what is stored afterwards, or
 * undefined when the CA has no ARI. A failed fetch keeps the stored window
 * (the CA may be down; the ⅓ / ½ rule still protects an unknown one).
 */
export async function refreshWindow(
  o: { directory: string; caFile?: string | undefined; id: string; store: RenewalWindows; now: Date },
): Promise<{ id: string; record: WindowRecord } | undefined> {
  const id = o.id;
  const stored = o.store.get(id);
  if (stored && Date.parse(stored.nextFetch) > o.now.getTime()) return { id, record: stored };
  const noAri = o.store.noAriUntil(o.directory);
  if (noAri && noAri.getTime() > o.now.getTime()) return undefined;
  const base = await renewalInfoUrl(o.directory, o.caFile);
  if (base === undefined) {
    o.store.markNoAri(o.directory, new Date(o.now.getTime() + MAX_RETRY_MS));
    return undefined;
  }
  const r = await getUrl(`${base.replace(/\/+$/, '')}/${id}`, o.caFile);
  const nextFetch = new Date(o.now.getTime() + retryAfterMs(r.retryAfter, o.now)).toISOString();
  let body: z.infer<typeof renewalInfoBody> | undefined;
  try {
    const parsed = renewalInfoBody.safeParse(JSON.parse(r.body));
    body = r.status === 200 && parsed.success ? parsed.data : undefined;
  } catch {
    body = undefined;
  }
  if (!body) {
    if (stored) o.store.set(id, { ...stored, nextFetch });
    return stored ? { id, record: { ...stored, nextFetch } } : undefined;
  }
  const start = new Date(body.suggestedWindow.start);
  const end = new Date(body.suggestedWindow.end);
  if (end.getTime() < start.getTime()) return stored ? { id, record: stored } : undefined; // RFC 9773 §4.2: ignore an invalid window
  // The same window keeps the moment drawn for it; a moved one gets a new draw.
  const explanationURL = explanation(body.explanationURL);
  const same = stored && stored.start === start.toISOString() && stored.end === end.toISOString();
  const record: WindowRecord = {
    start: start.toISOString(),
    end: end.toISOString(),
    renewAt: same ? stored.renewAt : pickRenewalTime(start, end, o.now).toISOString(),
    nextFetch,
    ...(explanationURL !== undefined ? { explanationURL } : {}),
  };
  o.store.set(id, record);
  return { id, record };
}
