/**
 * The certificate resource: facts are the installed certificate (public) and
 * whether its key exists; the plan is pure (orderReason); only when a new
 * certificate is needed does a `local` change contact the CA. A converged
 * host never talks to the CA.
 */
import type { AcmeConfig } from '../config.js';
import type { Change, FactOutput, PlanContext, Resource } from '../resources/types.js';
import { summary } from '../resources/types.js';
import { noStdin, opt, parseKv } from '../resources/util.js';
import { sh } from '../shell.js';
import { defaultAccountKeyFile } from './account.js';
import { type InstalledCert, orderReason, parseCertificate } from './cert-info.js';
import { installCertificate } from './install.js';
import { CHALLENGE_DIR, certDir, type SiteSpec, switchToHttps } from './site.js';

export interface CertificateOptions {
  /** ASCII names (validated); the first names the directory. */
  readonly names: readonly string[];
  readonly acme: AcmeConfig;
  readonly email?: string;
  /** The site to switch to https right after the first certificate. */
  readonly site?: SiteSpec;
  /** The clock deciding renewals (tests pass a fixed one). */
  readonly now?: () => Date;
}

export class CertificateResource implements Resource<InstalledCert> {
  readonly key: string;
  readonly dir: string;
  constructor(readonly o: CertificateOptions) {
    const primary = o.names[0];
    if (primary === undefined) throw new Error('certificate: no domain names');
    this.key = `certificate:${primary}`;
    this.dir = certDir(primary);
  }

  facts(): string {
    const d = this.dir;
    return noStdin(
      [
        sh`if [ -s ${`${d}/fullchain.pem`} ]; then printf 'cert=%s\n' "$(base64 -w0 < ${`${d}/fullchain.pem`})"; fi`,
        sh`if [ -s ${`${d}/privkey.pem`} ]; then echo key=1; else echo key=0; fi`,
        sh`if [ -s ${`${d}/directory`} ]; then printf 'directory=%s\n' "$(base64 -w0 < ${`${d}/directory`})"; fi`,
      ].join('\n'),
    );
  }

  parse(out: FactOutput): InstalledCert {
    const kv = parseKv(this.key, out);
    const cert = opt(kv, 'cert');
    const directory = opt(kv, 'directory');
    return {
      cert: cert ? parseCertificate(Buffer.from(cert, 'base64').toString('utf8')) : undefined,
      keyPresent: opt(kv, 'key') === '1',
      directory: directory ? Buffer.from(directory, 'base64').toString('utf8').trim() : undefined,
    };
  }

  plan(have: InstalledCert, _ctx: PlanContext): Change[] {
    const { names, acme } = this.o;
    const reason = orderReason(have, { names, directory: acme.directory }, (this.o.now ?? (() => new Date()))());
    if (reason === undefined) return [];
    const dir = this.dir;
    const email = this.o.email;
    const obtain: Change = {
      resource: this.key,
      action: have.cert === undefined ? 'create' : 'update',
      target: `certificate ${names.join(', ')} in ${dir}`,
      reason: `${reason}; order from ${acme.directory}`,
      local: async (t) => {
        // The ACME client library loads only when a certificate is really ordered.
        const { order } = await import('./order.js');
        const issued = await order(t, {
          directory: acme.directory,
          ...(acme.caFile !== undefined ? { caFile: acme.caFile } : {}),
          accountKeyFile: acme.accountKeyFile ?? defaultAccountKeyFile(acme.directory),
          ...(email !== undefined ? { email } : {}),
          names,
          challengeDir: CHALLENGE_DIR,
        });
        await installCertificate(t, dir, issued, acme.directory);
      },
    };
    // The nginx site was rendered from these same facts: without a usable
    // certificate it is HTTP-only, and it becomes HTTPS only after this order.
    const siteIsHttpOnly = have.cert === undefined || typeof have.cert === 'string' || !have.keyPresent;
    const site = this.o.site;
    if (!siteIsHttpOnly || site === undefined) return [obtain];
    const https: Change = {
      resource: this.key,
      action: 'update',
      target: site.path,
      reason: 'enable https with the new certificate',
      after: [summary(obtain)],
      local: (t) => switchToHttps(t, site),
    };
    return [obtain, https];
  }
}

export function certificate(o: CertificateOptions): CertificateResource {
  return new CertificateResource(o);
}
