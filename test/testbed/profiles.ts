/**
 * Host profiles: hosts that differ from the bare Debian base the way real
 * servers do. A profile is one overlay layer on top of a release's base, built
 * once (apt in an overlay of the base, with Debian's own packages of the same
 * programs) and cached by recipe hash; a host of that profile mounts
 * `lowerdir=<layer>:<base>`, so booting stays as fast as for a plain host.
 *
 * - `plain`: the base as it is (the default).
 * - `cloud-like`: what Ubuntu 22.04/24.04 cloud images have and the base lacks:
 *   ufw active with default deny incoming (ssh, http and https allowed, as on
 *   any host serving a site behind ufw), systemd-resolved with the
 *   127.0.0.53 stub in /etc/resolv.conf and upstream servers (the bed's bridge
 *   address) in /run/systemd/resolve/resolv.conf, needrestart set to ask as on
 *   Ubuntu 22.04, no kmod (no modprobe), and the dpkg lock held for a while after
 *   every boot, as unattended-upgrades does on a fresh cloud host.
 * - `ubuntu-26.04-like` (Debian 13 only): Ubuntu 26.04's two changes to what every
 *   script runs: the uutils coreutils (`rust-coreutils`) in place of every GNU
 *   coreutils command they both have, and sudo-rs as `sudo`.
 */
import { join } from 'node:path';
import { cached } from './cache.js';
import type { Release } from './base.js';
import { mustBash, run } from './run.js';

export const PROFILES = ['plain', 'cloud-like', 'ubuntu-26.04-like'] as const;
export type Profile = (typeof PROFILES)[number];

/** How long the cloud-like boot lock holds the dpkg lock after boot. */
export const BOOT_LOCK_SECONDS = 15;

interface LayerRecipe {
  /** Debian releases the layer is built for. */
  releases: readonly Release[];
  /** Runs in the layer's overlay (apt reaches Debian's mirror); part of the recipe hash. */
  script: string;
  /** Runs afterwards without network (firewall rules must not touch the runner). */
  offlineScript?: string;
}

const APT_PREAMBLE = String.raw`
export DEBIAN_FRONTEND=noninteractive
cat > /etc/apt/sources.list <<SRC
deb http://deb.debian.org/debian $SUITE main
deb http://deb.debian.org/debian $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SRC
apt-get update -qq
`;

const APT_CLEANUP = String.raw`
: > /etc/apt/sources.list
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
`;

/** Stand-in for unattended-upgrades at first boot: dpkg's locks taken with fcntl as apt and dpkg take them. */
export const HOLD_DPKG_LOCK = String.raw`#!/usr/bin/perl
# panel testbed (cloud-like profile): holds the dpkg locks for a while after boot,
# as unattended-upgrades or cloud-init do on a fresh cloud host. apt and dpkg use
# fcntl record locks, so flock(1) would not do.
use strict;
use warnings;
use Fcntl qw(O_RDWR O_CREAT F_SETLKW F_WRLCK SEEK_SET);
my $seconds = shift // 15;
my @held;
for my $f ('/var/lib/dpkg/lock-frontend', '/var/lib/dpkg/lock') {
    sysopen(my $fh, $f, O_RDWR | O_CREAT, 0640) or die "open $f: $!\n";
    # struct flock on x86_64: short l_type, short l_whence, off_t l_start, off_t l_len, pid_t l_pid
    my $lock = pack('s s x4 q q l x4', F_WRLCK, SEEK_SET, 0, 0, 0);
    fcntl($fh, F_SETLKW, $lock) or die "lock $f: $!\n";
    push @held, $fh;
}
$| = 1;
print "holding the dpkg lock for $seconds s\n";
sleep $seconds;
`;

const CLOUD_LIKE: LayerRecipe = {
  releases: ['bookworm', 'trixie'],
  script: String.raw`
${APT_PREAMBLE}
apt-get install -y -qq --no-install-recommends ufw systemd-resolved needrestart > /dev/null
# Cloud images and minimal images come without kmod: no modprobe, no depmod.
apt-get purge -y -qq kmod > /dev/null
test ! -e /usr/sbin/modprobe && test ! -e /sbin/modprobe
${APT_CLEANUP}
# systemd-resolved: the stub in /etc/resolv.conf, as on Ubuntu. The upstream
# servers (for /run/systemd/resolve/resolv.conf) are written per host at boot.
ln -sfn ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf
systemctl enable systemd-resolved.service > /dev/null 2>&1
# needrestart asks which services to restart, as on Ubuntu 22.04 (Debian's default
# is the same; spelled out so a Debian change cannot silently make it quiet).
mkdir -p /etc/needrestart/conf.d
cat > /etc/needrestart/conf.d/panel-testbed.conf <<'CONF'
# panel testbed (cloud-like profile): interactive, as on Ubuntu 22.04+.
$nrconf{restart} = 'i';
CONF
# The boot lock.
mkdir -p /usr/local/lib/panel-testbed
cat > /usr/local/lib/panel-testbed/hold-dpkg-lock <<'PERL'
${HOLD_DPKG_LOCK}PERL
chmod 0755 /usr/local/lib/panel-testbed/hold-dpkg-lock
cat > /etc/systemd/system/panel-testbed-boot-lock.service <<UNIT
[Unit]
Description=panel testbed: dpkg lock held after boot (stand-in for unattended-upgrades)
DefaultDependencies=no
After=local-fs.target
Before=ssh.service

[Service]
Type=simple
ExecStart=/usr/local/lib/panel-testbed/hold-dpkg-lock ${BOOT_LOCK_SECONDS}

[Install]
WantedBy=multi-user.target
UNIT
systemctl enable panel-testbed-boot-lock.service > /dev/null 2>&1
`,
  // ufw writes its rules and ENABLED=yes; ufw.service loads them at every boot.
  // 80 and 443 are the user's to open (ACME HTTP-01 and the site need them):
  // panel only warns when they are not.
  offlineScript: String.raw`
ufw allow 22/tcp > /dev/null
ufw allow 80,443/tcp > /dev/null
ufw --force enable > /dev/null
grep -qx 'ENABLED=yes' /etc/ufw/ufw.conf
grep -qx 'DEFAULT_INPUT_POLICY="DROP"' /etc/default/ufw
`,
};

