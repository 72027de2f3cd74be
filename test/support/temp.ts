/**
 * A temporary directory that is removed when the test file (or the test
 * calling this) ends, so a test run leaves nothing in /tmp behind.
 * `npm test` runs with its own TMPDIR and fails on anything left in it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
