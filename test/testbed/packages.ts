/**
 * The local apt repository: the .debs panel's recipes install, with their
 * dependency closures computed against the base image (apt inside a throwaway
 * overlay of the base), plus the Debian packages the mirror repackages.
 * Indexed as a flat repository (`deb [trusted=yes] http://…/ ./`).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached } from './cache.js';
import { cacheNameOf, DEFAULT_RELEASE, type Release } from './base.js';
import { mustBash } from './run.js';

/** What hosts can `apt-get install` (closure included). */
export const REPO_PACKAGES = [
  'curl', 'wget', 'runc', 'bridge-utils', 'iptables', 'ca-certificates', 'nginx', 'kmod',
  'openssl', 'jq', 'tar', 'gzip', 'hello', 'ufw', 'iproute2', 'procps', 'sudo',
  'python3', 'python3-apt', // Ansible in bench/: modules run on the host's python; its apt module needs python3-apt
] as const;

/** Debian packages whose binaries the mirror repackages as upstream tarballs. */
export const ARTIFACT_PACKAGES = ['containerd', 'containernetworking-plugins'] as const;

/** Runs in an overlay of the release's base; bookworm's text is unchanged so its cache stays valid. */
const downloadScript = (suite: Release): string => String.raw`
cat > /etc/apt/sources.list <<SRC
deb http://deb.debian.org/debian ${suite} main
deb http://deb.debian.org/debian ${suite}-updates main
deb http://deb.debian.org/debian-security ${suite}-security main
SRC
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
mkdir -p /out/repo/partial /out/artifacts
# Closure against what the base already has: exactly what a host will fetch.
apt-get install -y -qq --download-only -o Dir::Cache::archives=/out/repo/ "$@"
# The named packages themselves too, even those the base already has (reinstall).
cd /out/repo && apt-get download -qq "$@"
cd /out/artifacts && apt-get download -qq ${ARTIFACT_PACKAGES.join(' ')}
rm -rf /out/repo/partial /out/repo/lock
`;

const recipeOf = (suite: Release): string =>
  JSON.stringify({ v: 2, REPO_PACKAGES, ARTIFACT_PACKAGES, DOWNLOAD: downloadScript(suite) });

export interface PackagesCache {
  /** Served over HTTP as the hosts' apt source. */
  repoDir: string;
  /** Raw .debs for the mirror builder. */
  artifactsDir: string;
  key: string;
}

/** The apt repository of one release, its closures computed against that release's base root. */
export async function ensurePackages(
  baseRoot: string,
  log?: (m: string) => void,
  release: Release = DEFAULT_RELEASE,
): Promise<PackagesCache> {
  // The base root is part of the key: closures depend on what it has installed.
  const dir = await cached(
    cacheNameOf('packages', release),
    `${recipeOf(release)}\n${baseRoot}`,
    async (tmp) => {
      await mustBash(
        // A volatile overlay of the base: apt writes land in tmpfs and vanish.
        `systemd-nspawn -q -D "$BASE" --volatile=overlay --register=no --keep-unit --resolv-conf=copy-host ` +
          `--bind="$OUT":/out /bin/bash -euo pipefail -c "$SCRIPT" download ${REPO_PACKAGES.join(' ')} > "$OUT/download.log" 2>&1 ` +
          `|| { tail -20 "$OUT/download.log" >&2; exit 1; }`,
        { env: { ...process.env, BASE: baseRoot, OUT: tmp, SCRIPT: downloadScript(release) } },
      );
      await indexRepo(join(tmp, 'repo'), release);
    },
    log,
  );
  return { repoDir: join(dir, 'repo'), artifactsDir: join(dir, 'artifacts'), key: dir };
}

/** Packages, Packages.gz and a Release file with their hashes (apt refuses a repo without one). */
async function indexRepo(repo: string, suite: Release): Promise<void> {
  await mustBash('cd "$REPO" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null > Packages && gzip -9nk Packages', {
    env: { ...process.env, REPO: repo },
  });
  const lines = ['Origin: panel-testbed', 'Label: panel-testbed', `Suite: ${suite}`, 'Codename: panel-testbed',
    `Date: ${new Date().toUTCString()}`, 'Architectures: amd64 all', 'SHA256:'];
  for (const f of ['Packages', 'Packages.gz']) {
    const data = await readFile(join(repo, f));
    lines.push(` ${createHash('sha256').update(data).digest('hex')} ${data.length} ${f}`);
  }
  await writeFile(join(repo, 'Release'), `${lines.join('\n')}\n`);
  const debs = (await readdir(repo)).filter((f) => f.endsWith('.deb'));
  if (debs.length < REPO_PACKAGES.length) throw new Error(`apt repo has only ${debs.length} packages`);
}
