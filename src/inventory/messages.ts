/**
 * Turns zod issues into Problems with messages that name the setting and
 * the fix, e.g. `hosts.web1: unknown key "adress" (did you mean "address"?)`.
 */
import type { z } from 'zod';
import { HOST_ONLY_KEYS, show } from './schema.js';
import type { DocPath, Problem } from './types.js';

export function pathText(path: DocPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

/**
 * `hosts.web1.port: must be …`: a message that starts with the setting's
 * own name (the schema's messages do, for use without a path) does not
 * say it twice after the path.
 */
export function prefixed(path: DocPath, message: string): string {
  const where = pathText(path);
  if (where === '') return message;
  const last = path[path.length - 1];
  const own = typeof last === 'string' && (message.startsWith(`${last} must `) || message.startsWith(`${last} needs `)) ? message.slice(last.length + 1) : message;
  return `${where}: ${own}`;
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

/**
 * Per-parse error map: the fallback for issues the schema gives no message
 * for. Missing required keys arrive here as invalid_type with no input.
 */
export function errorMap(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    const last = iss.path?.[iss.path.length - 1];
    if (iss.input === undefined && last !== undefined) return `missing required key "${String(last)}"`;
    return `expected ${EXPECTED[iss.expected] ?? iss.expected}, got ${show(iss.input)}`;
  }
  return undefined;
}

/** Optimal string alignment distance: edits plus adjacent swaps, the commonest typo ("emial"). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row !== undefined) row[j] = v;
    }
  }
  return at(a.length, b.length);
}

export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function unknownKey(key: string, allowed: readonly string[]): string {
  if (key === 'password' || key === 'pass') return `unknown key "${key}"`;
  if (HOST_ONLY_KEYS.includes(key) && !allowed.includes(key)) return `"${key}" is only allowed on a host (under hosts.<name>)`;
  if (key === 'vars' && allowed.includes('address')) return 'unknown key "vars": host settings are written directly under the host (no vars: level)';
  const near = suggest(key, allowed);
  const hint = near !== undefined ? ` (did you mean "${near}"?)` : ` (allowed: ${allowed.join(', ')})`;
  return `unknown key ${JSON.stringify(key)}${hint}`;
}

/** The keys a strict object at `path` accepts, read from the schema itself so hints never drift. */
export type AllowedKeys = (path: DocPath) => readonly string[];

export function issueProblems(issues: readonly z.core.$ZodIssue[], allowedAt: AllowedKeys): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) {
    const path = iss.path.filter((s): s is string | number => typeof s !== 'symbol');
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) out.push({ path: [...path, k], at: 'key', message: prefixed(path, unknownKey(k, allowedAt(path))) });
    } else if (iss.code === 'invalid_key') {
      const inner = iss.issues[0]?.message ?? iss.message;
      out.push({ path, at: 'key', message: prefixed(path.slice(0, -1), inner) });
    } else if ((iss.code === 'invalid_type' || iss.code === 'custom') && iss.message.startsWith('missing required key')) {
      // The key is absent, so name (and point at) the mapping that lacks it.
      out.push({ path, message: prefixed(path.slice(0, -1), iss.message) });
    } else {
      out.push({ path, message: prefixed(path, iss.message) });
    }
  }
  return out;
}
