/**
 * nginx as the TLS reverse proxy in front of faasd, without downtime:
 * nginx is installed from apt and never stopped. The site resource here is
 * the one writer of /etc/nginx/conf.d/panel.conf: until the host has a
 * certificate it serves only ACME challenges and a 503 page on port 80 (no
 * login over plain HTTP; nginx.insecureHttp serves the routes without login); when the certificate recipe plans one, the site plans its
 * own switch to HTTPS as a follow-up of that change (applied and reported
 * with recipe certificate, right after the certificate's files are in place).
 *
 * Debian's default site listens on [::]:80, which makes nginx fail to start on
 * hosts without IPv6 (seed 001) — and the package starts nginx from its
 * postinst, so the install itself fails there. panel replaces that site with
 * a comment BEFORE installing the package (the postinst only links the
 * default site when nothing is at that path), and writes `[::]` listeners
 * only where the host has IPv6.
 */
import { sh } from '../src/shell.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { CHALLENGE_DIR, WEBROOT } from '../src/acme/paths.js';
import { nginxParams, site, siteSpec } from '../src/nginx/site.js';
import { apt, directory, file, service, ufwExpectOpen } from '../src/resources/index.js';
import { validateDomains } from '../src/validate/index.js';
import { removal } from '../src/resources/removal.js';

export const DEBIAN_DEFAULT_SITE = '/etc/nginx/sites-enabled/default';

const DEFAULT_SITE_NOTE = `# panel: Debian's default site is disabled here. It listens on [::]:80, which
# keeps nginx from starting on hosts without IPv6, and it would answer requests
# by IP address. panel's site is /etc/nginx/conf.d/panel.conf.
`;

export default defineRecipe({
  id: 'nginx',
  title: 'nginx reverse proxy (HTTPS; until a certificate exists port 80 serves only ACME challenges)',
  after: ['base'],
  params: nginxParams,
  precheck: ({ config }) => {
    const names = validateDomains(config.domains);
    return names.ok ? undefined : names.error.join('; ');
  },
  resources: ({ params, host, config }) => {
    const defaultSite = file({ path: DEBIAN_DEFAULT_SITE, content: DEFAULT_SITE_NOTE });
    const panelSite = site(siteSpec(config, host, params));
    return [
      defaultSite,
      apt({ packages: ['nginx'] }),
      directory({ path: WEBROOT }),
      directory({ path: `${WEBROOT}/.well-known` }),
      directory({ path: CHALLENGE_DIR }),
      panelSite,
      service({ name: 'nginx', enabled: true, running: true, reloadOn: [panelSite, defaultSite] }),
      // Where ufw is active, opening 80 and 443 is the user's call; they hear about it here.
      ufwExpectOpen({
        service: 'nginx',
        proto: 'tcp',
        ports: [
          { port: 80, for: 'ACME HTTP-01 validation, http' },
          { port: 443, for: 'https' },
        ],
      }),
    ];
  },
  // panel's site and default-site note go (Debian's own default site comes
  // back from its backup when it was there); an nginx that stays installed
  // (it was there before panel) is reloaded without them.
  teardown: ({ purge }) => [
    removal({
      recipe: 'nginx',
      purge,
      then: { name: 'reload nginx if it still runs', script: sh`panel_nginx_reload test || exit 1` },
    }),
  ],
  verify: ({ config }) => {
    const host = config.domains.length > 0 ? validateDomains(config.domains) : undefined;
    const name = host?.ok ? host.value[0] : 'localhost';
    return [
      { name: 'nginx configuration is valid', script: sh`nginx -t` },
      { name: 'nginx is active', script: sh`panel_units_active nginx`, expect: /^active/ },
      {
        // 404 from our challenge location (not a redirect, not a proxy error): port 80 is ours.
        name: 'port 80 serves the ACME challenge directory',
        script: sh`curl -s -o /dev/null -w '%{http_code}\\n' -H ${`Host: ${name}`} http://127.0.0.1/.well-known/acme-challenge/panel-verify`,
        expect: /^404/,
      },
    ];
  },
});
