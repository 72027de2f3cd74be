/**
 * (name, version, arch, source) → { url, sha256, relPath }: pure, so that
 * every URL and sum panel will use can be unit-tested without a host.
 */
import { z } from 'zod';
import type { Arch } from '../host-info.js';
import { ARTIFACTS, type ArtifactName } from './table.js';
import type { ChecksumTable } from './checksums.js';

export const GITHUB = 'https://github.com';

export interface ArtifactSource {
  /** Replaces https://github.com; keeps GitHub's paths. */
  readonly mirror?: string;
  /** From --checksums; wins over the pinned table. */
  readonly checksums?: ChecksumTable;
  /** Shown in messages, e.g. the --checksums file name. */
  readonly checksumsFile?: string;
  /** Sums recorded on first use for artifacts named by --trust-artifact (see ./trust.ts). */
  readonly trusted?: ChecksumTable;
}

export interface ResolvedArtifact {
  readonly name: ArtifactName;
  readonly version: string;
  readonly arch: Arch;
  readonly url: string;
  readonly sha256: string;
  /** Path below the mirror root (GitHub layout). */
  readonly relPath: string;
  /** Where the sum came from, for plans and reports. */
  readonly sumFrom: 'pinned' | 'checksums-file' | 'trusted-on-first-use';
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

export function resolveArtifact(name: ArtifactName, version: string, arch: Arch, source: ArtifactSource = {}): ResolvedArtifact {
  const spec = ARTIFACTS[name];
  const v = versionSchema.safeParse(version);
  if (!v.success) throw new ArtifactError(`${name} version ${JSON.stringify(version)}: ${v.error.issues[0]?.message ?? 'invalid'}`);
  const relPath = spec.relPath(version, arch);
  const url = `${artifactBase(source.mirror)}/${relPath}`;
  const fromFile = source.checksums?.get(relPath);
  if (fromFile !== undefined) return { name, version, arch, url, sha256: fromFile, relPath, sumFrom: 'checksums-file' };
  const pinned = spec.pinned[version]?.[arch];
  if (pinned !== undefined) return { name, version, arch, url, sha256: pinned, relPath, sumFrom: 'pinned' };
  const trusted = source.trusted?.get(relPath);
  if (trusted !== undefined) return { name, version, arch, url, sha256: trusted, relPath, sumFrom: 'trusted-on-first-use' };
  const where = source.checksumsFile !== undefined ? `; ${source.checksumsFile} does not list it either` : '';
  throw new ArtifactError(
    `${name} ${version} (${arch}): no sha256 is known for ${relPath}${where}. ` +
      `panel installs nothing it cannot verify: pass --checksums FILE with a line ` +
      `"<sha256>  ${relPath}" (sha256sum format, path relative to the mirror)` +
      (spec.pinned[version] === undefined && Object.keys(spec.pinned).length === 0 ? `, or accept what the server sends on first use with --trust-artifact ${name}.` : '.'),
  );
}
