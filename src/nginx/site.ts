/**
 * The nginx site panel serves: one file, rendered from templates/nginx-site.hbs.
 *
 * Whether it has HTTPS server blocks depends on a HOST fact (do the
 * certificate files exist?), which a recipe cannot see when it builds its
 * resources — so this is a resource of its own: its fact snippet is the file
 * resource's plus the certificate and nginx version, and its plan renders the
 * template from those facts and hands over to the file machinery (atomic
 * write, backup, diff, `nginx -t` with restore on failure).
 *
 * This resource is the ONE writer of the site file. On a first install the
 * site must be written twice: HTTP-only first (nginx must answer the ACME
 * challenge on port 80 before there is a certificate), HTTPS once the
 * certificate exists. The second write is this resource's follow-up: after
 * every resource of the host is planned, the site looks for a change that
 * writes its certificate (its `records` list `<certDir>/fullchain.pem`) and
 * plans "update the site (https), after <that change>". The engine applies it
 * right after the certificate's change, in the certificate recipe's round
 * trip, so `plan`, the events and the state record show it like any change.
 *
 * OCSP stapling is decided from the installed certificate. A certificate that
 * does not exist yet is assumed to name no OCSP responder (Let's Encrypt and
 * Pebble issue none); if a CA does name one, the next run turns stapling on as
 * an ordinary site change.
 */
import { z } from 'zod';
import type { HostConfig } from '../config.js';
import type { HostInfo } from '../host-info.js';
import { type FileFacts, type FileSpec, fileFactsScript, parseFileFacts, planFile } from '../resources/file.js';
import { renderTemplate } from '../resources/template.js';
import type { Change, FactOutput, FollowUp, PlanContext, Resource } from '../resources/types.js';
import { noStdin, opt, parseKv, sha256 } from '../resources/util.js';
import { lines, type Script, sh } from '../shell.js';
import { validateDomains } from '../validate/index.js';
import { parseCertificate } from '../acme/cert-info.js';
import { certDir, WEBROOT } from '../acme/paths.js';
import { BODY_SIZE } from '../web/body-size.js';
import { contributedRoutes, statusPageSite, type StatusPageSite } from '../web/routes.js';

export const SITE_PATH = '/etc/nginx/conf.d/panel.conf';
export const SITE_KEY = `file:${SITE_PATH}`;
// Only characters nginx reads literally in a location prefix / proxy_pass URL:
// no spaces, quotes, `;`, `{`, `}`, `$` — a route can never inject a directive.
const ROUTE_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*$/;
// An exact location (`location = /healthz`): one path, which may end without a slash.
const EXACT_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*[A-Za-z0-9._~-]*$/;
const UPSTREAM = /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~\/-]*)?$/;

export const routeSchema = z
  .object({
    path: z.string().regex(EXACT_PATH, 'a location prefix like /codeserver/ (letters, digits, . _ ~ -; starts and ends with /)'),
    exact: z.boolean().optional().describe('this path only (nginx `location = PATH`), e.g. /healthz; otherwise a prefix ending with /'),
    upstream: z.string().regex(UPSTREAM, 'an http(s)://host[:port]/path/ URL').optional(),
    port: z.number().int().min(1).max(65535).optional(),
    redirect: z.string().regex(ROUTE_PATH, 'a path like /ui/').optional().describe('answer with a redirect to this path instead of proxying'),
    login: z.boolean().optional().describe('the upstream asks for a login (basic auth, a password): served over HTTPS only, never over plain HTTP'),
  })
  .strict()
  .refine((r) => r.exact === true || ROUTE_PATH.test(r.path), { path: ['path'], message: 'a location prefix like /codeserver/ (letters, digits, . _ ~ -; starts and ends with /); for one path like /healthz add exact: true' })
  .refine((r) => [r.upstream, r.port, r.redirect].filter((x) => x !== undefined).length === 1, 'give one of upstream, port or redirect');

export type RouteInput = z.infer<typeof routeSchema>;

const GATEWAY = 'http://127.0.0.1:8080';

