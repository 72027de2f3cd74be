/** Human-readable summary of a bed (CLI `up`/`status`, the demo). */
import { join } from 'node:path';
import type { Testbed } from './index.js';
import { RUN_ROOT } from './state.js';

export function sshCommand(bed: Testbed, i: number, user = 'root'): string {
  const h = bed.hosts[i];
  if (!h) return '';
  return `ssh -o UserKnownHostsFile=${bed.knownHostsFile} -o StrictHostKeyChecking=yes -i ${h.keyFile} ${user}@${h.address}`;
}

export function describeBed(bed: Testbed): string {
  return [
    `testbed ${bed.id} (bridge ${bed.bridgeAddress})`,
    ...bed.hosts.map((h, i) => `  ${h.name}  ${h.release}/${h.profile}  ${h.address}${h.address6 ? `  ${h.address6}` : ''}  ${sshCommand(bed, i)}`),
    `  users:       ${bed.users.join(', ')} (deploy: passwordless sudo; nosudo: none)`,
    `  known_hosts: ${bed.knownHostsFile}`,
    `  mirror:      ${bed.mirrorUrl}   checksums: ${bed.checksumsFile}`,
    `  apt repo:    ${Object.entries(bed.aptUrls).map(([r, u]) => `${u} (${r})`).join(', ')} (each host's only source is its release's)`,
    bed.acme.directory ? `  acme:        ${bed.acme.directory}   trust: ${bed.acme.caFile}` : '  acme:        (no pebble)',
    `  env:         ${join(RUN_ROOT, bed.id, 'env')}   (source it: TESTBED_* variables)`,
  ].join('\n');
}
