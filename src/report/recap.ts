/** The end-of-run table: host, ok, changed, failed, reboot-required, duration. */
import type { HostResult, Mode } from '../engine/events.js';
import { statusWord } from './words.js';

export function formatRecap(mode: Mode, results: readonly HostResult[]): string {
  const changedHeader = mode === 'install' ? 'changed' : mode === 'plan' ? 'to change' : 'drift';
  const header = ['host', 'status', 'ok', changedHeader, 'failed', 'reboot-required', 'duration'];
  const rows = results.map((r) => [
    r.host,
    statusWord(mode, r.status),
    String(r.ok),
    // check's column is drift: changes found plus failed verifications; in
    // install and plan a failed verification is already counted as failed.
    String(mode === 'check' ? r.changed + r.failedChecks : r.changed),
    String(r.failed),
    r.rebootRequired ? 'yes' : 'no',
    `${(r.durationMs / 1000).toFixed(1)}s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), '', summaryLine(results, mode)];
  const warnings = results.flatMap((r) => (r.warnings ?? []).map((w) => `${r.host}: warning: ${w}`));
  if (warnings.length) out.push('', ...warnings);
  for (const r of results) for (const p of r.rebootPaths ?? []) out.push(`${r.host}: reboot required: ${p}`);
  for (const r of results) if (r.kept?.length) out.push(`${r.host}: kept (--purge removes them): ${r.kept.join(', ')}`);
  for (const r of results) for (const n of r.notes ?? []) out.push(`${r.host}: ${n}`);
  const errors = results.filter((r) => r.error && (r.status === 'failed' || r.status === 'interrupted' || r.status === 'drift'));
  if (errors.length) out.push('', ...errors.map((r) => r.error!));
  return out.join('\n') + '\n';
}

/** `6 hosts: 4 changed, 1 failed, 1 interrupted` — statuses in a fixed order, zero counts left out. */
export function summaryLine(results: readonly HostResult[], mode: Mode = 'install'): string {
  const order: readonly HostResult['status'][] = ['ok', 'changed', 'drift', 'failed', 'interrupted'];
  const counts = new Map<string, number>();
  for (const s of order) {
    const n = results.filter((r) => r.status === s).length;
    if (n) counts.set(statusWord(mode, s), (counts.get(statusWord(mode, s)) ?? 0) + n);
  }
  const parts = [...counts].map(([word, n]) => `${n} ${word}`);
  return `${results.length} host${results.length === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;
}