const UBUNTU_2604_LIKE: LayerRecipe = {
  releases: ['trixie'],
  script: String.raw`
${APT_PREAMBLE}
apt-get install -y -qq --no-install-recommends rust-coreutils sudo-rs > /dev/null
${APT_CLEANUP}
# Every GNU coreutils command that uutils also has becomes uutils, as on Ubuntu
# 26.04: GNU's file is diverted (kept as NAME.gnu) and NAME points at uutils'
# multicall binary. The loop uses only bash builtins and absolute paths, since
# the commands it replaces disappear one by one.
uu=/usr/lib/cargo/bin/coreutils
replaced=0
while IFS= read -r path; do
  name=$(/usr/bin/coreutils basename "$path")
  case "$path" in /bin/*|/usr/bin/*|/sbin/*|/usr/sbin/*) ;; *) continue ;; esac
  [[ -e "$uu/$name" && ! -d "$path" ]] || continue
  dpkg-divert --quiet --local --rename --divert "$path.gnu" --add "$path"
  /usr/bin/coreutils ln -s "$uu/$name" "$path"
  replaced=$((replaced + 1))
done < <(dpkg-query -L coreutils)
echo "uutils replaced $replaced GNU coreutils commands"
[[ $replaced -gt 90 ]]
# sudo-rs as sudo: GNU sudo stays installed (its /etc/sudoers and PAM service
# are what sudo-rs reads), its binary diverted.
dpkg-divert --quiet --local --rename --divert /usr/bin/sudo.gnu --add /usr/bin/sudo
/usr/bin/coreutils ln -s /usr/lib/cargo/bin/sudo /usr/bin/sudo
`,
};

const LAYERS: Record<Exclude<Profile, 'plain'>, LayerRecipe> = {
  'cloud-like': CLOUD_LIKE,
  'ubuntu-26.04-like': UBUNTU_2604_LIKE,
};

/** The release a profile runs on when none is given, and whether it can run on one. */
export function releasesOf(profile: Profile): readonly Release[] {
  return profile === 'plain' ? ['bookworm', 'trixie'] : LAYERS[profile].releases;
}

/**
 * The overlay lower dirs of a host: `<layer>:<base>` for a profile, `<base>` for
 * plain. Builds the layer on first use (a minute or two; cached afterwards).
 */
export async function ensureProfile(
  profile: Profile,
  release: Release,
  baseRoot: string,
  log?: (m: string) => void,
): Promise<string> {
  if (profile === 'plain') return baseRoot;
  const recipe = LAYERS[profile];
  if (!recipe.releases.includes(release)) {
    throw new Error(`profile ${profile} runs on ${recipe.releases.join(' or ')}, not ${release}`);
  }
  const dir = await cached(
    `profile-${profile}-${release}`,
    JSON.stringify({ v: 1, ...recipe, baseRoot }),
    async (tmp) => {
      const layer = join(tmp, 'layer');
      const work = join(tmp, 'work');
      const root = join(tmp, 'root');
      const env = { ...process.env, LAYER: layer, WORK: work, ROOT: root, BASE: baseRoot, SUITE: release };
      await mustBash('mkdir -p "$LAYER" "$WORK" "$ROOT" && mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$LAYER,workdir=$WORK" "$ROOT"', { env });
      try {
        const nspawn = (extra: string, script: string, logName: string): Promise<string> =>
          mustBash(
            `systemd-nspawn -q -D "$ROOT" --register=no --keep-unit ${extra} --setenv=SUITE="$SUITE" ` +
              `/bin/bash -euo pipefail -c "$SCRIPT" > "$LOGF" 2>&1 || { tail -30 "$LOGF" >&2; exit 1; }`,
            { env: { ...env, SCRIPT: script, LOGF: join(tmp, logName) } },
          );
        await nspawn('--resolv-conf=copy-host', recipe.script, 'build.log');
        if (recipe.offlineScript) await nspawn('--private-network --resolv-conf=off', recipe.offlineScript, 'offline.log');
      } finally {
        const r = await run(['umount', root]);
        if (r.code !== 0) await run(['umount', '-l', root]);
      }
      await mustBash('rm -rf "$WORK" && rmdir "$ROOT"', { env });
    },
    log,
  );
  return `${join(dir, 'layer')}:${baseRoot}`;
}

/** Files a profile needs per host, written into its upper layer before boot. */
export function profileHostFiles(profile: Profile, ctx: { bridgeAddress: string }): Record<string, string> {
  if (profile !== 'cloud-like') return {};
  return {
    // Upstream servers behind the stub; hosts have no DNS server, so the bed's
    // bridge address stands for the provider's resolver.
    'etc/systemd/resolved.conf.d/panel-testbed.conf': `# panel testbed (cloud-like profile)\n[Resolve]\nDNS=${ctx.bridgeAddress}\n`,
  };
}
