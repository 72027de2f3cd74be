/**
 * The artifact mirror, laid out like the upstream release URLs so panel's
 * `--mirror` replaces `https://github.com` exactly as in production:
 *   containerd/containerd/releases/download/v1.7.34/containerd-1.7.34-linux-amd64.tar.gz
 *   containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz (same bytes: the upgrade test's "before")
 *   containernetworking/plugins/releases/download/v1.9.1/cni-plugins-linux-amd64-v1.9.1.tgz (+ README.md, LICENSE, as v1.x has)
 *   containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-amd64-v0.9.1.tgz
 *   openfaas/faasd/releases/download/0.19.7/faasd            (a STAND-IN, see faasd-standin/main.ts)
 *   openfaas/faas-cli/releases/download/0.17.8/faas-cli      (a STAND-IN shell script)
 *   coder/code-server/releases/download/v4.139.1/code-server-4.139.1-linux-amd64.tar.gz
 *                                                            (a STAND-IN, see code-server-standin.c)
 * containerd and CNI tarballs repackage Debian's real binaries (Debian's versions,
 * upstream's names and layout): both CNI names carry the same Debian plugins.
 *
 * NOT here, on purpose: containerd 2.3 (`--set containerd.version=2.3.4`) and runc 1.4. Debian
 * bookworm and trixie package containerd 1.6.20 / 1.7.24 and runc 1.1.5 / 1.1.15
 * only; serving those under 2.3.4's name would pass tests of code paths
 * (config version 3, the 2.x unit, runc from its release) that never met 2.3.
 * So the testbed's containerd is the 1.7 line, panel's default (which is why
 * the default stays 1.7 until 2.3 can run on a test host).
 *
 * Beside each artifact, the checksum asset its upstream release publishes, in
 * upstream's exact format (panel verifies unpinned artifacts against it):
 *   containerd-….tar.gz.sha256sum  `<hex>  containerd-….tar.gz`   (containerd's make release)
 *   cni-plugins-….tgz.sha256       `<hex>  cni-plugins-….tgz`     (CNI scripts/release.sh)
 *   faasd.sha256                   `<hex>  bin/faasd`             (faasd's make hashgen, bin/ included)
 *   faas-cli.sha256                `<hex>  faas-cli`              (faas-cli's ci/hashgen.sh)
 *
 * SHA256SUMS lists every artifact in sha256sum format (a `--checksums` file).
 * STANDIN-SHA256SUMS lists only containerd and CNI: their bytes are Debian's
 * build, not upstream's release, so the sums pinned in panel for those versions
 * cannot match; a user whose mirror carries its own builds passes --checksums
 * for them exactly like this. faasd and faas-cli have no pinned sum, so they
 * take the release-asset path that real installs take.
 *
 * Each bed serves its own copy of the tree (bedMirrorDir): checksum files are
 * the bed's own, so a test can publish a different sum without touching other
 * beds; binaries are hard links into the shared cache (replace them by rename,
 * never write into them).
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import { buildFaasdStandin, faasdStandinRecipe } from './faasd-standin/build.js';
import type { PackagesCache } from './packages.js';
import { mustBash } from './run.js';

/** The containerd line the testbed can serve (Debian's binaries): 1.7, panel's default; not 2.3 (see above). */
export const CONTAINERD_VERSION = '1.7.34';
/** A host "already running 1.7.27" for the in-place upgrade test: the same Debian bytes under the old name. */
export const CONTAINERD_PREVIOUS = '1.7.27';
export const CNI_VERSION = 'v1.9.1';
export const CNI_PREVIOUS = 'v0.9.1';
export const FAASD_VERSION = '0.19.7';
export const FAAS_CLI_VERSION = '0.17.8';
export const CODE_SERVER_VERSION = '4.139.1';
export const ARCH = 'amd64';

export const ARTIFACT_PATHS = {
  containerd: `containerd/containerd/releases/download/v${CONTAINERD_VERSION}/containerd-${CONTAINERD_VERSION}-linux-${ARCH}.tar.gz`,
  containerdPrevious: `containerd/containerd/releases/download/v${CONTAINERD_PREVIOUS}/containerd-${CONTAINERD_PREVIOUS}-linux-${ARCH}.tar.gz`,
  cni: `containernetworking/plugins/releases/download/${CNI_VERSION}/cni-plugins-linux-${ARCH}-${CNI_VERSION}.tgz`,
  cniPrevious: `containernetworking/plugins/releases/download/${CNI_PREVIOUS}/cni-plugins-linux-${ARCH}-${CNI_PREVIOUS}.tgz`,
  faasd: `openfaas/faasd/releases/download/${FAASD_VERSION}/faasd`,
  faasCli: `openfaas/faas-cli/releases/download/${FAAS_CLI_VERSION}/faas-cli`,
  codeServer: `coder/code-server/releases/download/v${CODE_SERVER_VERSION}/code-server-${CODE_SERVER_VERSION}-linux-${ARCH}.tar.gz`,
} as const;

