/** The CLI flags that aim panel at one testbed host through the bed's mirror, as a user would type them. */
import { dirname } from 'node:path';
import { standInChecksumsFile, TESTBED_CONTAINERD_ARGS } from '../testbed/mirror.js';
import type { Testbed, TestHost } from '../testbed/index.js';

export function hostArgs(bed: Testbed, host: TestHost, user = 'root'): string[] {
  return ['--host', `${user}@${host.address}`, '--key', host.keyFile, '--known-hosts', bed.knownHostsFile];
}

/**
 * --mirror, plus --checksums for the two tarballs the bed builds itself:
 * its containerd and CNI plugins are Debian's binaries, so the sums panel
 * pins for upstream's releases of those versions cannot match them (a user
 * mirroring their own builds does the same). faasd and faas-cli are not in
 * that file: they take the default path, their release's checksum asset.
 * And containerd.version: the bed serves the 1.7 line only (Debian has no
 * containerd 2.x or runc 1.4 to build panel's default 2.3 from; see mirror.ts).
 */
export function mirrorArgs(bed: Testbed): string[] {
  return ['--mirror', bed.mirrorUrl, '--checksums', standInChecksumsFile(bed.checksumsFile), ...TESTBED_CONTAINERD_ARGS];
}

/** The bed's own copy of the mirror tree (a test may publish other checksum files there). */
export function mirrorDir(bed: Testbed): string {
  return dirname(bed.checksumsFile);
}

/** The bed's ACME server (Pebble) and the CA that signs its API. */
export function acmeArgs(bed: Testbed): string[] {
  return ['--acme-directory', bed.acme.directory, '--acme-ca', bed.acme.caFile];
}

/**
 * The headline command on one bed host, as a user types it, with only the
 * testbed's connection flags (key, known_hosts, mirror, ACME): `--json` for
 * the test to read, `--yes` for an install.
 */
export function headlineArgs(bed: Testbed, host: TestHost, cmd: 'install' | 'plan' | 'check', domain: string, extra: readonly string[] = []): string[] {
  return [cmd, '-d', domain, '-m', 'ops@panel.test', ...hostArgs(bed, host), ...mirrorArgs(bed), ...acmeArgs(bed), '--json', ...(cmd === 'install' ? ['--yes'] : []), ...extra];
}
