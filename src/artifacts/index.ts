/** Artifact URLs and sums for one host's configuration. */
import type { HostConfig } from '../config.js';
import { loadChecksumsFile } from './checksums.js';
import type { ArtifactSource, ResolvedArtifact } from './resolve.js';
import type { ArtifactRef } from '../resources/api.js';
import type { ArtifactName } from './table.js';

export * from './table.js';
export * from './checksums.js';
export * from './resolve.js';
export * from './release-asset.js';
export * from './recorded.js';
export * from './trust.js';

/** The source (mirror + checksums) a host's configuration asks for; reads --checksums once. */
export function artifactSource(config: Pick<HostConfig, 'mirror' | 'checksumsFile'>): ArtifactSource {
  return {
    ...(config.mirror !== undefined ? { mirror: config.mirror } : {}),
    ...(config.checksumsFile !== undefined
      ? { checksums: loadChecksumsFile(config.checksumsFile), checksumsFile: config.checksumsFile }
      : {}),
  };
}

/** A release artifact a recipe installs; the host's architecture picks the build. */
export interface DeclaredArtifact {
  readonly name: ArtifactName;
  readonly version: string;
}

const refKey = (name: ArtifactName, version: string): string => `${name}@${version}`;

/**
 * The artifacts a recipe declared, resolved for one host before planning
 * (URL and the sum to verify against): recipes read them synchronously.
 */
export class ArtifactSet {
  private readonly byRef: ReadonlyMap<string, ResolvedArtifact>;
  constructor(resolved: readonly ResolvedArtifact[]) {
    this.byRef = new Map(resolved.map((a) => [refKey(a.name, a.version), a]));
  }
  static readonly empty = new ArtifactSet([]);

  get(name: ArtifactName, version: string): ResolvedArtifact {
    const a = this.byRef.get(refKey(name, version));
    // A recipe asking for what it did not declare in `artifacts` is a bug in the recipe.
    if (a === undefined) throw new Error(`artifact ${name} ${version} was not declared by the recipe's artifacts()`);
    return a;
  }
  get all(): readonly ResolvedArtifact[] {
    return [...this.byRef.values()];
  }
}

/**
 * The fields a download or archive resource takes for a resolved artifact:
 * URL, sum, and where the sum came from (recorded on the host, checked
 * against what the host recorded before).
 */
export function fetchOf(a: ResolvedArtifact): { url: string; sha256: string; artifact: ArtifactRef } {
  return { url: a.url, sha256: a.sha256, artifact: { path: a.relPath, source: a.sumFrom, ...(a.sumUrl ? { sumUrl: a.sumUrl } : {}) } };
}

/** The declared artifacts of a recipe context (always set by the engine). */
export function artifactsOf(ctx: { readonly artifacts?: ArtifactSet }): ArtifactSet {
  return ctx.artifacts ?? ArtifactSet.empty;
}