/** Each artifact's checksum asset, as its upstream release names it. */
export const CHECKSUM_ASSETS = {
  containerd: `${ARTIFACT_PATHS.containerd}.sha256sum`,
  containerdPrevious: `${ARTIFACT_PATHS.containerdPrevious}.sha256sum`,
  cni: `${ARTIFACT_PATHS.cni}.sha256`,
  cniPrevious: `${ARTIFACT_PATHS.cniPrevious}.sha256`,
  faasd: `openfaas/faasd/releases/download/${FAASD_VERSION}/faasd.sha256`,
  faasCli: `openfaas/faas-cli/releases/download/${FAAS_CLI_VERSION}/faas-cli.sha256`,
} as const;

/** The checkout (the nearest directory with a package.json); tsc does not copy .c files to dist/. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('testbed: cannot find package.json');
    dir = up;
  }
  return dir;
})();
const CODE_SERVER_SOURCE = join(packageRoot, 'test', 'testbed', 'code-server-standin.c');
/** Included by every stand-in program: part of each cache recipe that compiles one. */
export const STANDIN_HEADER = join(packageRoot, 'test', 'testbed', 'standin-http.h');

const README = `# panel testbed artifact mirror

Laid out like the upstream release URLs (the part after https://github.com/).
For tests only:

- ${ARTIFACT_PATHS.containerd}
- ${ARTIFACT_PATHS.containerdPrevious}
  Debian's containerd binaries (Debian's version, not ${CONTAINERD_VERSION} or ${CONTAINERD_PREVIOUS}) in upstream's tarball layout (bin/…).
  No containerd 2.x and no runc release: Debian has neither.
- ${ARTIFACT_PATHS.cni}
  Debian's containernetworking-plugins binaries (Debian's version, not ${CNI_VERSION}) in upstream's flat
  tarball layout, with a README.md and LICENSE beside them as upstream's v1.x tarballs have.
- ${ARTIFACT_PATHS.cniPrevious}
  The same Debian plugins, without README.md and LICENSE (v0.x layout).
- ${ARTIFACT_PATHS.faasd}
  A STAND-IN for faasd, not the real faasd (the real binary cannot be fetched
  here): a Node single executable (test/testbed/faasd-standin/main.ts) that, like
  faasd, runs docker-compose.yaml's services as containerd tasks (faasd up), the
  provider on :8081 that runs functions as tasks (faasd provider) and the task
  log driver (faasd collect). \`faasd version\` says "stand-in".
- ${ARTIFACT_PATHS.faasCli}
  A STAND-IN for faas-cli: a shell script that only answers \`version\`.
- ${ARTIFACT_PATHS.codeServer}
  A STAND-IN for code-server in its release tarball layout and size class
  (code-server-${CODE_SERVER_VERSION}-linux-${ARCH}/: bin/code-server, a shell script running the bundled
  runtime lib/node, here a small static program answering HTTP and a WebSocket echo, checking
  Origin against Host as code-server does; ~2*10^4 files under lib/vscode with empty directories,
  symlinks and executable scripts).
  Like upstream, no sum is published for it (no checksum asset, not in SHA256SUMS).

Beside each, the release's checksum asset in upstream's exact format:
${Object.values(CHECKSUM_ASSETS).map((p) => `- ${p}`).join('\n')}

SHA256SUMS: every artifact, sha256sum format, paths relative to this mirror's root.
STANDIN-SHA256SUMS: only the Debian-built containerd and CNI tarballs (their
bytes are not upstream's, so panel's pinned sums for these versions do not match).
`;

