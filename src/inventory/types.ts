/**
 * Types shared by the inventory loader and its callers (the CLI).
 * Errors are values: the loader never throws for anything a user can put
 * in fleet.yaml or on the command line.
 */
import type { z } from 'zod';
import type { Connection, HostConfig } from '../config.js';
import type { Secret } from '../secret.js';
import type { Result } from '../result.js';

export type SshConnection = Extract<Connection, { kind: 'ssh' }>;

/** A HostConfig resolved from an inventory (a fleet.yaml, or the one the CLI builds from --host flags). */
export type InventoryHost = HostConfig;

/**
 * One problem with the inventory. `line`/`col` (1-based) are absent only for
 * problems that have no place in the file: the file cannot be read, a CLI
 * flag is invalid, `--limit` names nothing. Print with formatInventoryError.
 */
export interface InventoryError {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
  readonly message: string;
}

/**
 * `fleet.yaml:12:5: message`, or `fleet.yaml: message` when there is no
 * position; the inventory built from command-line flags has no file (''),
 * its messages name the flag themselves.
 */
export function formatInventoryError(e: InventoryError): string {
  if (e.file === '') return e.message;
  return e.line === undefined ? `${e.file}: ${e.message}` : `${e.file}:${e.line}:${e.col ?? 1}: ${e.message}`;
}

/**
 * Command-line flags that override every level of the inventory. The CLI
 * fills only what the user gave; each present value replaces the merged
 * inventory value for every selected host (params are deep-merged instead).
 * Paths are resolved against the current directory, `~/` is expanded.
 */
export interface CliOverrides {
  /** Only valid when exactly one host is selected (a domain lives on one host). */
  readonly domains?: readonly string[];
  readonly email?: string;
  readonly password?: Secret;
  readonly mirror?: string;
  readonly checksums?: string;
  readonly requirePinned?: boolean;
  /** `--trust-artifact` (repeatable or comma-separated). */
  readonly trustArtifacts?: readonly string[];
  readonly proxy?: string;
  readonly noProxy?: string | readonly string[];
  readonly recipes?: readonly string[];
  /** Deep-merged over the inventory's params, per recipe (e.g. from `--set containerd.version=…`). */
  readonly params?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly acmeDirectory?: string;
  readonly acmeCaFile?: string;
  readonly acmeProfile?: string;
  readonly acmeResolver?: string;
  readonly progressDir?: string;
  readonly trustNewHost?: boolean;
  readonly knownHosts?: string;
  /** SSH private key (`--key`). */
  readonly key?: string;
  /** docker config.json for faasd (`--registry-auth`). */
  readonly registryAuth?: string;
  /** OpenFaaS Edge licence file (`--openfaas-license`). */
  readonly openfaasLicense?: string;
  /** Pinned host key; like domains, only valid when exactly one host is selected. */
  readonly fingerprint?: string;
}

export interface LoadOptions {
  /** Recipe ids that exist (the CLI passes the registry's); when absent any slug is accepted. */
  readonly knownRecipes?: readonly string[];
  /** `--limit`: host or group names (comma-separated entries are split). Empty/absent = all hosts. */
  readonly limit?: readonly string[];
  /** Environment for `password: { env: VAR }` (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Home directory for `~/` (default os.homedir()). */
  readonly homeDir?: string;
  /** Directory CLI override paths are relative to (default process.cwd()). */
  readonly cwd?: string;
  /** Reads `password: { file: … }`; injectable for tests (default fs.readFileSync utf8). */
  readonly readSecretFile?: (path: string) => Result<string, string>;
  /**
   * Each recipe's parameter schema (the CLI passes the registry's): params in
   * every level and in --set are checked against it before any connection.
   */
  readonly recipeParams?: ReadonlyMap<string, z.ZodType>;
  /** When given, local files (key, checksums, registryAuth, acme.caFile, knownHosts excepted) must exist. */
  readonly fileExists?: (path: string) => boolean;
}

/** Path inside the parsed YAML document, as zod reports it. */
export type DocPath = readonly (string | number)[];

/**
 * A problem found after parsing, located by document path. `at: 'key'`
 * points at the mapping key (e.g. a host's name) instead of its value.
 */
export interface Problem {
  readonly path: DocPath;
  readonly message: string;
  readonly at?: 'key' | 'value';
  /** The problem is in a command-line flag: it has no place in the file. */
  readonly flag?: boolean;
}
