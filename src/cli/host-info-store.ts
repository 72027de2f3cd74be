/**
 * `.panel/host-info/`: the host info of each host's last run, one small file
 * per host (hosts of one run, and of runs side by side, never write the same
 * file), so the next run can plan in one round trip (see
 * src/engine/host-info-cache.ts). Nothing here is secret; a missing,
 * unreadable or malformed file is simply no entry, and writing is best effort.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { HostInfo } from '../host-info.js';
import { cacheKey, type HostInfoCache, sameInfo } from '../engine/host-info-cache.js';

const entrySchema = z.object({
  key: z.string(),
  info: z.object({
    osId: z.string(),
    osVersion: z.string(),
    osPretty: z.string(),
    arch: z.enum(['amd64', 'arm64']).optional(),
    rawArch: z.string(),
    ipv6: z.boolean(),
    systemd: z.boolean(),
    hostname: z.string(),
    nameservers: z.array(z.string()),
  }),
});

export class HostInfoStore implements HostInfoCache {
  constructor(private readonly dir: string) {}

  #file(key: string): string {
    return join(this.dir, `${createHash('sha256').update(key).digest('hex').slice(0, 32)}.json`);
  }

  get(host: string, connection: string): HostInfo | undefined {
    const key = cacheKey(host, connection);
    let text: string;
    try {
      text = readFileSync(this.#file(key), 'utf8');
    } catch {
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    const parsed = entrySchema.safeParse(json);
    // A hash collision or a hand-edited file: not this host's entry.
    if (!parsed.success || parsed.data.key !== key) return undefined;
    const { arch, ...rest } = parsed.data.info;
    return { ...rest, arch };
  }

  set(host: string, connection: string, info: HostInfo): void {
    const known = this.get(host, connection);
    if (known !== undefined && sameInfo(known, info)) return;
    const key = cacheKey(host, connection);
    const file = this.#file(key);
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify({ key, info }) + '\n', { mode: 0o600 });
      renameSync(tmp, file);
    } catch {
      // Without the entry the next run plans in two round trips, as the first run did.
    }
  }
}
