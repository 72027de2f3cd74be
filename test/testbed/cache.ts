/**
 * Build-once caches under /var/cache/panel-testbed/, keyed by a hash of their
 * recipe: a changed recipe gets a new directory, an unchanged one is reused.
 * Builds happen in a temporary directory renamed into place, under a lock, so
 * concurrent test processes neither race nor see half-built caches.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withLock } from './lock.js';

export const CACHE_ROOT = process.env.PANEL_TESTBED_CACHE ?? '/var/cache/panel-testbed';

export function recipeHash(...parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
}

/** Where a cache with this name and recipe lives once built. */
export function cacheDir(name: string, recipe: string): string {
  return join(CACHE_ROOT, `${name}-${recipeHash(recipe)}`);
}

/**
 * Return the directory of cache `name` for `recipe`, building it with
 * `build(tmpDir)` first if needed. Older versions of the same cache are removed.
 */
export async function cached(
  name: string,
  recipe: string,
  build: (dir: string) => Promise<void>,
  log: (msg: string) => void = () => undefined,
): Promise<string> {
  const dir = cacheDir(name, recipe);
  if (existsSync(dir)) return markUsed(dir);
  return withLock(join(CACHE_ROOT, `${name}.lock`), async () => {
    if (existsSync(dir)) return markUsed(dir); // another process built it while we waited
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const t0 = Date.now();
    log(`building ${name} cache (${dir}) …`);
    try {
      await build(tmp);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    await rename(tmp, dir);
    await markUsed(dir);
    log(`built ${name} cache in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await removeOlder(name, dir);
    return dir;
  });
}

/**
 * Another version of a cache is kept this long after its last use: checkouts of
 * other branches share the cache directory, and a running bed serves its apt
 * repository and mirror straight from it.
 */
const KEEP_UNUSED_MS = 6 * 3600_000;
const USED = '.last-used';

async function markUsed(dir: string): Promise<string> {
  const now = new Date();
  await utimes(join(dir, USED), now, now).catch(() => writeFile(join(dir, USED), '').catch(() => undefined));
  return dir;
}

/**
 * Drop stale versions and failed builds of the same cache: only those unused for
 * KEEP_UNUSED_MS, and never a root still mounted as an overlay lower dir.
 */
async function removeOlder(name: string, keep: string): Promise<void> {
  const { readFile } = await import('node:fs/promises');
  const mounts = await readFile('/proc/self/mountinfo', 'utf8');
  for (const entry of await readdir(CACHE_ROOT)) {
    const full = join(CACHE_ROOT, entry);
    if (full === keep || !entry.startsWith(`${name}-`) || entry.endsWith('.lock')) continue;
    if (mounts.includes(full)) continue;
    // Caches made by checkouts without the marker count from when they were built.
    const used = await stat(join(full, USED)).catch(() => stat(full)).then((st) => st.mtimeMs, () => 0);
    if (Date.now() - used < KEEP_UNUSED_MS) continue;
    const tmpOf = /\.tmp-(\d+)$/.exec(entry);
    if (tmpOf && existsSync(`/proc/${tmpOf[1]}`)) continue; // someone is building it
    await rm(full, { recursive: true, force: true }).catch(() => undefined);
  }
}
