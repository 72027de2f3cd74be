/**
 * The sum a host recorded for an artifact (state record, `artifacts`,
 * keyed by the path below the mirror root) against the sum this run found.
 *
 * A release's files never change after publication, so a different
 * published sum for the same version is refused, as a changed SSH host key
 * is: whoever can change the mirror's binary can change its checksum asset
 * too. The same holds for a sum trusted on first use (--trust-artifact) that
 * differs from what the host recorded: the two first uses saw different files.
 * Pinned and --checksums sums are the user's own statement and replace
 * the record; that is also the way to accept a re-published release.
 */
import { err, ok, type Result } from '../result.js';
import type { ResolvedArtifact } from './resolve.js';
import type { SumSource } from './release-asset.js';

export interface RecordedSum {
  readonly sha256: string;
  readonly source: SumSource;
  readonly at?: string;
}

/** Whether the sum may be used; the refusal names both sums (several lines). */
export function changedSumRefusal(recorded: RecordedSum | undefined, a: ResolvedArtifact): Result<void, string> {
  if (recorded === undefined || recorded.sha256 === a.sha256) return ok(undefined);
  if (a.sumFrom !== 'release-asset' && a.sumFrom !== 'trusted-on-first-use') return ok(undefined);
  const now =
    a.sumFrom === 'release-asset'
      ? `  now published:         ${a.sha256} (${a.sumUrl ?? 'release asset'})`
      : `  recorded here:         ${a.sha256} (trusted on first use by the machine running panel)`;
  return err([
    `the ${a.sumFrom === 'release-asset' ? 'published' : 'trusted'} sha256 of ${a.name} ${a.version} (${a.arch}) CHANGED; refusing to install it`,
    `  recorded on this host: ${recorded.sha256} (${recorded.source}${recorded.at ? `, ${recorded.at}` : ''})`,
    now,
    `  A release's files do not change once published: the mirror or the release may have been tampered with.`,
    `  If the new file is genuine, pin it: --checksums FILE with the line "${a.sha256}  ${a.relPath}".`,
  ].join('\n'));
}
