/**
 * What `plan` and `check` print on stdout: every change with its reason and
 * diff, grouped by host and recipe. Diffs arrive already masked.
 */
import type { ArtifactReport, EngineEvent } from '../engine/events.js';
import { redact } from '../secret.js';

/**
 * Colour only for a terminal, and never when NO_COLOR is set to anything
 * non-empty (https://no-color.org); FORCE_COLOR does not override NO_COLOR.
 */
export function wantColor(stream: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  return Boolean(stream.isTTY) && env['TERM'] !== 'dumb';
}

export function planPrinter(write: (text: string) => void, opts: { diffs: boolean; color: boolean }): (e: EngineEvent) => void {
  const paint = (code: string, s: string): string => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const colorDiff = (diff: string): string =>
    diff
      .split('\n')
      .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? paint('32', l) : l.startsWith('-') && !l.startsWith('---') ? paint('31', l) : l))
      .join('\n');
  return (e) => {
    if (e.type === 'artifact') {
      write(redact(`${e.host}  ${e.recipe}  ${paint('36', '#')} ${describeArtifactSum(e.artifact)}`) + '\n');
    } else if (e.type === 'change' && e.status === 'planned') {
      const after = e.change.after?.length ? `  (after: ${e.change.after.join('; ')})` : '';
      write(redact(`${e.host}  ${e.recipe}  ${paint('33', '~')} ${e.change.summary}${after}`) + '\n');
      if (opts.diffs && e.change.diff) write(redact(colorDiff(e.change.diff.replace(/\n?$/, '\n'))));
    } else if (e.type === 'warning') {
      write(redact(`${e.host}  ${e.recipe}  ${paint('35', 'warning:')} ${e.message}`) + '\n');
    } else if (e.type === 'verify' && !e.ok) {
      write(redact(`${e.host}  ${e.recipe}  ${paint('31', '!')} verify "${e.check}" failed: ${e.detail ?? ''}`) + '\n');
    }
  };
}

/** `faasd 0.19.7 (amd64) sha256 1a2b3c4d5e6f…: release checksum asset <url>` */
export function describeArtifactSum(a: ArtifactReport): string {
  const from = {
    pinned: 'pinned in panel',
    'checksums-file': 'given with --checksums',
    'release-asset': `release checksum asset ${a.sumUrl ?? ''}`,
    'trusted-on-first-use': 'trusted on first use (--trust-artifact), recorded here',
  }[a.source];
  return `${a.name} ${a.version} (${a.arch}) sha256 ${a.sha256.slice(0, 12)}…: ${from}`;
}
