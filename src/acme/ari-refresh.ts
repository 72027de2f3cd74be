/**
 * Before planning: ask the CA (when its directory has renewalInfo) for the
 * renewal window of the certificate panel issued last for each host's name
 * set, so that the pure plan can read it (ari.ts). Only when the stored
 * answer's Retry-After has passed; a CA without ARI, or one that cannot be
 * reached, leaves the ⅓ / ½ rule in charge and is not an error here (the
 * order itself reports an unreachable CA).
 */
import type { HostConfig } from '../config.js';
import { refreshWindow, RenewalWindows } from './ari.js';
import { KeptCertificates } from './kept.js';
import { validateDomains } from '../validate/index.js';

export async function refreshRenewalWindows(configs: readonly HostConfig[], now: Date = new Date(), warn: (line: string) => void = (l) => process.stderr.write(`panel: ${l}\n`)): Promise<void> {
  const seen = new Set<string>();
  for (const c of configs) {
    if (!c.recipes.includes('certificate') || c.domains.length === 0) continue;
    const valid = validateDomains(c.domains);
    if (!valid.ok) continue; // the recipe's precheck reports it
    const names = valid.value;
    const kept = KeptCertificates.forDirectory(c.acme.directory).load(names);
    if (!kept || now.getTime() >= kept.info.notAfter.getTime()) continue;
    const key = `${c.acme.directory} ${kept.info.serial}`;
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      await refreshWindow({ directory: c.acme.directory, caFile: c.acme.caFile, certPem: kept.certPem, store: RenewalWindows.forDirectory(c.acme.directory), now });
    } catch (e) {
      warn(`renewal information (ARI) for ${names.join(', ')} from ${c.acme.directory} not fetched: ${(e as Error).message}; the stored window or the ⅓ / ½ rule applies`);
    }
  }
}
