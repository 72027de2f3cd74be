/**
 * One ACME certificate for all `-d` names, ordered from the machine running
 * panel (acme-client), HTTP-01 through nginx's port-80 challenge location.
 * Runs after nginx, so on a first run the order is: HTTP site (nginx recipe)
 * → certificate → HTTPS site. The switch to HTTPS is planned by the nginx
 * recipe's site resource (the site file's one owner) as a follow-up of this
 * recipe's certificate change, and is applied and reported here, in the same
 * round trip as the certificate's files. nginx is never stopped. A converged
 * host (certificate present, same names and CA, more than a third of its
 * lifetime left) causes no contact with the CA at all.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { defineRecipe } from '../src/engine/recipe.js';
import { certificate } from '../src/acme/certificate.js';
import { RENEW_SERVICE, RENEW_TIMER, renewUnits } from '../src/acme/timer.js';
import { service, unit } from '../src/resources/index.js';
import type { Resource } from '../src/resources/types.js';
import { validateAcmeDirectory, validateDomains, validateEmail } from '../src/validate/index.js';
import type { HostConfig } from '../src/config.js';
import { CERTS_DIR } from '../src/acme/paths.js';
import { removal } from '../src/resources/removal.js';
import { whenRecorded } from '../src/stack/teardown.js';

export const certificateParams = z
  .object({
    /** Set by `panel renew`: only the certificate, no timer units. */
    renewOnly: z.boolean().default(false).describe('only renew (set by `panel renew`)'),
    timer: z.boolean().default(true).describe('install the renewal timer on local installs'),
    openFirewall: z.boolean().default(false).describe('where ufw drops port 80, add `ufw allow 80,443/tcp` before ordering (--open-firewall)'),
  })
  .strict();

/** Names per certificate that Let's Encrypt's profiles allow (classic: 100, the general limit panel checks anyway). */
const PROFILE_NAME_LIMIT: Readonly<Record<string, number>> = { tlsserver: 25, shortlived: 25 };

/** Every input problem of the certificate recipe, checked before anything is touched. */
export function certificateInputErrors(config: HostConfig): string[] {
  const errors: string[] = [];
  if (config.domains.length === 0) errors.push('no domain names: give at least one -d/--domain for a certificate');
  const names = validateDomains(config.domains);
  if (!names.ok) errors.push(...names.error);
  if (config.email !== undefined) {
    const e = validateEmail(config.email);
    if (!e.ok) errors.push(e.error);
  }
  const limit = config.acme.profile !== undefined ? PROFILE_NAME_LIMIT[config.acme.profile] : undefined;
  if (limit !== undefined && config.domains.length > limit) errors.push(`${config.domains.length} domain names: ACME profile ${config.acme.profile} allows at most ${limit} in one certificate`);
  const d = validateAcmeDirectory(config.acme.directory);
  if (!d.ok) errors.push(d.error);
  return errors;
}

export default defineRecipe({
  id: 'certificate',
  title: 'ACME certificate (HTTP-01) for the nginx site',
  after: ['nginx'],
  params: certificateParams,
  precheck: ({ config }) => {
    const errors = certificateInputErrors(config);
    return errors.length > 0 ? errors.join('; ') : undefined;
  },
  resources: ({ params, host, config }) => {
    const names = validateDomains(config.domains);
    if (!names.ok) throw new Error(names.error.join('; '));
    const email = config.email !== undefined ? validateEmail(config.email) : undefined;
    const out: Resource[] = [
      certificate({
        names: names.value,
        acme: config.acme,
        ...(email?.ok ? { email: email.value } : {}),
        openFirewall: params.openFirewall,
      }),
    ];
    if (config.connection.kind === 'local' && params.timer && !params.renewOnly && host.systemd) {
      const units = renewUnits(config);
      const timer = unit({ name: RENEW_TIMER, content: units.timer });
      out.push(unit({ name: RENEW_SERVICE, content: units.service }), timer, service({ name: RENEW_TIMER, enabled: true, running: true, restartOn: [timer] }));
    }
    return out;
  },
  // Kept without --purge: the certificates (the next install reuses them; the
  // ACME account key lives on the machine running panel and is never touched).
  teardown: ({ purge }) => [
    whenRecorded('certificate', service({ name: RENEW_TIMER, enabled: false, running: false })),
    removal({
      recipe: 'certificate',
      purge,
      keep: (r) => 'path' in r && (r.path === CERTS_DIR.slice(0, CERTS_DIR.lastIndexOf('/')) || r.path === CERTS_DIR || r.path.startsWith(`${CERTS_DIR}/`)),
    }),
  ],
  verify: ({ config }) => {
    const names = validateDomains(config.domains);
    if (!names.ok) return [];
    // A TLS handshake and nginx's own answer for every name. TRACE: nginx
    // refuses it (405) before any location (ngx_http_process_request_header),
    // so the answer never waits on an upstream; a GET of / went through the
    // gateway, which holds a request it cannot pass on for its whole upstream
    // timeout (65 s per name, twice per run: once with the planning facts, once
    // in verify) where ufw drops the gateway's way to its provider.
    return names.value.map((n) => ({
      name: `https answers for ${n}`,
      script: sh`curl -sk -o /dev/null -m 20 -X TRACE -w '%{http_code}\\n' --resolve ${`${n}:443:127.0.0.1`} ${`https://${n}/`}`,
      expect: /^405\s*$/,
    }));
  },
});
