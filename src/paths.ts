/**
 * Locations inside the installed panel package, whether run from src/ (tsx) or
 * dist/ (tsc), and how to start panel again (the renewal timer's command).
 * The single executable has no package directory: its files are embedded.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embedded } from './embedded.js';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`panel: cannot find the package root above ${start}`);
    dir = up;
  }
}

/**
 * In the single executable, a directory that exists nowhere: templates under
 * it are read from the executable (src/resources/template.ts), and a stray
 * read from disk fails instead of finding some other file.
 */
const EMBEDDED_ROOT = '/nonexistent/panel-embedded';

export const packageRoot: string = embedded !== undefined ? EMBEDDED_ROOT : findRoot(dirname(fileURLToPath(import.meta.url)));
export const templatesDir: string = join(packageRoot, 'templates');

/** argv that starts this panel again: the executable itself, or node with bin/panel.js. */
export function selfCommand(): string[] {
  return embedded !== undefined ? [process.execPath] : [process.execPath, join(packageRoot, 'bin', 'panel.js')];
}
