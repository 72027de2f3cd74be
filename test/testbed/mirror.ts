/**
 * The artifact mirror, laid out like the upstream release URLs so panel's
 * `--mirror` replaces `https://github.com` exactly as in production:
 *   containerd/containerd/releases/download/v1.7.27/containerd-1.7.27-linux-amd64.tar.gz
 *   containernetworking/plugins/releases/download/v0.9.1/cni-plugins-linux-amd64-v0.9.1.tgz
 *   openfaas/faasd/releases/download/0.19.7/faasd            (a STAND-IN, see faasd-standin.c)
 *   coder/code-server/releases/download/v4.96.4/code-server-4.96.4-linux-amd64.tar.gz
 *                                                            (a STAND-IN, see code-server-standin.c)
 * containerd and CNI tarballs repackage Debian's real binaries (Debian's versions,
 * upstream's names and layout). SHA256SUMS lists every file in sha256sum format.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cached } from './cache.js';
import type { PackagesCache } from './packages.js';
import { mustBash } from './run.js';

export const CONTAINERD_VERSION = '1.7.27';
export const CNI_VERSION = 'v0.9.1';
export const FAASD_VERSION = '0.19.7';
export const CODE_SERVER_VERSION = '4.96.4';
export const ARCH = 'amd64';

export const ARTIFACT_PATHS = {
  containerd: `containerd/containerd/releases/download/v${CONTAINERD_VERSION}/containerd-${CONTAINERD_VERSION}-linux-${ARCH}.tar.gz`,
  cni: `containernetworking/plugins/releases/download/${CNI_VERSION}/cni-plugins-linux-${ARCH}-${CNI_VERSION}.tgz`,
  faasd: `openfaas/faasd/releases/download/${FAASD_VERSION}/faasd`,
  codeServer: `coder/code-server/releases/download/v${CODE_SERVER_VERSION}/code-server-${CODE_SERVER_VERSION}-linux-${ARCH}.tar.gz`,
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
const STANDIN_SOURCE = join(packageRoot, 'test', 'testbed', 'faasd-standin.c');
const CODE_SERVER_SOURCE = join(packageRoot, 'test', 'testbed', 'code-server-standin.c');

const README = `# panel testbed artifact mirror

Laid out like the upstream release URLs (the part after https://github.com/).
For tests only:

- ${ARTIFACT_PATHS.containerd}
  Debian's containerd binaries (Debian's version, not ${CONTAINERD_VERSION}) in upstream's tarball layout (bin/…).
- ${ARTIFACT_PATHS.cni}
  Debian's containernetworking-plugins binaries in upstream's flat tarball layout.
- ${ARTIFACT_PATHS.faasd}
  A STAND-IN for faasd, not the real faasd: a small static program that serves the
  gateway's :8080 (/healthz, /ui/, /system/functions, /function/<name>) and the
  provider's :8081, because the real binary and its images cannot be fetched here.
  \`faasd version\` says "stand-in".
- ${ARTIFACT_PATHS.codeServer}
  A STAND-IN for code-server in its release tarball layout
  (code-server-${CODE_SERVER_VERSION}-linux-${ARCH}/bin/code-server): a small static program answering
  HTTP and a WebSocket echo, checking Origin against Host as code-server does.
  Like upstream, no sum is published for it (not in SHA256SUMS).

SHA256SUMS: sha256sum format, paths relative to this mirror's root.
`;

const BUILD = String.raw`
x() { mkdir -p "$WORK/$1" && dpkg-deb -x "$2" "$WORK/$1"; }
x containerd "$ART"/containerd_*.deb
x cni "$ART"/containernetworking-plugins_*.deb
TARFLAGS="--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner"
mkdir -p "$WORK/ctd/bin" "$(dirname "$OUT/$P_CONTAINERD")" "$(dirname "$OUT/$P_CNI")" "$(dirname "$OUT/$P_FAASD")"
cp -a "$WORK"/containerd/usr/bin/* "$WORK/ctd/bin/"
tar -C "$WORK/ctd" $TARFLAGS -cf - bin | gzip -9n > "$OUT/$P_CONTAINERD"
tar -C "$WORK/cni/usr/lib/cni" $TARFLAGS -cf - . | gzip -9n > "$OUT/$P_CNI"
gcc -static -O2 -Wall -Werror -o "$OUT/$P_FAASD" "$SRC"
strip "$OUT/$P_FAASD"
CS="code-server-$CS_VERSION-linux-amd64"
mkdir -p "$WORK/cs/$CS/bin" "$(dirname "$OUT/$P_CODE_SERVER")"
gcc -static -O2 -Wall -Werror -o "$WORK/cs/$CS/bin/code-server" "$CS_SRC"
strip "$WORK/cs/$CS/bin/code-server"
tar -C "$WORK/cs" $TARFLAGS -cf - "$CS" | gzip -9n > "$OUT/$P_CODE_SERVER"
# Per-file checksum files as upstream publishes them.
(cd "$(dirname "$OUT/$P_CONTAINERD")" && sha256sum "$(basename "$P_CONTAINERD")" > "$(basename "$P_CONTAINERD").sha256sum")
(cd "$(dirname "$OUT/$P_CNI")" && sha256sum "$(basename "$P_CNI")" > "$(basename "$P_CNI").sha256")
(cd "$(dirname "$OUT/$P_FAASD")" && sha256sum faasd > faasd.sha256)
(cd "$OUT" && sha256sum "$P_CONTAINERD" "$P_CNI" "$P_FAASD" > SHA256SUMS)
rm -rf "$WORK"
`;

export interface MirrorCache {
  root: string;
  checksumsFile: string;
}

export async function ensureMirror(pkgs: PackagesCache, log?: (m: string) => void): Promise<MirrorCache> {
  const source = await readFile(STANDIN_SOURCE, 'utf8');
  const codeServerSource = await readFile(CODE_SERVER_SOURCE, 'utf8');
  const dir = await cached(
    'mirror',
    JSON.stringify({ v: 1, ARTIFACT_PATHS, README, BUILD, source, codeServerSource, pkgs: pkgs.key }),
    async (tmp) => {
      const out = join(tmp, 'root');
      await mustBash(BUILD, {
        env: {
          ...process.env,
          OUT: out,
          WORK: join(tmp, 'work'),
          ART: pkgs.artifactsDir,
          SRC: STANDIN_SOURCE,
          P_CONTAINERD: ARTIFACT_PATHS.containerd,
          P_CNI: ARTIFACT_PATHS.cni,
          P_FAASD: ARTIFACT_PATHS.faasd,
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
