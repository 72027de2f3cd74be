/**
 * The release artifacts panel installs, where upstream publishes them, and
 * the sha256 sums pinned in this repository.
 *
 * Paths are relative to `https://github.com` so that a mirror (`--mirror`)
 * only has to keep GitHub's layout, as panel.sh's MIRROR_PATH did.
 *
 * Provenance of each pinned sum is recorded next to it. A sum that could not
 * be confirmed from a published source is left out on purpose: panel then
 * verifies the artifact against the checksum asset its release publishes
 * beside it (`checksumAsset`, see ./release-asset.ts), unless `--checksums`
 * supplies the sum or `--require-pinned` refuses it.
 */
import type { Arch } from '../host-info.js';

export type ArtifactName = 'containerd' | 'runc' | 'cni-plugins' | 'faasd' | 'faas-cli' | 'code-server';

/**
 * The checksum file a release publishes beside the artifact, in upstream's
 * exact format: one line `<sha256>  <name>`, where `name` is what upstream's
 * release script passed to sha256sum/shasum (not always the asset's name).
 */
export interface ChecksumAsset {
  /** Asset file name for the artifact's file name, e.g. `faasd` → `faasd.sha256`. */
  asset(file: string): string;
  /** The name upstream's line carries for the artifact's file name, e.g. `faasd` → `bin/faasd`. */
  named(file: string): string;
  /** Where upstream writes it (shown when the line does not match). */
  readonly producer: string;
  /** The asset lists every file of the release, one line each (runc.sha256sum); the artifact's line is picked by name. */
  readonly manyLines?: boolean;
}

export interface ArtifactSpec {
  readonly title: string;
  readonly defaultVersion: string;
  /** Path below https://github.com for this version and architecture. */
  relPath(version: string, arch: Arch): string;
  /** Pinned sums: version → arch → sha256 (lower-case hex). */
  readonly pinned: Readonly<Record<string, Partial<Record<Arch, string>>>>;
  /** Absent: upstream publishes no sums (the sum comes from --checksums or --trust-artifact). */
  readonly checksumAsset?: ChecksumAsset;
}

