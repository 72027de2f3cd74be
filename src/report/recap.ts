/** The end-of-run table: host, ok, changed, failed, reboot-required, duration. */
import type { HostResult, Mode } from '../engine/events.js';

export function formatRecap(mode: Mode, results: readonly HostResult[]): string {
  const changedHeader = mode === 'install' ? 'changed' : mode === 'plan' ? 'to change' : 'drift';
  const header = ['host', 'status', 'ok', changedHeader, 'failed', 'reboot-required', 'duration'];
  const rows = results.map((r) => [
    r.host,
    r.status,
    String(r.ok),
    String(r.changed + r.failedChecks),
    String(r.failed),
    r.rebootRequired ? 'yes' : 'no',
    `${(r.durationMs / 1000).toFixed(1)}s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  const errors = results.filter((r) => r.error && (r.status === 'failed' || r.status === 'interrupted' || r.status === 'drift'));
  if (errors.length) out.push('', ...errors.map((r) => r.error!));
  return out.join('\n') + '\n';
}
