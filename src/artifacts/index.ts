/** Artifact URLs and sums for one host's configuration. */
import type { HostConfig } from '../config.js';
import type { Arch } from '../host-info.js';
import { loadChecksumsFile } from './checksums.js';
import { resolveArtifact, type ArtifactSource, type ResolvedArtifact } from './resolve.js';
import type { ArtifactName } from './table.js';
import { trustedSums } from './trust.js';

export * from './table.js';
export * from './checksums.js';
export * from './resolve.js';
export * from './trust.js';

/** The source (mirror + checksums) a host's configuration asks for; reads --checksums once. */
export function artifactSource(config: Pick<HostConfig, 'mirror' | 'checksumsFile'>): ArtifactSource {
  const trusted = trustedSums();
  return {
    ...(trusted.size > 0 ? { trusted } : {}),
    ...(config.mirror !== undefined ? { mirror: config.mirror } : {}),
    ...(config.checksumsFile !== undefined
      ? { checksums: loadChecksumsFile(config.checksumsFile), checksumsFile: config.checksumsFile }
      : {}),
  };
}

export function artifactFor(
  config: Pick<HostConfig, 'mirror' | 'checksumsFile'>,
  name: ArtifactName,
  version: string,
  arch: Arch,
): ResolvedArtifact {
  return resolveArtifact(name, version, arch, artifactSource(config));
}

/** For a recipe's precheck: the refusal message, or undefined when resolvable. */
export function artifactProblem(
  config: Pick<HostConfig, 'mirror' | 'checksumsFile'>,
  name: ArtifactName,
  version: string,
  arch: Arch | undefined,
): string | undefined {
  if (arch === undefined) return `no ${name} build for this architecture`;
  try {
    artifactFor(config, name, version, arch);
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
