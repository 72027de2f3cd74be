/**
 * The base image: "a bare server" — Debian with systemd, sshd, sudo and the
 * basic tools, but none of what panel's recipes install (curl, nginx, runc,
 * iptables, bridge-utils come from the local apt repo). Built once per Debian
 * release with debootstrap and shared read-only by every host through overlayfs.
 */
import { join } from 'node:path';
import { cached } from './cache.js';
import { mustBash } from './run.js';

/** Debian releases a host can run: 12 (bookworm, the default) and 13 (trixie). */
export const RELEASES = ['bookworm', 'trixie'] as const;
export type Release = (typeof RELEASES)[number];
export const DEFAULT_RELEASE: Release = 'bookworm';
export const RELEASE_VERSION: Record<Release, string> = { bookworm: '12', trixie: '13' };

/** The default release's suite (kept for the recipe hash of the bookworm caches). */
export const SUITE = DEFAULT_RELEASE;
export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'ca-certificates',
  'sudo',
  'kmod',
  'procps',
] as const;

/** Users every host has besides root; all accept the bed's key. */
export const TEST_USERS = ['root', 'deploy', 'nosudo'] as const;
export type TestUser = (typeof TEST_USERS)[number];

/** Runs on the runner after debootstrap, with $ROOT set; part of the recipe hash. */
const CUSTOMIZE = String.raw`
# Each host gets its own host key at boot time (per bed), so the base has none.
rm -f "$ROOT"/etc/ssh/ssh_host_*
cat > "$ROOT/etc/ssh/sshd_config.d/panel-testbed.conf" <<'CONF'
# panel testbed: one ed25519 host key written per host; key login only.
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
CONF
chroot "$ROOT" useradd --create-home --shell /bin/bash deploy
chroot "$ROOT" useradd --create-home --shell /bin/bash nosudo
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > "$ROOT/etc/sudoers.d/deploy"
chmod 0440 "$ROOT/etc/sudoers.d/deploy"
# Identity and apt sources are written per host; nothing from the runner leaks in.
rm -f "$ROOT/etc/hostname"
: > "$ROOT/etc/machine-id"
printf '# panel testbed: hosts have no DNS server\n' > "$ROOT/etc/resolv.conf"
: > "$ROOT/etc/apt/sources.list"
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb
printf 'Acquire::Languages "none";\n' > "$ROOT/etc/apt/apt.conf.d/99panel-testbed"
`;

/**
 * The recipe of one release's base. Bookworm's spelling is unchanged from before
 * releases existed, so its cache (and the caches keyed on it) stay valid.
 */
function recipeOf(suite: Release): string {
  return JSON.stringify({ v: 1, SUITE: suite, DEBIAN_MIRROR, BASE_PACKAGES, CUSTOMIZE });
}

/**
 * Cache names per release. They must not be a prefix of one another: the cache
 * drops other versions of a name by prefix (`base-…`).
 */
export function cacheNameOf(what: 'base' | 'packages', release: Release): string {
  return release === DEFAULT_RELEASE ? what : `${release}-${what}`;
}

/** Path of the cached base root of a release (built on first use, ~1 min). */
export async function ensureBase(log?: (m: string) => void, release: Release = DEFAULT_RELEASE): Promise<string> {
  const dir = await cached(
    cacheNameOf('base', release),
    recipeOf(release),
    async (tmp) => {
      const root = join(tmp, 'root');
      await mustBash(
        `debootstrap --variant=minbase --include=${BASE_PACKAGES.join(',')} ${release} "$ROOT" ${DEBIAN_MIRROR} > "$LOG" 2>&1 || { tail -20 "$LOG" >&2; exit 1; }\n${CUSTOMIZE}`,
        { env: { ...process.env, ROOT: root, LOG: join(tmp, 'debootstrap.log') } },
      );
    },
    log,
  );
  return join(dir, 'root');
}
