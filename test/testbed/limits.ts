/**
 * Runner-wide kernel limits that many booted systemds exhaust. Every host's
 * systemd (and journald, logind, …) takes inotify instances, all counted
 * against root on the runner; the default 128 runs out at around ten hosts
 * ("Failed to allocate manager object: Too many open files"). Only ever raised.
 */
import { readFile, writeFile } from 'node:fs/promises';

const WANT: Record<string, number> = {
  '/proc/sys/fs/inotify/max_user_instances': 8192,
  '/proc/sys/fs/inotify/max_user_watches': 524288,
};

export async function raiseLimits(): Promise<void> {
  for (const [file, want] of Object.entries(WANT)) {
    const have = Number((await readFile(file, 'utf8').catch(() => '0')).trim());
    if (have < want) await writeFile(file, `${want}\n`);
  }
}