/**
 * The OpenFaaS gateway as its own UI expects it (faas 0.27.12
 * gateway/assets/script/bootstrap.js): the UI at /ui/ calls `../system/…`,
 * `/system/…` and `../function/NAME`, so /system/ and /function/ go to the
 * gateway as they are. Functions also answer at / (panel.sh's route);
 * /faasd/ (panel.sh's UI address) redirects to /ui/. The gateway's own
 * /healthz (unauthenticated upstream, what a load balancer or uptime check
 * asks) is that one path, so a function named healthz still answers at
 * /function/healthz. Nothing else of the gateway is routed: /ui/ and
 * /system/ ask for the gateway's own basic auth.
 */
export const DEFAULT_ROUTES: readonly RouteInput[] = [
  { path: '/healthz', exact: true, upstream: `${GATEWAY}/healthz` },
  { path: '/', upstream: `${GATEWAY}/function/` },
  { path: '/function/', upstream: `${GATEWAY}/function/` },
  { path: '/ui/', upstream: `${GATEWAY}/ui/`, login: true },
  { path: '/system/', upstream: `${GATEWAY}/system/`, login: true },
  { path: '/faasd/', redirect: '/ui/', login: true },
];

export const nginxParams = z
  .object({
    routes: z.array(routeSchema).default([...DEFAULT_ROUTES]).describe('location → upstream; replaces the defaults (= /healthz → the gateway\'s, / and /function/ → gateway functions, /ui/ and /system/ → the gateway, /faasd/ → /ui/)'),
    extraRoutes: z.array(routeSchema).default([]).describe('added to routes, e.g. [{ path: "/codeserver/", port: 5000, login: true }]'),
    clientMaxBodySize: z.string().regex(BODY_SIZE).default('64m'),
    proxyReadTimeout: z.string().regex(/^[0-9]+(?:ms|s|m|h)?$/).default('300s'),
    /** Strict-Transport-Security on the https site (two years, Mozilla intermediate); false leaves it out. */
    hsts: z.boolean().default(true).describe('send Strict-Transport-Security (max-age two years) over https'),
    insecureHttp: z
      .boolean()
      .default(false)
      .describe('INSECURE: while the host has no certificate, serve the routes without login over plain HTTP (never /panel/, the UI, /system/ or the IDE); without it port 80 serves only ACME challenges and a 503 "certificate pending" page'),
  })
  .strict();

export type NginxParams = z.output<typeof nginxParams>;

export interface Route {
  readonly path: string;
  /** `location = path`: this path only, not a prefix. */
  readonly exact?: boolean;
  /** Proxied to this URL, or answered with a redirect to `redirect`. */
  readonly upstream?: string;
  readonly redirect?: string;
  /** Asks for a login: over HTTPS only. */
  readonly login?: boolean;
  /** WebSocket app checking Origin against Host: forwards Host with its port, asks for gzip. */
  readonly websocket?: boolean;
  /** This route's own upload limit (the site's otherwise). */
  readonly clientMaxBodySize?: string;
}

/** Everything the site depends on except host facts. */
export interface SiteSpec {
  readonly path: string;
  /** ASCII names; empty → `server_name _` (any host, HTTP only). */
  readonly names: readonly string[];
  readonly ipv6: boolean;
  readonly routes: readonly Route[];
  readonly clientMaxBodySize: string;
  readonly proxyReadTimeout: string;
  /** Send Strict-Transport-Security on the https site (nginx.hsts). */
  readonly hsts?: boolean;
  /** nginx.insecureHttp: routes without login over plain HTTP while there is no certificate. */
  readonly insecureHttp: boolean;
  /** The release's packaged nginx version: the fallback when the host cannot tell (see DISTRO_NGINX). */
  readonly distroNginx?: string;
  /** Directory holding fullchain.pem/privkey.pem; undefined when no names. */
  readonly certDir?: string;
  /** The status page at /panel/ (recipe status). */
  readonly statusPage?: StatusPageSite;
  /** Templates directory override (tests). */
  readonly templatesDir?: string;
  /**
   * Shell that must accept the new file before it is live ("$1" the temp
   * file, "$2" the site path); default `panel_nginx_test "$1" "$2"`, i.e.
   * `nginx -t` of the configuration with the temp file in the site's place.
   */
  readonly validate?: Script;
}

