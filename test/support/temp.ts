/**
 * A temporary directory that is removed when the test process ends, so a
 * test run leaves nothing in /tmp behind (node --test runs each file in its
 * own process). `npm test` runs with its own TMPDIR and fails on anything
 * left in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // At exit rather than in an after() hook: a directory made in a before() hook lives as long as the file's tests.
  if (made.length === 0) process.once('exit', () => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
  made.push(dir);
  return dir;
}
