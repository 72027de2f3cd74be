/**
 * `--trust-artifact NAME`: the sum source for an artifact whose upstream
 * publishes no sums (code-server). Like an SSH host key on first connection:
 * the machine running panel fetches the artifact once, records its sha256 in
 * `.panel/trusted-artifacts.sha256` (sha256sum format, keyed by the path
 * below the mirror root), and every host verifies what it downloads against
 * that record. A recorded path is never re-trusted: a changed upstream file
 * then fails verification on the hosts instead of being accepted, and each
 * host also keeps the sum in its own state record (a different first use
 * elsewhere is refused, see ./recorded.ts).
 *
 * One TrustedSums per run is shared by every host: each artifact is fetched
 * at most once, starting while the hosts are still being connected.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { err, ok, type Result } from '../result.js';
import { parseChecksums, type ChecksumTable } from './checksums.js';
import { getWithRetry } from './http-get.js';

export const TRUST_FILE = 'trusted-artifacts.sha256';

/** No release artifact panel installs takes this long to fetch from a reachable mirror. */
const FETCH_TIMEOUT_MS = 15 * 60_000;

async function hashBody(res: Response): Promise<Result<string, string>> {
  if (res.body === null) return err('empty answer');
  const h = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) h.update(chunk);
  return ok(h.digest('hex'));
}

/** sha256 of what `url` serves, streamed (release tarballs are large); transient failures retried as everywhere (./http-get.ts). */
export async function sha256Here(url: string): Promise<Result<string, string>> {
  const got = await getWithRetry(url, hashBody, { attempts: 3, attemptTimeoutMs: FETCH_TIMEOUT_MS, firstBackoffMs: 1_000 });
  if (got.ok) return ok(got.value);
  if (got.error.startsWith('HTTP ')) return err(`${url} answered ${got.error}`);
  return err(`${url}: ${got.error}${got.reached ? '' : ' from the machine running panel'}`);
}

export class TrustedSums {
  private recorded: ChecksumTable | undefined;
  private readonly inFlight = new Map<string, Promise<Result<string, string>>>();

  /** `file`: the record; `hash` fetches and hashes (tests inject one). */
  constructor(
    readonly file: string = join(process.cwd(), '.panel', TRUST_FILE),
    private readonly hash: (url: string) => Promise<Result<string, string>> = sha256Here,
  ) {}

  private table(): Result<ChecksumTable, string> {
    if (this.recorded === undefined) {
      try {
        this.recorded = existsSync(this.file) ? parseChecksums(readFileSync(this.file, 'utf8'), this.file) : new Map();
      } catch (e) {
        return err((e as Error).message);
      }
    }
    return ok(this.recorded);
  }

  /** The recorded sum of `relPath`, or the sum of what `url` serves now, recorded for every later run. */
  sum(loc: { readonly url: string; readonly relPath: string }): Promise<Result<string, string>> {
    let p = this.inFlight.get(loc.relPath);
    if (p === undefined) {
      p = this.lookUpOrRecord(loc).catch((e: Error) => err(e.message));
      this.inFlight.set(loc.relPath, p);
    }
    return p;
  }

  private async lookUpOrRecord(loc: { readonly url: string; readonly relPath: string }): Promise<Result<string, string>> {
    const table = this.table();
    if (!table.ok) return table;
    const known = table.value.get(loc.relPath);
    if (known !== undefined) return ok(known);
    const got = await this.hash(loc.url);
    if (!got.ok) return got;
    mkdirSync(dirname(this.file), { recursive: true });
    appendFileSync(this.file, `${got.value}  ${loc.relPath}\n`, { mode: 0o644 });
    return got;
  }
}