/** What the host says, as far as the site is concerned. */
export interface SiteFacts {
  readonly file: FileFacts;
  /** fullchain.pem when both it and privkey.pem are present. */
  readonly certPem?: string;
  /** nginx version installed, or apt's candidate; undefined when unknown. */
  readonly nginxVersion?: string;
}

/** The routes as nginx will see them: defaults or given, plus extras; paths unique. */
export function resolveRoutes(p: NginxParams, contributed: readonly Route[] = []): Route[] {
  const all = [...p.routes, ...p.extraRoutes]
    .map(
      (r): Route => ({
        path: r.path,
        ...(r.exact ? { exact: true } : {}),
        ...(r.redirect !== undefined ? { redirect: r.redirect } : { upstream: r.upstream ?? `http://127.0.0.1:${r.port}/` }),
        ...(r.login ? { login: true } : {}),
      }),
    )
    .concat(contributed);
  const seen = new Set<string>();
  for (const r of all) {
    if (seen.has(r.path)) throw new Error(`route ${r.path} is given twice`);
    seen.add(r.path);
  }
  return all;
}

/**
 * The nginx each supported release installs from its own archive. Used only
 * when the host can tell neither `nginx -v` nor apt's candidate (a fresh host
 * whose apt lists were never fetched): without it a first run would render
 * the pre-1.25.1 `listen … http2` form and the second run would switch to
 * `http2 on;` — a change on a run that should have none.
 */
const DISTRO_NGINX: Readonly<Record<string, string>> = {
  'debian 12': '1.22.1',
  'debian 13': '1.26.3',
  'ubuntu 22.04': '1.18.0',
  'ubuntu 24.04': '1.24.0',
  'ubuntu 26.04': '1.28.0',
};

/**
 * The site for a host. Names are validated again here (the CLI and the
 * inventory check them first); a bad name throws, before anything runs.
 */
export function siteSpec(config: HostConfig, host: Pick<HostInfo, 'ipv6'> & Partial<Pick<HostInfo, 'osId' | 'osVersion'>>, rawParams: unknown): SiteSpec {
  const params = nginxParams.parse(rawParams ?? {});
  const names = validateDomains(config.domains);
  if (!names.ok) throw new Error(names.error.join('; '));
  return {
    path: SITE_PATH,
    names: names.value,
    ipv6: host.ipv6,
    ...(host.osId !== undefined && DISTRO_NGINX[`${host.osId} ${host.osVersion}`] !== undefined ? { distroNginx: DISTRO_NGINX[`${host.osId} ${host.osVersion}`] } : {}),
    routes: resolveRoutes(params, contributedRoutes(config)),
    ...(statusPageSite(config) ? { statusPage: statusPageSite(config)! } : {}),
    clientMaxBodySize: params.clientMaxBodySize,
    proxyReadTimeout: params.proxyReadTimeout,
    hsts: params.hsts,
    insecureHttp: params.insecureHttp,
    ...(names.value.length > 0 ? { certDir: certDir(names.value[0]!) } : {}),
  };
}

/** `listen … http2` is deprecated from nginx 1.25.1 on, replaced by `http2 on;`. */
export function usesHttp2Directive(version: string | undefined): boolean {
  if (!version) return false;
  const [maj = 0, min = 0, patch = 0] = version.split('.').map((x) => Number.parseInt(x, 10) || 0);
  return maj > 1 || (maj === 1 && (min > 25 || (min === 25 && patch >= 1)));
}

export interface TlsState {
  readonly http2Directive: boolean;
  readonly stapling: boolean;
}

/** TLS settings for the site when the host has a usable certificate, else undefined. */
export function tlsState(spec: SiteSpec, certPem: string | undefined, nginxVersion: string | undefined): TlsState | undefined {
  if (spec.certDir === undefined || certPem === undefined) return undefined;
  const info = parseCertificate(certPem);
  // An unreadable certificate would make nginx fail; serve HTTP until the certificate recipe replaces it.
  if (!info.ok) return undefined;
  return { http2Directive: usesHttp2Directive(nginxVersion), stapling: info.value.ocsp };
}

