/** Top self-time entries of a V8 .cpuprofile (node --cpu-prof), grouped by function and file. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { packageRoot } from '../../src/paths.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  readonly what: string;
  readonly ms: number;
  readonly share: number;
}

function place(url: string): string {
  if (!url) return '(native)';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) return path.slice(nm + '/node_modules/'.length);
  if (path.startsWith('node:')) return path;
  return path.startsWith('/') ? relative(packageRoot, path) : path;
}

export function summarizeProfile(file: string, top = 15): { totalMs: number; entries: SelfTime[]; byPackage: SelfTime[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const totalUs = p.endTime - p.startTime;
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const where = place(n.callFrame.url);
    const name = `${n.callFrame.functionName || '(anonymous)'}  ${where}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const group = !n.callFrame.url
      ? n.callFrame.functionName.startsWith('(') ? n.callFrame.functionName : '(native)'
      : where.startsWith('node:')
        ? 'node internals'
        : where.includes('/') && !where.startsWith('dist/')
          ? where.split('/')[0]!
          : where.split('/').slice(0, 3).join('/');
    pkg.set(group, (pkg.get(group) ?? 0) + us);
  }
  const rank = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([what, us]) => ({ what, ms: us / 1000, share: us / totalUs }));
  return { totalMs: totalUs / 1000, entries: rank(fn), byPackage: rank(pkg) };
}
