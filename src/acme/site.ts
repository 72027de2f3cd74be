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
 * The same renderer is used by the certificate recipe right after a first
 * certificate is installed, so both always agree on the content and a second
 * run changes nothing.
 */
import { z } from 'zod';
import type { HostConfig } from '../config.js';
import type { HostInfo } from '../host-info.js';
import { type FileFacts, type FileSpec, fileFactsScript, parseFileFacts, planFile, writeFileScript } from '../resources/file.js';
import { PRELUDE } from '../resources/prelude.js';
import { renderTemplate } from '../resources/template.js';
import type { Change, FactOutput, PlanContext, Resource } from '../resources/types.js';
import { noStdin, opt, parseKv } from '../resources/util.js';
import { lines, outputTail, type Script, sh } from '../shell.js';
import type { Transport } from '../transport/types.js';
import { validateDomains } from '../validate/index.js';
import { parseCertificate } from './cert-info.js';

export const SITE_PATH = '/etc/nginx/conf.d/panel.conf';
export const SITE_KEY = `file:${SITE_PATH}`;
/** HTTP-01 challenge files live under <webroot>/.well-known/acme-challenge/. */
export const WEBROOT = '/var/www/panel-acme';
export const CHALLENGE_DIR = `${WEBROOT}/.well-known/acme-challenge`;
export const CERTS_DIR = '/etc/panel/certs';

export function certDir(primary: string): string {
  return `${CERTS_DIR}/${primary}`;
}

// Only characters nginx reads literally in a location prefix / proxy_pass URL:
// no spaces, quotes, `;`, `{`, `}`, `$` — a route can never inject a directive.
const ROUTE_PATH = /^\/(?:[A-Za-z0-9._~-]+\/)*$/;
const UPSTREAM = /^https?:\/\/[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:\/[A-Za-z0-9._~\/-]*)?$/;

export const routeSchema = z
  .object({
    path: z.string().regex(ROUTE_PATH, 'a location prefix like /codeserver/ (letters, digits, . _ ~ -; starts and ends with /)'),
    upstream: z.string().regex(UPSTREAM, 'an http(s)://host[:port]/path/ URL').optional(),
    port: z.number().int().min(1).max(65535).optional(),
  })
  .strict()
  .refine((r) => (r.upstream === undefined) !== (r.port === undefined), 'give either upstream or port');

export type RouteInput = z.infer<typeof routeSchema>;

/** panel.sh's routes: functions at /, the faasd UI at /faasd/. */
export const DEFAULT_ROUTES: readonly RouteInput[] = [
  { path: '/', upstream: 'http://127.0.0.1:8080/function/' },
  { path: '/faasd/', upstream: 'http://127.0.0.1:8080/ui/' },
];

export const nginxParams = z
  .object({
    routes: z.array(routeSchema).default([...DEFAULT_ROUTES]).describe('location → upstream; replaces the defaults (/ → gateway functions, /faasd/ → UI)'),
    extraRoutes: z.array(routeSchema).default([]).describe('added to routes, e.g. [{ path: "/codeserver/", port: 5000 }]'),
    clientMaxBodySize: z.string().regex(/^[0-9]+[kKmMgG]?$/).default('64m'),
    proxyReadTimeout: z.string().regex(/^[0-9]+(?:ms|s|m|h)?$/).default('300s'),
  })
  .strict();

export type NginxParams = z.output<typeof nginxParams>;