const BUILD = String.raw`
x() { mkdir -p "$WORK/$1" && dpkg-deb -x "$2" "$WORK/$1"; }
x containerd "$ART"/containerd_*.deb
x cni "$ART"/containernetworking-plugins_*.deb
TARFLAGS="--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner"
mkdir -p "$WORK/ctd/bin" "$(dirname "$OUT/$P_CONTAINERD")" "$(dirname "$OUT/$P_CONTAINERD_PREV")" "$(dirname "$OUT/$P_CNI")" "$(dirname "$OUT/$P_CNI_PREV")" "$(dirname "$OUT/$P_FAASD")"
cp -a "$WORK"/containerd/usr/bin/* "$WORK/ctd/bin/"
tar -C "$WORK/ctd" $TARFLAGS -cf - bin | gzip -9n > "$OUT/$P_CONTAINERD"
cp "$OUT/$P_CONTAINERD" "$OUT/$P_CONTAINERD_PREV"
tar -C "$WORK/cni/usr/lib/cni" $TARFLAGS -cf - . | gzip -9n > "$OUT/$P_CNI_PREV"
# v1.x: release.yaml copies README.md and LICENSE into the directory it tars.
printf '# CNI plugins (panel testbed: the Debian build, not upstream)\n' > "$WORK/cni/usr/lib/cni/README.md"
cp "$WORK/cni/usr/share/doc/containernetworking-plugins/copyright" "$WORK/cni/usr/lib/cni/LICENSE"
tar -C "$WORK/cni/usr/lib/cni" $TARFLAGS -cf - . | gzip -9n > "$OUT/$P_CNI"
cp "$FAASD_BIN" "$OUT/$P_FAASD"
# code-server's release layout and size class: bin/code-server is a shell
# script that runs the bundled runtime lib/node (here the stand-in program);
# beside them ~2*10^4 files of lib/vscode, with empty directories, symlinks
# (node_modules/.bin) and executable scripts, as the real tarball has.
CS="code-server-$CS_VERSION-linux-amd64"
R="$WORK/cs/$CS"
mkdir -p "$R/bin" "$R/lib" "$R/out/node" "$(dirname "$OUT/$P_CODE_SERVER")"
gcc -static -O2 -Wall -Werror -o "$R/lib/node" "$CS_SRC"
strip "$R/lib/node"
cat > "$R/bin/code-server" <<'EOF_CS'
#!/bin/sh
# code-server STAND-IN launcher, shaped like upstream's: run the bundled runtime.
set -eu
ROOT="$(dirname "$(dirname "$(readlink -f "$0")")")"
exec "$ROOT/lib/node" "$ROOT" "$@"
EOF_CS
chmod 0755 "$R/bin/code-server"
printf '{"name":"code-server","version":"%s"}\n' "$CS_VERSION" > "$R/package.json"
printf '// stand-in\n' > "$R/out/node/entry.js"
printf '#!/bin/sh\nexit 0\n' > "$R/postinstall.sh" && chmod 0755 "$R/postinstall.sh"
NM="$R/lib/vscode/node_modules"
mkdir -p "$NM/.bin"
for p in $(seq -w 1 1000); do
  d="$NM/pkg-$p"
  mkdir -p "$d/lib/sub" "$d/bin" "$d/types"
  for f in a b c d e f g h i j k l m n o p; do printf 'module.exports = "%s%s";\n' "$p" "$f" > "$d/lib/sub/$f.js"; done
  printf '{"name":"pkg-%s","version":"1.0.0"}\n' "$p" > "$d/package.json"
  printf 'export {};\n' > "$d/types/index.d.ts"
  printf '#!/usr/bin/env node\n' > "$d/bin/cli.js" && chmod 0755 "$d/bin/cli.js"
  ln -s "../pkg-$p/bin/cli.js" "$NM/.bin/pkg-$p"
  case $p in *0) mkdir -p "$d/.cache/empty" ;; esac
done
mkdir -p "$R/lib/vscode/extensions/empty-ext/media" "$R/lib/vscode/out/vs/code/electron-tmp"
tar -C "$WORK/cs" $TARFLAGS -cf - "$CS" | gzip -9n > "$OUT/$P_CODE_SERVER"
mkdir -p "$(dirname "$OUT/$P_FAAS_CLI")"
cat > "$OUT/$P_FAAS_CLI" <<EOF_CLI
#!/bin/sh
# faas-cli STAND-IN (panel testbed): not the real faas-cli.
case "\$1" in version) echo "$FAAS_CLI_VERSION" ;; *) echo "faas-cli stand-in: only 'version'" >&2; exit 1 ;; esac
EOF_CLI
chmod 0755 "$OUT/$P_FAAS_CLI"
# Checksum assets exactly as upstream's release scripts write them (sha256sum
# prints the same "<hex>  <name>" line as the shasum -a 256 some of them use).
for p in "$P_CONTAINERD" "$P_CONTAINERD_PREV"; do (cd "$(dirname "$OUT/$p")" && sha256sum "$(basename "$p")" > "$(basename "$p").sha256sum"); done
for p in "$P_CNI" "$P_CNI_PREV"; do (cd "$(dirname "$OUT/$p")" && sha256sum "$(basename "$p")" > "$(basename "$p").sha256"); done
# faasd: make hashgen hashes bin/faasd from the checkout, so the line says bin/faasd.
(cd "$(dirname "$OUT/$P_FAASD")" && mkdir bin && cp faasd bin/ && sha256sum bin/faasd > faasd.sha256 && rm -r bin)
# faas-cli: ci/hashgen.sh runs inside bin/.
(cd "$(dirname "$OUT/$P_FAAS_CLI")" && sha256sum faas-cli > faas-cli.sha256)
(cd "$OUT" && sha256sum "$P_CONTAINERD" "$P_CONTAINERD_PREV" "$P_CNI" "$P_CNI_PREV" "$P_FAASD" "$P_FAAS_CLI" > SHA256SUMS)
(cd "$OUT" && sha256sum "$P_CONTAINERD" "$P_CONTAINERD_PREV" "$P_CNI" "$P_CNI_PREV" > STANDIN-SHA256SUMS)
rm -rf "$WORK"
`;