/** The 503 page port 80 serves instead of any route while there is no certificate. */
export function pendingText(spec: Pick<SiteSpec, 'names'>): string {
  return spec.names.length > 0
    ? 'Certificate pending: this site is served over HTTPS once its certificate is issued.'
    : 'No domain name: this site is served over HTTPS only, once panel is run with -d DOMAIN.';
}

/** Routes as the template renders them: every field present (strict templates), login routes refused over plain HTTP. */
function renderedRoutes(routes: readonly Route[], overHttp: boolean): object[] {
  return routes.map((r) => ({
    path: r.path,
    exact: r.exact === true,
    refuse: overHttp && r.login === true,
    redirect: r.redirect ?? false,
    upstream: r.upstream ?? false,
    websocket: r.websocket === true,
    clientMaxBodySize: r.clientMaxBodySize ?? false,
  }));
}

/**
 * Three shapes: with a certificate, port 80 redirects to HTTPS and 443
 * serves every route; without one, port 80 serves the ACME challenge and a
 * 503 "certificate pending" page only — nothing that asks for a password is
 * ever reachable over plain HTTP; with nginx.insecureHttp (and no
 * certificate) port 80 serves the routes without login, and refuses the rest.
 */
export function renderSite(spec: SiteSpec, tls: TlsState | undefined): string {
  const overHttp = tls === undefined && spec.insecureHttp;
  return renderTemplate(
    'nginx-site.hbs',
    {
      serverNames: spec.names.length > 0 ? spec.names.join(' ') : '_',
      ipv6: spec.ipv6,
      webroot: WEBROOT,
      tls: tls && spec.certDir ? { cert: `${spec.certDir}/fullchain.pem`, key: `${spec.certDir}/privkey.pem`, ...tls } : false,
      pending: tls === undefined && !spec.insecureHttp ? pendingText(spec) : false,
      insecureHttp: overHttp,
      routes: renderedRoutes(spec.routes, overHttp),
      statusPage: spec.statusPage ?? false,
      clientMaxBodySize: spec.clientMaxBodySize,
      proxyReadTimeout: spec.proxyReadTimeout,
      hsts: spec.hsts ?? true,
    },
    spec.templatesDir,
  );
}

export const INSECURE_HTTP_WARNING =
  'insecure: nginx.insecureHttp serves the site over plain HTTP (no certificate); /panel/, the UI, /system/ and the IDE are not served until a certificate exists';

/** `nginx -t` of the whole configuration with the candidate in the site's place, before it is live. */
export const NGINX_VALIDATE = sh`panel_nginx_test "$1" "$2"`;

/** The file the site's plan hands to the file machinery: `nginx -t` guards every write. */
export function siteFileSpec(spec: SiteSpec, content: string): FileSpec {
  return {
    key: SITE_KEY,
    path: spec.path,
    content: Buffer.from(content, 'utf8'),
    mode: 0o644,
    owner: 'root',
    group: 'root',
    secret: false,
    validate: spec.validate ?? NGINX_VALIDATE,
    // Reload right away when nginx already runs: on a fresh host the package
    // starts nginx (with no listeners yet) between the facts and this write,
    // so the service resource, which planned a `start` from the facts, would
    // find it active and never load this site.
    ...(spec.validate === undefined ? { then: RELOAD_NGINX } : {}),
  };
}

/** Fact lines about the certificate and nginx, appended to the file facts (fullchain.pem is public). */
export function certAndNginxFactsScript(dir: string | undefined): Script {
  const cert = dir
    ? sh`if [ -s ${`${dir}/fullchain.pem`} ] && [ -s ${`${dir}/privkey.pem`} ]; then printf 'site_cert=%s\n' "$(base64 -w0 < ${`${dir}/fullchain.pem`})"; fi`
    : undefined;
  return lines(
    cert,
    sh.raw`__v=$(nginx -v 2>&1 | sed -n 's#.*nginx/\([0-9][0-9.]*\).*#\1#p')
[ -n "$__v" ] || __v=$(apt-cache policy nginx 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9:]*\)\?\([0-9][0-9.]*\).*/\2/p' | head -n1)
printf 'nginx_version=%s\n' "$__v"
`,
  );
}

