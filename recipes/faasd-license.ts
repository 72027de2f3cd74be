/**
 * faasd's licence, said and installed.
 *
 * faasd CE (0.19.x) is licensed by its EULA.md for personal, non-commercial
 * use only (commercial use: one 60-day trial a year), and its provider
 * refuses a 16th function (`faasdMaxFunctions = 15`,
 * pkg/provider/handlers/info.go). panel says so in one line — never a prompt —
 * whenever it plans to put the faasd binary on a host where it is absent: in
 * `plan`, and in the first `install`.
 *
 * The commercial edition, OpenFaaS Edge (faasd-pro), reads its licence from
 * /var/lib/faasd/secrets/openfaas_license (hack/install-edge.sh).
 * `--openfaas-license FILE` puts it there as a secret.
 */
import { readFlagFile } from '../src/flag-file.js';
import { file } from '../src/resources/index.js';
import type { Resource } from '../src/resources/types.js';
import { Secret } from '../src/secret.js';

export const OPENFAAS_LICENSE_PATH = '/var/lib/faasd/secrets/openfaas_license';

/** faasd 0.19.7's EULA, the one a release install is under. */
export const FAASD_EULA_URL = 'https://github.com/openfaas/faasd/blob/0.19.7/EULA.md';

/** The one line shown in plan and the first install (a notice, never a question). */
export const FAASD_CE_NOTICE =
  `faasd CE is licensed for personal, non-commercial use only and runs at most 15 functions (EULA: ${FAASD_EULA_URL}); commercial use needs OpenFaaS Edge`;

/**
 * The licence file's content, read here and registered as a secret (the
 * whole text and its trimmed form, so neither can reach a log).
 */
export function readOpenfaasLicense(path: string): Secret {
  const text = readFlagFile('--openfaas-license', path);
  if (text.trim() === '') throw new Error(`--openfaas-license ${path}: the file is empty`);
  new Secret(text.trim());
  return new Secret(text);
}

/**
 * The licence as a secret file: 0600 root. Its only reader we can name from
 * public source is the faasd-pro binary itself (faasd/faasd-provider run as
 * root from their units; install-edge.sh has the user write it as root before
 * `faasd install`); no public compose file bind-mounts it into a non-root
 * container, so it does not need the basic-auth files' 0644.
 */
export function openfaasLicenseFile(path: string | undefined): Resource[] {
  if (path === undefined) return [];
  const licence = readOpenfaasLicense(path);
  return [file({ path: OPENFAAS_LICENSE_PATH, content: licence.reveal(), mode: 0o600, secret: true })];
}

/**
 * Why `faasd.edition=edge` is refused: install-edge.sh gets OpenFaaS Edge as
 * an OCI image (`arkade oci install ghcr.io/openfaasltd/faasd-pro:latest`,
 * then the image's own install.sh), not as a release asset with a published
 * sum below https://github.com, so panel can neither fetch it through
 * --mirror nor verify it like every other artifact.
 */
export const EDGE_REFUSAL =
  'faasd.edition=edge: OpenFaaS Edge ships as the OCI image ghcr.io/openfaasltd/faasd-pro (hack/install-edge.sh runs `arkade oci install` and the image\'s install.sh), not as a GitHub release asset with a published sum, so panel cannot fetch it through --mirror or verify it; install Edge with install-edge.sh (panel can still place its licence with --openfaas-license)';
