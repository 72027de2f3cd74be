/**
 * HostConfig is everything panel needs to converge one host, after the
 * inventory (defaults → group → host) and the CLI flags have been merged.
 * It is produced by src/inventory (or by the CLI for --host / local runs)
 * and consumed by the engine and the recipes.
 */
import type { Secret } from './secret.js';
import type { DomainName } from './validate/domain.js';
import type { ArtifactName } from './artifacts/table.js';

export type { DomainName } from './validate/domain.js';

export type Connection =
  | { readonly kind: 'local' }
  | {
      readonly kind: 'ssh';
      readonly address: string;
      readonly port: number;
      readonly user: string;
      /** Private key file; when absent, ssh-agent ($SSH_AUTH_SOCK) is used. */
      readonly keyFile?: string;
      /** Pinned `SHA256:…` host key fingerprint; otherwise known_hosts decides. */
      readonly fingerprint?: string;
      /** known_hosts file to check against (default ~/.ssh/known_hosts). */
      readonly knownHosts?: string;
      /** Record an unknown host key in known_hosts instead of refusing it. */
      readonly trustNewHost?: boolean;
      /** Use `sudo -n` for commands (default: when user is not root). */
      readonly sudo?: boolean;
    };

export interface AcmeConfig {
  /** ACME directory URL (Let's Encrypt production by default). */
  readonly directory: string;
  /** PEM file of extra CA roots to trust when talking to the ACME server (Pebble in tests). */
  readonly caFile?: string;
  /** Where the account key lives on the machine running panel. */
  readonly accountKeyFile?: string;
  /** ACME profile asked for in each new order (e.g. Let's Encrypt `tlsserver`, `shortlived`); the CA's default when absent. */
  readonly profile?: string;
  /** DNS server the CA resolves with (`addr[:port]`, private CAs); pre-flight checks ask it. */
  readonly resolver?: string;
}

export interface HostConfig {
  /** Name shown everywhere: inventory name, `user@addr:port`, or `local`. */
  readonly name: string;
  readonly connection: Connection;
  /** Groups the host belongs to (for --limit). */
  readonly groups: readonly string[];
  /** Recipe ids asked for; their dependencies are added by the engine. */
  readonly recipes: readonly string[];
  /** Per-recipe parameters, validated by each recipe's zod schema. */
  readonly params: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Parsed once, by the inventory's schema (the one domain validator); nothing downstream re-checks them. */
  readonly domains: readonly DomainName[];
  readonly email?: string;
  readonly password?: Secret;
  /** Replaces `https://github.com` in every artifact URL. */
  readonly mirror?: string;
  /** sha256sum-format file: `<sha256>  <path relative to the mirror>`. */
  readonly checksumsFile?: string;
  /** Refuse artifacts whose sum is neither pinned nor in checksumsFile (no release checksum assets). */
  readonly requirePinned?: boolean;
  /** Artifacts without published sums whose sha256 is recorded on first use (--trust-artifact). */
  readonly trustArtifacts?: readonly ArtifactName[];
  readonly proxy?: string;
  readonly noProxy?: string;
  /** Local path of a docker config.json to install for faasd. */
  readonly registryAuth?: string;
  /** Local path of an OpenFaaS Edge licence, installed as /var/lib/faasd/secrets/openfaas_license. */
  readonly openfaasLicense?: string;
  readonly acme: AcmeConfig;
  /** Directory on the host for progress.json, access.log, installErr.log. */
  readonly progressDir: string;
}

export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';
export const LETS_ENCRYPT_STAGING = 'https://acme-staging-v02.api.letsencrypt.org/directory';
export const DEFAULT_PROGRESS_DIR = '/var/lib/panel';
