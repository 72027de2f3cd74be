/** Locations inside the installed panel package, whether run from src/ (tsx) or dist/ (tsc). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'templates'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`panel: cannot find the package root above ${start}`);
    dir = up;
  }
}

export const packageRoot: string = findRoot(dirname(fileURLToPath(import.meta.url)));
export const templatesDir: string = join(packageRoot, 'templates');