export interface MirrorCache {
  root: string;
  checksumsFile: string;
}

export async function ensureMirror(pkgs: PackagesCache, log?: (m: string) => void): Promise<MirrorCache> {
  const source = await faasdStandinRecipe();
  const codeServerSource = await readFile(CODE_SERVER_SOURCE, 'utf8');
  const header = await readFile(STANDIN_HEADER, 'utf8');
  // Named apart from the earlier 'mirror' cache (no checksum assets): the
  // cache removes older builds of the same name, which beds of older checkouts
  // may still be serving.
  const dir = await cached(
    'release-mirror',
    JSON.stringify({ v: 4, ARTIFACT_PATHS, README, BUILD, source, codeServerSource, header, pkgs: pkgs.key }),
    async (tmp) => {
      const out = join(tmp, 'root');
      const faasdBin = join(tmp, 'faasd-standin');
      await buildFaasdStandin(faasdBin, join(tmp, 'faasd-work'));
      await mustBash(BUILD, {
        env: {
          ...process.env,
          OUT: out,
          WORK: join(tmp, 'work'),
          ART: pkgs.artifactsDir,
          FAASD_BIN: faasdBin,
          P_CONTAINERD: ARTIFACT_PATHS.containerd,
          P_CONTAINERD_PREV: ARTIFACT_PATHS.containerdPrevious,
          P_CNI: ARTIFACT_PATHS.cni,
          P_CNI_PREV: ARTIFACT_PATHS.cniPrevious,
          P_FAASD: ARTIFACT_PATHS.faasd,
          P_FAAS_CLI: ARTIFACT_PATHS.faasCli,
          FAAS_CLI_VERSION,
          P_CODE_SERVER: ARTIFACT_PATHS.codeServer,
          CS_SRC: CODE_SERVER_SOURCE,
          CS_VERSION: CODE_SERVER_VERSION,
        },
      });
      await writeFile(join(out, 'README.md'), README);
    },
    log,
  );
  return { root: join(dir, 'root'), checksumsFile: join(dir, 'root', 'SHA256SUMS') };
}

/** The `--checksums` file for the Debian-built containerd and CNI stand-ins only (beside SHA256SUMS). */
export function standInChecksumsFile(checksumsFile: string): string {
  return join(dirname(checksumsFile), 'STANDIN-SHA256SUMS');
}

/** The directory a bed's mirror serves (its own copy, see the top of this file). */
export function bedMirrorDir(runDir: string): string {
  return join(runDir, 'mirror');
}

/** Make the bed's copy of the mirror: hard links to the cache, its own checksum files. */
export async function bedMirror(cache: MirrorCache, runDir: string): Promise<MirrorCache> {
  const dir = bedMirrorDir(runDir);
  await rm(dir, { recursive: true, force: true });
  await mustBash(
    String.raw`cp -a --link "$SRC" "$DIR" 2>/dev/null || { rm -rf "$DIR"; cp -a "$SRC" "$DIR"; }
find "$DIR" -type f \( -name '*.sha256' -o -name '*.sha256sum' -o -name '*SHA256SUMS' \) -exec sh -c 'cp "$1" "$1.own" && mv -f "$1.own" "$1"' _ {} \;`,
    { env: { ...process.env, SRC: cache.root, DIR: dir } },
  );
  return { root: dir, checksumsFile: join(dir, 'SHA256SUMS') };
}

/** Where scripts/install.sh fetches panel's own release from (its RELEASE_PATH), below the mirror root. */
export const PANEL_RELEASE_PATH = 'panel-sh/panel/releases/latest/download';

/**
 * Serve panel's single executables, install.sh and SHA256SUMS (the output of
 * `npm run build:binary`, dist/release/) from a bed's mirror, where install.sh
 * looks for them with --mirror. Executables are hard links (never written
 * into); the small files are the bed's own copies.
 */
export async function publishPanelRelease(mirrorDir: string, releaseDir: string): Promise<void> {
  await mustBash(
    String.raw`mkdir -p "$DEST"
for f in "$SRC"/panel-linux-*; do ln -f "$f" "$DEST/" 2>/dev/null || cp "$f" "$DEST/"; done
cp "$SRC/install.sh" "$SRC/SHA256SUMS" "$DEST/"`,
    { env: { ...process.env, SRC: releaseDir, DEST: join(mirrorDir, PANEL_RELEASE_PATH) } },
  );
}
