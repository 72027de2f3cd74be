/** Small helpers shared by the resource modules: fact parsing, modes, ownership. */
import { createHash } from 'node:crypto';
import type { Change, FactOutput, PlanContext } from './types.js';
import { summary } from './types.js';
import { outputTail, type Script, sh } from '../shell.js';

/**
 * Fact snippets print `key=value` lines (a key may repeat). Anything else is
 * garbage: the parse fails loudly rather than planning from half-read facts.
 */
export function parseKv(key: string, out: FactOutput): Map<string, string[]> {
  if (out.code !== 0) throw factFailed(key, out);
  const m = new Map<string, string[]>();
  for (const line of out.stdout.split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`${key}: unexpected fact output line: ${JSON.stringify(line.slice(0, 120))}`);
    const k = line.slice(0, eq);
    const list = m.get(k) ?? [];
    list.push(line.slice(eq + 1));
    m.set(k, list);
  }
  return m;
}

/** The error of a fact snippet that exited non-zero: its exit code and the last lines it printed. */
export function factFailed(key: string, out: FactOutput): Error {
  return new Error(`${key}: fact script failed (exit ${out.code}): ${outputTail(out.stdout, 3, ' | ') || '(no output)'}`);
}

/** The one value of a required key. */
export function one(key: string, kv: Map<string, string[]>, name: string): string {
  const v = kv.get(name);
  if (!v || v.length === 0) throw new Error(`${key}: fact "${name}" missing from output`);
  return v[v.length - 1] as string;
}

export function opt(kv: Map<string, string[]>, name: string): string | undefined {
  const v = kv.get(name);
  return v && v.length > 0 ? v[v.length - 1] : undefined;
}

export function int(key: string, value: string, what: string): number {
  if (!/^-?\d+$/.test(value)) throw new Error(`${key}: ${what} is not a number: ${JSON.stringify(value)}`);
  return Number(value);
}

/** Parse an octal mode as printed by `stat -c %a` (`644`, `4755`). */
export function octal(key: string, value: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) throw new Error(`${key}: mode is not octal: ${JSON.stringify(value)}`);
  return parseInt(value, 8);
}

/** `0644` — the form used in reasons and in chmod arguments. */
export function fmtMode(mode: number): string {
  return '0' + (mode & 0o7777).toString(8).padStart(3, '0');
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export function isSha256(s: string): boolean {
  return /^[0-9a-f]{64}$/.test(s);
}

/** Observed ownership of a path. */
export interface Owned {
  readonly mode: number;
  readonly owner: string;
  readonly uid: number;
  readonly group: string;
  readonly gid: number;
}

export interface Wanted {
  readonly mode: number;
  readonly owner: string;
  readonly group: string;
}

/** Desired owner matches by name, or by number when given as one. */
function sameUser(want: string, name: string, id: number): boolean {
  return want === name || (/^\d+$/.test(want) && Number(want) === id);
}

/** Reasons why ownership differs, e.g. [`mode 0644 → 0600`, `owner nobody → root`]. */
export function ownershipDrift(have: Owned, want: Wanted): string[] {
  const r: string[] = [];
  if ((have.mode & 0o7777) !== (want.mode & 0o7777)) r.push(`mode ${fmtMode(have.mode)} → ${fmtMode(want.mode)}`);
  if (!sameUser(want.owner, have.owner, have.uid)) r.push(`owner ${have.owner} → ${want.owner}`);
  if (!sameUser(want.group, have.group, have.gid)) r.push(`group ${have.group} → ${want.group}`);
  return r;
}

export function parseOwned(key: string, kv: Map<string, string[]>): Owned {
  return {
    mode: octal(key, one(key, kv, 'mode')),
    owner: one(key, kv, 'owner'),
    uid: int(key, one(key, kv, 'uid'), 'uid'),
    group: one(key, kv, 'group'),
    gid: int(key, one(key, kv, 'gid'), 'gid'),
  };
}

/** Summaries of the changes already planned by any of `keys`. */
export function plannedBy(ctx: PlanContext, keys: readonly string[]): string[] {
  if (keys.length === 0) return [];
  const set = new Set(keys);
  return ctx.planned.filter((c: Change) => set.has(c.resource)).map((c) => summary(c));
}

/** Body of a snippet with stdin closed: a command that reads stdin must not eat the rest of the batch. */
export function noStdin(body: Script): Script {
  return sh`{
${body}
} </dev/null`;
}
