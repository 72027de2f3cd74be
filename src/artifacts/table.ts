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

export type ArtifactName = 'containerd' | 'cni-plugins' | 'faasd' | 'faas-cli' | 'code-server';

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
    // faasd's installer pins the same version.
    defaultVersion: '1.7.27',
    relPath: (v, arch) => `containerd/containerd/releases/download/v${v}/containerd-${v}-linux-${arch}.tar.gz`,
    // Makefile `release`: cd releases && sha256sum $(RELEASE).tar.gz > $(RELEASE).tar.gz.sha256sum
    checksumAsset: { asset: (f) => `${f}.sha256sum`, named: (f) => f, producer: "containerd's `make release`" },
    pinned: {
      // Source: vexxhost/ansible-collection-containers roles/containerd/defaults/main.yml,
      // generated from upstream's published `<tarball>.sha256sum` files.
      '1.7.27': {
        amd64: '5b038fb22ab5dbb1ce57dd3d8f102460cd8619ff2afc78870837b06e8c4e840a',
        arm64: '3f03ea60c7dacddf890be3ab18f7ef859d9d104b19627f52038d7984361912bc',
      },
    },
  },
  'cni-plugins': {
    title: 'CNI plugins tarball',
    // faasd's installer pins v0.9.1.
    defaultVersion: '0.9.1',
    relPath: (v, arch) => `containernetworking/plugins/releases/download/v${v}/cni-plugins-linux-${arch}-v${v}.tgz`,
    // scripts/release.sh, in the release directory: sha256sum $f > $f.sha256 (also .sha1, .sha512)
    checksumAsset: { asset: (f) => `${f}.sha256`, named: (f) => f, producer: "the CNI plugins' scripts/release.sh" },
    pinned: {
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
    defaultVersion: '4.96.4',
    // Unpacks to code-server-<v>-linux-<arch>/bin/code-server (plus its bundled node and lib/).
    relPath: (v, arch) => `coder/code-server/releases/download/v${v}/code-server-${v}-linux-${arch}.tar.gz`,
    // Upstream publishes no checksums: the sum comes from --checksums, or is
    // recorded on first use with an explicit --trust-artifact code-server.
    pinned: {},
  },
};

export const ARTIFACT_NAMES = Object.keys(ARTIFACTS) as ArtifactName[];