export function parseCertAndNginx(key: string, out: FactOutput): { certPem?: string; nginxVersion?: string } {
  const kv = parseKv(key, out);
  const cert = opt(kv, 'site_cert');
  const version = opt(kv, 'nginx_version');
  return {
    ...(cert ? { certPem: Buffer.from(cert, 'base64').toString('utf8') } : {}),
    ...(version ? { nginxVersion: version } : {}),
  };
}

export class SiteResource implements Resource<SiteFacts> {
  readonly key = SITE_KEY;
  constructor(readonly spec: SiteSpec) {}

  facts(): Script {
    return lines(fileFactsScript(this.spec.path, true), noStdin(certAndNginxFactsScript(this.spec.certDir)));
  }

  parse(out: FactOutput): SiteFacts {
    return { file: parseFileFacts(this.key, out), ...parseCertAndNginx(this.key, out) };
  }

  /** The nginx the site is rendered for: installed, apt's candidate, or the release's own. */
  private nginxVersion(facts: SiteFacts): string | undefined {
    return facts.nginxVersion ?? this.spec.distroNginx;
  }

  plan(facts: SiteFacts, ctx: PlanContext): Change[] {
    const tls = tlsState(this.spec, facts.certPem, this.nginxVersion(facts));
    // Said on every run while it holds, not only when the file changes: it is the user's risk.
    if (tls === undefined && this.spec.insecureHttp) ctx.warn?.(INSECURE_HTTP_WARNING);
    const changes = planFile(siteFileSpec(this.spec, renderSite(this.spec, tls)), facts.file);
    const mode = tls ? 'https with the installed certificate' : this.spec.insecureHttp ? 'INSECURE: plain http (nginx.insecureHttp), no certificate' : 'no certificate yet: port 80 serves only ACME challenges and a 503 page';
    return changes.map((c) => ({ ...c, reason: `${c.reason}; ${mode}` }));
  }

  /** The switch to https, right after the change that writes this site's certificate. */
  followUps(facts: SiteFacts, plan: readonly Change[]): FollowUp[] {
    const { certDir } = this.spec;
    if (certDir === undefined || tlsState(this.spec, facts.certPem, this.nginxVersion(facts)) !== undefined) return [];
    const fullchain = `${certDir}/fullchain.pem`;
    const issue = plan.find((c) => c.records?.some((r) => r.kind === 'file' && r.path === fullchain));
    if (issue === undefined) return [];
    // By then the file is the HTTP-only rendering (this resource's own plan saw to it).
    const http = Buffer.from(renderSite(this.spec, undefined), 'utf8');
    const spec = siteFileSpec(this.spec, renderSite(this.spec, { http2Directive: usesHttp2Directive(this.nginxVersion(facts)), stapling: false }));
    const before: FileFacts = {
      exists: true,
      type: 'file',
      owned: { mode: spec.mode, owner: spec.owner, uid: 0, group: spec.group, gid: 0 },
      size: http.length,
      sha256: sha256(http),
      content: http,
    };
    // The text is offered to the certificate's order, which runs `nginx -t` with it (and a placeholder certificate) before asking the CA.
    const candidate = { path: spec.path, content: spec.content.toString('utf8') };
    return planFile(spec, before).map((c) => ({ follows: issue, change: { ...c, reason: 'enable https with the new certificate', candidate } }));
  }
}

/** The nginx site resource for a host (used by the nginx recipe). */
export function site(spec: SiteSpec): SiteResource {
  return new SiteResource(spec);
}

/** Reload nginx if it runs (a stopped nginx picks the files up when started). */
export const RELOAD_NGINX = sh`panel_nginx_reload || exit 1`;
