/**
 * The sum a host recorded for an artifact (state record, `artifacts`,
 * keyed by the path below the mirror root) against the sum this run found.
 *
 * A release's files never change after publication, so a different
 * published sum for the same version is refused, as a changed SSH host key
 * is: whoever can change the mirror's binary can change its checksum asset
 * too. Pinned and --checksums sums are the user's own statement and replace
 * the record; that is also the way to accept a re-published release.
 */
import type { ResolvedArtifact } from './resolve.js';
import type { SumSource } from './release-asset.js';

export interface RecordedSum {
  readonly sha256: string;
  readonly source: SumSource;
  readonly at?: string;
}

/** The refusal (several lines, both sums), or undefined when the sum may be used. */
export function changedSumRefusal(recorded: RecordedSum | undefined, a: ResolvedArtifact): string | undefined {
  if (recorded === undefined || recorded.sha256 === a.sha256 || a.sumFrom !== 'release-asset') return undefined;
  return [
    `the published sha256 of ${a.name} ${a.version} (${a.arch}) CHANGED; refusing to install it`,
    `  recorded on this host: ${recorded.sha256} (${recorded.source}${recorded.at ? `, ${recorded.at}` : ''})`,
    `  now published:         ${a.sha256} (${a.sumUrl ?? 'release asset'})`,
    `  A release's files do not change once published: the mirror or the release may have been tampered with.`,
    `  If the new file is genuine, pin it: --checksums FILE with the line "${a.sha256}  ${a.relPath}".`,
  ].join('\n');
}