export const ARTIFACTS: Readonly<Record<ArtifactName, ArtifactSpec>> = {
  containerd: {
    title: 'containerd release tarball',
    // The newest 1.7.x, not 2.3, until 2.3 has run under faasd on a test host.
    // containerd's RELEASES.md: 1.7 reached end of life in September 2026; 2.3 is
    // LTS until 2028-04-30 and 1.7 → 2.3 is a supported direct upgrade, and
    // faasd 0.19.7's 1.7 client should work with it (the GRPC API stays 1.x in 2.x;
    // faasd uses the default io.containerd.runc.v2). But 2.3 needs runc 1.4
    // (script/setup/runc-version: v1.4.3) and neither Debian release packages
    // containerd 2.x or runc ≥ 1.4, so no test host here can run it: a default no
    // test has run is what every user would run first. faasd's own installer still
    // pins the 1.7 line (1.7.27). `--set containerd.version=2.3.4` selects 2.3 with
    // upstream's 2.3 unit and runc from its release (unit-tested only).
    defaultVersion: '1.7.34',
    relPath: (v, arch) => `containerd/containerd/releases/download/v${v}/containerd-${v}-linux-${arch}.tar.gz`,
    // Makefile `release`: cd releases && sha256sum $(RELEASE).tar.gz > $(RELEASE).tar.gz.sha256sum
    checksumAsset: { asset: (f) => `${f}.sha256sum`, named: (f) => f, producer: "containerd's `make release`" },
    // 2.3.4 and 1.7.34: no copy of their sums found to pin; the release's
    // `<tarball>.sha256sum` is used (or --checksums).
    pinned: {
      // Source: vexxhost/ansible-collection-containers roles/containerd/defaults/main.yml,
      // generated from upstream's published `<tarball>.sha256sum` files.
      '1.7.27': {
        amd64: '5b038fb22ab5dbb1ce57dd3d8f102460cd8619ff2afc78870837b06e8c4e840a',
        arm64: '3f03ea60c7dacddf890be3ab18f7ef859d9d104b19627f52038d7984361912bc',
      },
    },
  },
  runc: {
    title: 'runc binary (OCI runtime, for containerd 2.x)',
    // The runc containerd v2.3.4 is tested with (script/setup/runc-version).
    defaultVersion: '1.4.3',
    relPath: (v, arch) => `opencontainers/runc/releases/download/v${v}/runc.${arch}`,
    // script/release_build.sh: cd $releasedir && sha256sum runc.amd64 runc.arm64 … runc.tar.xz > runc.sha256sum
    checksumAsset: { asset: () => 'runc.sha256sum', named: (f) => f, producer: "runc's script/release_build.sh", manyLines: true },
    // No two published copies of the 1.4.3 binaries' sums found: the release's runc.sha256sum is used (or --checksums).
    pinned: {},
  },
  'cni-plugins': {
    title: 'CNI plugins tarball',
    // v1.9.1 rather than faasd's v0.9.1 (2021, no longer maintained): for faasd's
    // conflist (cniVersion 0.4.0, still supported) bridge, host-local, firewall and
    // loopback behave the same — the ipMasq rules use the same CNI-<hash> chains and
    // comments, iptables stays the backend wherever iptables is installed (recipe
    // base installs it; nftables only when iptables is absent), firewall picks
    // firewalld or iptables as before, host-local keeps its dataDir layout.
    // `--set cni.version=0.9.1` keeps faasd's pin.
    defaultVersion: '1.9.1',
    relPath: (v, arch) => `containernetworking/plugins/releases/download/v${v}/cni-plugins-linux-${arch}-v${v}.tgz`,
    // scripts/release.sh (v0.9.1) and .github/workflows/release.yaml (v1.x), in the
    // release directory: sha256sum $f > $f.sha256 (also .sha512)
    checksumAsset: { asset: (f) => `${f}.sha256`, named: (f) => f, producer: "the CNI plugins' release script" },
    pinned: {
      // Sources agreeing on both sums (upstream's .tgz.sha256 as quoted in them): a k8s
      // offline-install artifact map, a Nomad CNI channel file, a firecracker-style
      // install script pinning CNI_SHA256_{amd64,arm64}; amd64 also in kubespray-style lists.
      '1.9.1': {
        amd64: 'b98f74a0f8522f0a83867178729c1aa70f2158f90c45a2ca8fa791db1c76b303',
        arm64: '56171987d3947707c3563db2f4001bccaf50fd63468611b9f3cbecb1375ee7ec',
      },
      // Sources agreeing on both sums: AUR cni-plugins-bin PKGBUILD, a Dockerfile
      // pinning CNI_PLUGINS_{AMD64,ARM64}_SHA256SUM, kops asset tests (amd64),
      // and upstream's `.tgz.sha256` quoted in a build script (amd64).
      '0.9.1': {
        amd64: '962100bbc4baeaaa5748cdbfce941f756b1531c2eadb290129401498bfac21e7',
        arm64: 'ef17764ffd6cdcb16d76401bac1db6acc050c9b088f1be5efa0e094ea3b01df0',
      },
    },
  },
  faasd: {
    title: 'faasd binary',
    defaultVersion: '0.19.7',
    relPath: (v, arch) => `openfaas/faasd/releases/download/${v}/faasd${arch === 'arm64' ? '-arm64' : ''}`,
    // Makefile `hashgen`: for f in bin/faasd*; do shasum -a 256 $f > $f.sha256; done
    // run from the checkout, so the line names `bin/faasd` (sha256sum -c fails on it).
    checksumAsset: { asset: (f) => `${f}.sha256`, named: (f) => `bin/${f}`, producer: "faasd's `make hashgen`" },
    // No copy of the 0.19.7 sums could be found to pin: the release's
    // faasd.sha256 / faasd-arm64.sha256 is used (or --checksums).
    pinned: {},
  },
  'faas-cli': {
    title: 'faas-cli binary',
    defaultVersion: '0.17.8',
    relPath: (v, arch) => `openfaas/faas-cli/releases/download/${v}/faas-cli${arch === 'arm64' ? '-arm64' : ''}`,
    // publish.yaml: cd bin && ../ci/hashgen.sh (for f in faas-cli*; do shasum -a 256 $f > $f.sha256; done)
    checksumAsset: { asset: (f) => `${f}.sha256`, named: (f) => f, producer: "faas-cli's ci/hashgen.sh" },
    // No published sum found to pin: the release's faas-cli.sha256 is used (or --checksums).
    pinned: {},
  },
  'code-server': {
    title: 'code-server release tarball (web IDE)',
    // Newest release (npm dist-tag latest, 2026-12); its config keys (bind-addr, auth, hashed-password, cert)
    // and the flags in code-server.service are unchanged since 4.96.4 (src/node/cli.ts up to v4.133.0).
    defaultVersion: '4.139.1',
    // Unpacks to code-server-<v>-linux-<arch>/bin/code-server (plus its bundled node and lib/).
    relPath: (v, arch) => `coder/code-server/releases/download/v${v}/code-server-${v}-linux-${arch}.tar.gz`,
    // Upstream publishes no checksums: the sum comes from --checksums, or is
    // recorded on first use with an explicit --trust-artifact code-server.
    pinned: {},
  },
};

export const ARTIFACT_NAMES = Object.keys(ARTIFACTS) as ArtifactName[];
