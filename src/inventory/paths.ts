/** Local file paths in the inventory: `~/` expansion and resolution against a base directory. */
import { isAbsolute, resolve } from 'node:path';

/**
 * Only `~` and `~/…` are expanded (like OpenSSH); `~user/…` is left as a
 * relative path rather than guessing another user's home.
 */
export function expandPath(p: string, baseDir: string, homeDir: string): string {
  if (p === '~') return homeDir;
  if (p.startsWith('~/')) return resolve(homeDir, p.slice(2));
  return isAbsolute(p) ? resolve(p) : resolve(baseDir, p);
}
