/**
 * (name, version, arch, source) → where the artifact and its sum are: pure,
 * so every URL panel will use can be unit-tested without a host; then the
 * sum, fetching the release's checksum asset only when none is known.
 */
import { z } from 'zod';
import type { Arch } from '../host-info.js';
import { ARTIFACTS, type ArtifactName } from './table.js';
import type { ChecksumTable } from './checksums.js';
import { parseChecksumAsset, type AssetFetch, type SumSource } from './release-asset.js';
import { err, ok, type Result } from '../result.js';

export const GITHUB = 'https://github.com';

export interface ArtifactSource {
  /** Replaces https://github.com; keeps GitHub's paths. */
  readonly mirror?: string;
  /** From --checksums; wins over the pinned table. */
  readonly checksums?: ChecksumTable;
  /** Shown in messages, e.g. the --checksums file name. */
  readonly checksumsFile?: string;
}

/** An artifact's URL and where its sum can come from, before any fetch. */
export interface ArtifactLocation {
  readonly name: ArtifactName;
  readonly version: string;
  readonly arch: Arch;
  readonly url: string;
  /** Path below the mirror root (GitHub layout); the key of the host's `artifacts` record. */
  readonly relPath: string;
  /** The sum from this repository or --checksums, when there is one. */
  readonly known?: { readonly sha256: string; readonly source: 'pinned' | 'checksums-file' };
  /** The release's checksum asset beside the artifact (same base, same path); absent when upstream publishes none. */
  readonly asset?: { readonly url: string; readonly named: string; readonly producer: string; readonly manyLines?: boolean };
}

export interface ResolvedArtifact {
  readonly name: ArtifactName;
  readonly version: string;
  readonly arch: Arch;
  readonly url: string;
  readonly sha256: string;
  /** Path below the mirror root (GitHub layout). */
  readonly relPath: string;
  /** Where the sum came from, for plans, reports and the host's record. */
  readonly sumFrom: SumSource;
  /** The checksum asset's URL when sumFrom is `release-asset`. */
  readonly sumUrl?: string;
}

export class ArtifactError extends Error {
  override name = 'ArtifactError';
}

// Versions become URL path segments and file names: keep them plain.
export const versionSchema = z
  .string()
  .regex(/^[0-9A-Za-z][0-9A-Za-z._+-]*$/, 'a version is letters, digits and . _ + - only');

export const mirrorSchema = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'the mirror must be an http(s) URL')
  .refine((u) => !/[?#]/.test(u), 'the mirror URL cannot have a query or fragment');

export function artifactBase(mirror: string | undefined): string {
  return mirror === undefined ? GITHUB : mirrorSchema.parse(mirror).replace(/\/+$/, '');
}

export function locateArtifact(name: ArtifactName, version: string, arch: Arch, source: ArtifactSource = {}): ArtifactLocation {
  const spec = ARTIFACTS[name];
  const v = versionSchema.safeParse(version);
  if (!v.success) throw new ArtifactError(`${name} version ${JSON.stringify(version)}: ${v.error.issues[0]?.message ?? 'invalid'}`);
  const relPath = spec.relPath(version, arch);
  const base = artifactBase(source.mirror);
  const file = relPath.slice(relPath.lastIndexOf('/') + 1);
  const dir = relPath.slice(0, relPath.lastIndexOf('/'));
  const ca = spec.checksumAsset;
  const asset = ca === undefined ? undefined : { url: `${base}/${dir}/${ca.asset(file)}`, named: ca.named(file), producer: ca.producer, ...(ca.manyLines ? { manyLines: true } : {}) };
  const fromFile = source.checksums?.get(relPath);
  const pinned = spec.pinned[version]?.[arch];
  const known =
    fromFile !== undefined
      ? { sha256: fromFile, source: 'checksums-file' as const }
      : pinned !== undefined
        ? { sha256: pinned, source: 'pinned' as const }
        : undefined;
  return { name, version, arch, url: `${base}/${relPath}`, relPath, ...(asset ? { asset } : {}), ...(known ? { known } : {}) };
}

function how(loc: ArtifactLocation): string {
  return `pass --checksums FILE with a line "<sha256>  ${loc.relPath}" (sha256sum format, path relative to the mirror)`;
}

export interface ResolveOptions {
  /** Refuse sums that are neither pinned nor given (--require-pinned). */
  readonly requirePinned?: boolean;
  /** Shown in messages, e.g. the --checksums file name. */
  readonly checksumsFile?: string;
  /** Fetches a checksum asset (per-run cache, host fallback). */
  readonly fetchAsset: (url: string) => Promise<AssetFetch>;
  /**
   * Only for an artifact named by --trust-artifact: the sum recorded on the
   * machine running panel, fetched and recorded now when there is none yet
   * (see ./trust.ts).
   */
  readonly trustOnFirstUse?: (loc: ArtifactLocation) => Promise<Result<string, string>>;
}

/**
 * The sum an artifact is verified against: pinned or given when known,
 * otherwise the release's checksum asset, or for an artifact whose upstream
 * publishes none, the sum recorded on first use when --trust-artifact names
 * it. Errors are one line naming the artifact, and the asset URL when the
 * asset is the problem.
 */
export async function resolveArtifact(loc: ArtifactLocation, o: ResolveOptions): Promise<Result<ResolvedArtifact, string>> {
  const { name, version, arch, url, relPath } = loc;
  const what = `${name} ${version} (${arch})`;
  if (loc.known) return ok({ name, version, arch, url, relPath, sha256: loc.known.sha256, sumFrom: loc.known.source });
  const notListed = o.checksumsFile !== undefined ? ` and ${o.checksumsFile} does not list it` : '';
  if (o.requirePinned) {
    const refused = loc.asset === undefined ? 'a sum recorded on first use (--trust-artifact)' : "the release's own checksum asset";
    return err(`${what}: no sha256 is pinned for ${relPath}${notListed}, and --require-pinned refuses ${refused}: ${how(loc)}, or drop --require-pinned`);
  }
  if (loc.asset === undefined) {
    if (o.trustOnFirstUse === undefined) {
      return err(`${what}: upstream publishes no sha256 for it and none is pinned${notListed}: ${how(loc)}, or accept and record its sum on first use with --trust-artifact ${name}`);
    }
    const t = await o.trustOnFirstUse(loc);
    if (!t.ok) return err(`${what}: --trust-artifact: ${t.error}`);
    return ok({ name, version, arch, url, relPath, sha256: t.value, sumFrom: 'trusted-on-first-use' });
  }
  const got = await o.fetchAsset(loc.asset.url);
  if (!got.ok) {
    return err(`${what}: no sha256 is pinned${notListed}, and the release's checksum asset ${loc.asset.url} could not be fetched: ${got.error}. Publish it beside the artifact, or ${how(loc)}`);
  }
  const sum = parseChecksumAsset(got.text, loc.asset.named, loc.asset.producer, loc.asset.manyLines);
  if (!sum.ok) return err(`${what}: checksum asset ${loc.asset.url}: ${sum.error}`);
  return ok({ name, version, arch, url, relPath, sha256: sum.value, sumFrom: 'release-asset', sumUrl: loc.asset.url });
}
