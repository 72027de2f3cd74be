/**
 * Host info from an earlier run, so that planning can start before the host
 * has answered: the engine builds every resource from the remembered info,
 * sends the host-info script and the facts in ONE round trip, and compares
 * the info that comes back. Only when it differs (a re-installed host, a new
 * name server) are the resources built again and the facts gathered again.
 * A stale entry therefore costs a round trip, never a wrong plan, which is
 * why the key needs no host key fingerprint: the real info is read every run.
 */
import type { Connection } from '../config.js';
import type { HostInfo } from '../host-info.js';

export interface HostInfoCache {
  /** The info last seen for this host (inventory name and connection), if any. */
  get(host: string, connection: string): HostInfo | undefined;
  set(host: string, connection: string, info: HostInfo): void;
}

/** Within one process: e.g. `install --reinstall` plans the same host twice. */
export class MemoryHostInfoCache implements HostInfoCache {
  readonly #entries = new Map<string, HostInfo>();
  get(host: string, connection: string): HostInfo | undefined {
    return this.#entries.get(cacheKey(host, connection));
  }
  set(host: string, connection: string, info: HostInfo): void {
    this.#entries.set(cacheKey(host, connection), info);
  }
}

/** How the host is reached, as a cache key: `user@address:port`, or `local`. Known before connecting. */
export function connectionId(c: Connection): string {
  return c.kind === 'local' ? 'local' : `${c.user}@${c.address}:${c.port}`;
}

export function cacheKey(host: string, connection: string): string {
  return `${host}\n${connection}`;
}

/** Every field, whatever fields HostInfo has now or later: anything planning could have read. */
export function sameInfo(a: HostInfo, b: HostInfo): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}
