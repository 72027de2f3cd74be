/**
 * What `plan` and `check` print on stdout: every change with its reason and
 * diff, grouped by host and recipe. Diffs arrive already masked.
 */
import type { EngineEvent } from '../engine/events.js';
import { redact } from '../secret.js';

export function planPrinter(write: (text: string) => void, opts: { diffs: boolean; color: boolean }): (e: EngineEvent) => void {
  const paint = (code: string, s: string): string => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const colorDiff = (diff: string): string =>
    diff
      .split('\n')
      .map((l) => (l.startsWith('+') && !l.startsWith('+++') ? paint('32', l) : l.startsWith('-') && !l.startsWith('---') ? paint('31', l) : l))
      .join('\n');
  return (e) => {
    if (e.type === 'change' && e.status === 'planned') {
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
