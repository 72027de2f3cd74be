/**
 * The release's own checksum asset: the sum of an artifact that is neither
 * pinned in this repository nor given with --checksums.
 *
 * It is fetched from the same place as the artifact (the same --mirror base
 * and GitHub path, `<artifact>.sha256` / `.sha256sum`), and parsed in
 * upstream's exact format: one line `<sha256>  <name>`, where the name must
 * be the one upstream's release script writes (faasd's says `bin/faasd`, so
 * `sha256sum -c` cannot check it; the first field is the sum).
 *
 * Where the fetch happens: on the machine running panel, not on the host, so
 * that planning stays pure (a plan carries the sum it will verify against,
 * and `plan` can show it before anything runs on the host). One ReleaseSums
 * per run is shared by every host of the fleet: each asset URL is fetched at
 * most once, and the fetch starts while the hosts are still being connected
 * (see src/engine/artifacts.ts), so it costs no extra wait. A local run
 * fetches from the same machine it converges. When the machine running panel
 * cannot reach the mirror at all (a mirror only on the hosts' private
 * network), the host fetches the asset itself in one extra round trip;
 * an HTTP error (404, 403) is an answer, not unreachability, and is reported
 * with the URL instead.
 *
 * What this sum is worth: it proves the artifact is the one the release
 * published, not that the release is honest. Hence the host keeps the sum it
 * used (state record, `artifacts`) and a later run that sees a different
 * published sum for the same version refuses, as a changed SSH host key is
 * refused; and `--require-pinned` refuses this source altogether.
 */
import type { ArtifactSource } from '../engine/state.js';
import { err, ok, type Result } from '../result.js';
import { type Script, sh } from '../shell.js';
import { getWithRetry, type RetryOptions } from './http-get.js';

/** pinned in this repository, given with --checksums, or the release's checksum asset (the state record's enum). */
export type SumSource = ArtifactSource;

/** What fetching an asset gave: its text, or why not. `reached` false: nothing answered (network error, timeout). */
export type AssetFetch =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly error: string; readonly reached: boolean };

/** No checksum asset is this big; a larger answer is not one. */
const MAX_ASSET_BYTES = 64 * 1024;

const LINE = /^([0-9A-Fa-f]{64})[ \t]+\*?(\S.*?)\s*$/;

/**
 * Upstream's checksum line → sha256. `named` is the name upstream's release
 * script puts after the sum; another name means the mirror serves another
 * file's sum (e.g. the arm64 one), which must not be used.
 */
export function parseChecksumAsset(text: string, named: string, producer: string, manyLines = false): Result<string, string> {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const shown = JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
  if (manyLines) {
    // One line per release file (runc.sha256sum): exactly one must name the artifact.
    const want = `expected a line "<sha256>  ${named}" as ${producer} writes it`;
    const parsed = lines.map((l) => LINE.exec(l.trim()));
    if (parsed.some((m) => m === null)) return err(`${want}, got ${shown}`);
    const mine = parsed.filter((m) => m![2] === named);
    if (mine.length !== 1) return err(`${want}, got ${mine.length} such lines: ${shown}`);
    return ok(mine[0]![1]!.toLowerCase());
  }
  const want = `expected one line "<sha256>  ${named}" as ${producer} writes it`;
  if (lines.length !== 1) return err(`${want}, got ${lines.length} lines: ${shown}`);
  const m = LINE.exec(lines[0]!.trim());
  if (!m) return err(`${want}, got ${shown}`);
  if (m[2] !== named) return err(`${want}, got a sum for "${m[2]}"`);
  return ok(m[1]!.toLowerCase());
}

/**
 * How the machine running panel asks for a checksum asset (a few hundred
 * bytes): 3 attempts, 10 s each (headers and body), 1 s then 2 s apart, so a
 * mirror that fails or crawls is given up in about 33 s at worst.
 */
export const ASSET_RETRY: RetryOptions = { attempts: 3, attemptTimeoutMs: 10_000, firstBackoffMs: 1_000 };

async function readAsset(res: Response): Promise<Result<string, string>> {
  const body = await res.arrayBuffer();
  if (body.byteLength > MAX_ASSET_BYTES) return err(`answer of ${body.byteLength} bytes is not a checksum file`);
  return ok(Buffer.from(body).toString('utf8'));
}

/**
 * Fetch from the machine running panel (Node's fetch follows GitHub's
 * redirect to its object store); transient failures are retried with
 * backoff, a 404 is final at once (./http-get.ts).
 */
export async function fetchHere(url: string, retry: RetryOptions = ASSET_RETRY): Promise<AssetFetch> {
  const got = await getWithRetry(url, readAsset, retry);
  return got.ok ? { ok: true, text: got.value } : got;
}

/**
 * Shell for the host to fetch the asset itself (the fallback above); curl
 * exits 22 on an HTTP error. Retries follow the same rules as everywhere
 * (transient only, curl's doubling wait; see the prelude's panel_fetch).
 */
export function hostFetchScript(url: string): Script {
  return sh`if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 --retry-connrefused --connect-timeout 10 --max-time 10 --max-filesize ${String(MAX_ASSET_BYTES)} -- ${url}; \
elif command -v wget >/dev/null 2>&1; then wget -q -T 10 --tries=3 --retry-connrefused --retry-on-http-error=408,429,500,502,503,504 -O - -- ${url}; else echo 'neither curl nor wget' >&2; exit 127; fi`;
}

/** The host's answer to hostFetchScript. */
export function parseHostFetch(stdout: string, code: number, stderr: string): AssetFetch {
  if (code === 0) return { ok: true, text: stdout };
  const why = stderr.trim().split('\n').pop() ?? '';
  return { ok: false, error: `fetched by the host: ${why || `exit ${code}`}`, reached: code === 22 || /\b[1-5]\d\d\b/.test(why) };
}

/** Every checksum asset of one run, each fetched at most once, shared across the fleet. */
export class ReleaseSums {
  private readonly cache = new Map<string, Promise<AssetFetch>>();
  constructor(private readonly fetcher: (url: string) => Promise<AssetFetch> = fetchHere) {}

  fetch(url: string): Promise<AssetFetch> {
    let p = this.cache.get(url);
    if (p === undefined) {
      p = this.fetcher(url).catch((e: Error): AssetFetch => ({ ok: false, error: e.message, reached: false }));
      this.cache.set(url, p);
    }
    return p;
  }
}
