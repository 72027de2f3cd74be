/**
 * `--checksums FILE`: sums in `sha256sum` format for artifacts served by a
 * private mirror (its own builds), with paths relative to the mirror root —
 * i.e. the same GitHub-shaped paths as in ./table.ts.
 */
import { readFileSync } from 'node:fs';

export type ChecksumTable = ReadonlyMap<string, string>;

export class ChecksumsFileError extends Error {
  override name = 'ChecksumsFileError';
}

/** `./a/b`, `/a/b` and `a/b` all name the same artifact below the mirror. */
export function normalizeRelPath(p: string): string {
  return p.replace(/^(\.\/|\/)+/, '');
}

// sha256sum prints `<hex><space><space or *><path>`; be lenient about extra spaces.
const LINE = /^([0-9A-Fa-f]{64})[ \t]+\*?(\S.*?)\s*$/;

/** Parse sha256sum-format text; errors name `FILE:LINE`. */
export function parseChecksums(text: string, file: string): ChecksumTable {
  const table = new Map<string, string>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (!m || m[1] === undefined || m[2] === undefined) {
      const hex = /^(\S+)/.exec(line)?.[1] ?? '';
      const why = /^[0-9A-Fa-f]+$/.test(hex) && hex.length !== 64
        ? `sha256 must be 64 hex digits, got ${hex.length}`
        : 'expected `<sha256>  <path relative to the mirror>`';
      throw new ChecksumsFileError(`${where}: ${why}`);
    }
    const path = normalizeRelPath(m[2]);
    if (path === '') throw new ChecksumsFileError(`${where}: empty path`);
    const sum = m[1].toLowerCase();
    const before = table.get(path);
    if (before !== undefined && before !== sum) {
      throw new ChecksumsFileError(`${where}: ${path} listed twice with different sums`);
    }
    table.set(path, sum);
  });
  return table;
}

const cache = new Map<string, ChecksumTable>();

/** Read and parse a checksums file once per process (recipes are planned synchronously). */
export function loadChecksumsFile(file: string): ChecksumTable {
  const hit = cache.get(file);
  if (hit) return hit;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ChecksumsFileError(`${file}: cannot read checksums file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const table = parseChecksums(text, file);
  cache.set(file, table);
  return table;
}