export interface Route {
  readonly path: string;
  readonly upstream: string;
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
  /** Directory holding fullchain.pem/privkey.pem; undefined when no names. */
  readonly certDir?: string;
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
export function resolveRoutes(p: NginxParams): Route[] {
  const all = [...p.routes, ...p.extraRoutes].map((r) => ({ path: r.path, upstream: r.upstream ?? `http://127.0.0.1:${r.port}/` }));
  const seen = new Set<string>();
  for (const r of all) {
    if (seen.has(r.path)) throw new Error(`route ${r.path} is given twice`);
    seen.add(r.path);
  }
  return all;
}

/**
 * The site for a host. Names are validated again here (the CLI and the
 * inventory check them first); a bad name throws, before anything runs.
 */
export function siteSpec(config: HostConfig, host: Pick<HostInfo, 'ipv6'>, rawParams: unknown): SiteSpec {
  const params = nginxParams.parse(rawParams ?? {});
  const names = validateDomains(config.domains);
  if (!names.ok) throw new Error(names.error.join('; '));
  return {
    path: SITE_PATH,
    names: names.value,
    ipv6: host.ipv6,
    routes: resolveRoutes(params),
    clientMaxBodySize: params.clientMaxBodySize,
    proxyReadTimeout: params.proxyReadTimeout,
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
  if (typeof info === 'string') return undefined;
  return { http2Directive: usesHttp2Directive(nginxVersion), stapling: info.ocsp };
}

export function renderSite(spec: SiteSpec, tls: TlsState | undefined): string {
  return renderTemplate(
    'nginx-site.hbs',
    {
      serverNames: spec.names.length > 0 ? spec.names.join(' ') : '_',
      ipv6: spec.ipv6,
      webroot: WEBROOT,
      tls: tls && spec.certDir ? { cert: `${spec.certDir}/fullchain.pem`, key: `${spec.certDir}/privkey.pem`, ...tls } : false,
      routes: spec.routes,
      clientMaxBodySize: spec.clientMaxBodySize,
      proxyReadTimeout: spec.proxyReadTimeout,
    },
    spec.templatesDir,
  );
}

/** `nginx -t` of the whole configuration with the candidate in the site's place, before it is live. */
export const NGINX_VALIDATE = sh`panel_nginx_test "$1" "$2"`;

/** The file the site's plan hands to the file machinery: `nginx -t` on the candidate guards every write. */
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

  plan(facts: SiteFacts, _ctx: PlanContext): Change[] {
    const tls = tlsState(this.spec, facts.certPem, facts.nginxVersion);
    const changes = planFile(siteFileSpec(this.spec, renderSite(this.spec, tls)), facts.file);
    return changes.map((c) => ({ ...c, reason: `${c.reason}; ${tls ? 'https with the installed certificate' : 'http only: no certificate yet'}` }));
  }
}

/** The nginx site resource for a host (used by the nginx recipe). */
export function site(spec: SiteSpec): SiteResource {
  return new SiteResource(spec);
}

/** Reload nginx if it runs (a stopped nginx picks the files up when started). */
export const RELOAD_NGINX = sh`if [ -d /run/systemd/system ]; then if systemctl is-active --quiet nginx; then systemctl reload nginx; fi; elif [ -s /run/nginx.pid ]; then nginx -s reload; fi`;

/**
 * Local effect helper: render the HTTPS site with the certificate now on the
 * host and write it (nginx -t, restore on failure), then reload. Used once,
 * right after the first certificate of a host is installed.
 */
export async function switchToHttps(t: Transport, spec: SiteSpec): Promise<void> {
  if (spec.certDir === undefined) throw new Error('no domains: nothing to serve over https');
  const factRun = await t.exec(`export PANEL_MODE=facts\n${PRELUDE}\n${fileFactsScript(spec.path, true)}\n${noStdin(certAndNginxFactsScript(spec.certDir))}\n`);
  if (factRun.code !== 0) throw new Error(`reading ${spec.path} failed (exit ${factRun.code}): ${outputTail(factRun.stderr, 3, ' | ')}`);
  const out = { stdout: factRun.stdout, code: 0 };
  const file = parseFileFacts(SITE_KEY, out);
  const extra = parseCertAndNginx(SITE_KEY, out);
  const tls = tlsState(spec, extra.certPem, extra.nginxVersion);
  if (!tls) throw new Error(`the certificate in ${spec.certDir} is missing or unreadable; nginx keeps serving http`);
  const changes = planFile(siteFileSpec(spec, renderSite(spec, tls)), file);
  const scripts = changes.flatMap((c) => (c.script !== undefined ? [c.script] : []));
  if (scripts.length === 0) return;
  const res = await t.exec(`export PANEL_MODE=apply\n${PRELUDE}\n(\nset -euo pipefail\n${scripts.join('\n')}\n${RELOAD_NGINX}\n)\n`);
  if (res.code !== 0) throw new Error(`enabling https failed (exit ${res.code}); nginx keeps serving http:\n${outputTail(res.stderr, 8)}`);
}
