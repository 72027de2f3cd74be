/**
 * `--trust-artifact NAME`: for an artifact whose upstream publishes no sums
 * (code-server), the machine running panel fetches it once, records its
 * sha256 in `.panel/trusted-artifacts.sha256` (sha256sum format, like
 * known_hosts for host keys) and every host then verifies against that
 * record. A later run never re-trusts a recorded path: a changed upstream
 * file fails the hosts' checksum verification instead of being accepted.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostConfig } from '../config.js';
import type { Arch } from '../host-info.js';
import { parseChecksums, type ChecksumTable } from './checksums.js';
import { artifactBase, versionSchema } from './resolve.js';
import { ARTIFACT_NAMES, ARTIFACTS, type ArtifactName } from './table.js';

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

export function trustFilePath(cwd = process.cwd()): string {
  return join(cwd, '.panel', 'trusted-artifacts.sha256');
}

/** The recorded sums, empty when nothing was trusted yet. */
export function trustedSums(cwd = process.cwd()): ChecksumTable {
  const file = trustFilePath(cwd);
  // Not cached: recordTrusted appends to it in the same process.
  return existsSync(file) ? parseChecksums(readFileSync(file, 'utf8'), file) : new Map();
}

export function isArtifactName(name: string): name is ArtifactName {
  return (ARTIFACT_NAMES as string[]).includes(name);
}

/** The version a host config installs: the recipe of the same id's `version` parameter, or the default. */
function versionFor(config: HostConfig, name: ArtifactName): string {
  const v = config.params[name]?.['version'];
  return typeof v === 'string' ? versionSchema.parse(v) : ARTIFACTS[name].defaultVersion;
}

async function sha256Of(url: string): Promise<string | undefined> {
  const res = await fetch(url);
  if (res.status === 404) return undefined;
  if (!res.ok || !res.body) throw new Error(`--trust-artifact: ${url} answered ${res.status}`);
  const h = createHash('sha256');
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) h.update(chunk);
  return h.digest('hex');
}

/**
 * Fetch and record every trusted artifact the configs need that has no
 * recorded sum yet (both architectures; one that does not exist is skipped).
 * Returns the lines added, for the run's output.
 */
export async function recordTrusted(configs: readonly HostConfig[], names: readonly string[], cwd = process.cwd()): Promise<string[]> {
  const known = trustedSums(cwd);
  const added: string[] = [];
  const todo = new Map<string, string>();
  for (const name of names) {
    if (!isArtifactName(name)) throw new Error(`--trust-artifact ${JSON.stringify(name)}: not an artifact panel installs (${ARTIFACT_NAMES.join(', ')})`);
    for (const c of configs) {
      for (const arch of ARCHES) {
        const rel = ARTIFACTS[name].relPath(versionFor(c, name), arch);
        if (!known.has(rel)) todo.set(rel, `${artifactBase(c.mirror)}/${rel}`);
      }
    }
  }
  for (const [rel, url] of todo) {
    const sum = await sha256Of(url);
    if (sum === undefined) continue;
    mkdirSync(join(cwd, '.panel'), { recursive: true });
    appendFileSync(trustFilePath(cwd), `${sum}  ${rel}\n`, { mode: 0o644 });
    added.push(`${sum}  ${rel}`);
  }
  return added;
}
