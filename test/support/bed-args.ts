/** The CLI flags that aim panel at one testbed host through the bed's mirror, as a user would type them. */
import type { Testbed, TestHost } from '../testbed/index.js';

export function hostArgs(bed: Testbed, host: TestHost, user = 'root'): string[] {
  return ['--host', `${user}@${host.address}`, '--key', host.keyFile, '--known-hosts', bed.knownHostsFile];
}

export function mirrorArgs(bed: Testbed): string[] {
  return ['--mirror', bed.mirrorUrl, '--checksums', bed.checksumsFile];
}
