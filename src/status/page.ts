/**
 * The status page at https://DOMAIN/panel/: static HTML written on the host
 * at the end of every install (it is a report of the run, not desired
 * state, so it is no resource and never shows up as a change). It lists
 * what is installed (recipes, versions, artifact sums), the health checks
 * of the run, the certificate, and the run's time and result; a small
 * script polls /panel/progress.json to show a run in progress. Everything
 * but the live progress works without JavaScript.
 */
import { type AriWindow, RenewalWindows } from '../acme/ari.js';
import { type CertInfo, parseCertificate, type RenewalDue, renewalDue } from '../acme/cert-info.js';
import { certDir } from '../acme/paths.js';
import type { HostResult } from '../engine/events.js';
import type { HostPlan } from '../engine/host-plan.js';
import { renderTemplate } from '../resources/template.js';
import { validateDomains } from '../validate/index.js';
import { STATUS } from './paths.js';
import type { Transport } from '../transport/types.js';

export interface HealthCheck {
  readonly check: string;
  readonly ok: boolean;
}

export interface StatusData {
  readonly host: string;
  readonly domains: readonly string[];
  readonly recipes: readonly { id: string; title: string; version: string; artifacts: readonly { name: string; sha256: string; from: string }[] }[];
  readonly health: readonly HealthCheck[];
  readonly certificate?: { names: readonly string[]; expires: string; renews: string; renewsBy?: RenewsBy; issuer: string; overdue?: string } | { error: string };
  readonly run: { finishedAt: string; result: string; changed: number; error?: string };
  /** What `panel deploy` last found running (kept across installs: an install does not know it). */
  readonly functions?: { readonly at: string; readonly list: readonly DeployedFunction[] };
}

/** What decided the renewal time (renewalDue): the CA's window (ARI), or the share of the lifetime left. */
export type RenewsBy = { readonly ari: { readonly start: string; readonly end: string; readonly explanationURL?: string } } | { readonly lifetime: string };

export interface DeployedFunction {
  readonly name: string;
  readonly image: string;
  /** Replicas faasd reports available. */
  readonly available: number;
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

function day(d: Date): string {
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/**
 * `windowOf` gives the CA's renewal window (ARI) stored for a certificate:
 * the page shows the renewal time the plan acts on (renewalDue), and what
 * decided it.
 */
export function statusData(plan: HostPlan, result: HostResult, health: readonly HealthCheck[], certPem: string | undefined, now: Date, windowOf: (cert: CertInfo) => AriWindow | undefined = () => undefined): StatusData {
  const { config } = plan;
  const recipes = plan.recipes.map((rp) => {
    const parsed = rp.recipe.params.safeParse(config.params[rp.recipe.id] ?? {});
    const p = (parsed.success ? parsed.data : {}) as Record<string, unknown>;
    const version = typeof p['version'] === 'string' ? p['version'] : rp.recipe.id === 'nginx' || rp.recipe.id === 'base' ? 'Debian package' : '—';
    // The sums this run verified against, as the engine resolved them for the recipe.
    const artifacts = rp.artifacts.map((a) => ({ name: a.relPath.split('/').pop() ?? a.name, sha256: a.sha256, from: a.sumFrom }));
    return { id: rp.recipe.id, title: rp.recipe.title, version, artifacts };
  });
  const cert = certPem === undefined ? undefined : parseCertificate(certPem);
  const names = validateDomains(config.domains);
  return {
    host: config.name,
    domains: names.ok ? names.value : [...config.domains],
    recipes,
    health,
    ...(cert === undefined
      ? {}
      : {
          certificate:
            !cert.ok
              ? { error: cert.error }
              : certificateData(cert.value, renewalDue(cert.value, windowOf(cert.value)), now),
        }),
    run: { finishedAt: day(now), result: result.status, changed: result.changed, ...(result.error ? { error: result.error } : {}) },
  };
}

function certificateData(cert: CertInfo, due: RenewalDue, now: Date): NonNullable<StatusData['certificate']> {
  const renewsBy: RenewsBy =
    due.by === 'ari'
      ? { ari: { start: day(due.window.start), end: day(due.window.end), ...(due.window.explanationURL !== undefined ? { explanationURL: due.window.explanationURL } : {}) } }
      : { lifetime: `panel's rule: renewed with ${due.words} of its lifetime left (the CA gave no renewal window)` };
  return { names: cert.names, expires: day(cert.notAfter), renews: day(due.at), renewsBy, issuer: cert.issuer.replace(/\n/g, ', '), ...overdue(cert, due, now) };
}

/** Past its renewal time and still installed: the renewal did not happen (failed, or nothing runs `panel renew`). */
function overdue(cert: CertInfo, due: RenewalDue, now: Date): { overdue?: string } {
  if (now.getTime() < due.at.getTime()) return {};
  const left =
    now.getTime() >= cert.notAfter.getTime()
      ? 'it has expired'
      : due.by === 'ari'
        ? `the CA's renewal window (ARI) ${day(due.window.start)} – ${day(due.window.end)} asks for it`
        : `it has less than ${due.words} of its lifetime left`;
  return { overdue: `Not renewed: ${left}. Is \`panel renew\` scheduled on the machine running panel (\`panel renew … --schedule\`)?` };
}

/** Every string escaped here: the template is rendered with noEscape. */
export function renderStatusPage(d: StatusData, progressUrl: string = `${STATUS.route}progress.json`): string {
  const cert = d.certificate;
  return renderTemplate('panel-status.html.hbs', {
    host: esc(d.host),
    title: esc(d.domains[0] ?? d.host),
    domains: d.domains.map(esc),
    recipes: d.recipes.map((r) => ({ id: esc(r.id), title: esc(r.title), version: esc(r.version), artifacts: r.artifacts.map((a) => ({ name: esc(a.name), sha256: esc(a.sha256), from: esc(a.from) })) })),
    health: d.health.map((h) => ({ check: esc(h.check), ok: h.ok })),
    healthy: d.health.every((h) => h.ok),
    cert: cert === undefined ? false : 'error' in cert ? { error: esc(cert.error) } : { names: cert.names.map(esc).join(', '), expires: esc(cert.expires), renews: esc(cert.renews), renewsBy: renewsByView(cert.renewsBy), issuer: esc(cert.issuer), overdue: cert.overdue !== undefined ? esc(cert.overdue) : false, error: false },
    run: { finishedAt: esc(d.run.finishedAt), result: esc(d.run.result), changed: d.run.changed, error: d.run.error ? esc(d.run.error) : false },
    progressUrl: esc(progressUrl),
    functions:
      d.functions === undefined
        ? false
        : { at: esc(d.functions.at), list: d.functions.list.map((f) => ({ name: esc(f.name), image: esc(f.image), ready: f.available > 0, state: f.available > 0 ? 'running' : 'not running' })) },
  });
}

/** What decided the renewal time, for the template (escaped); false on a page saved before it was shown. */
function renewsByView(by: RenewsBy | undefined): false | { ari: false | { start: string; end: string; explanationURL: string | false }; lifetime: string | false } {
  if (by === undefined) return false;
  if ('lifetime' in by) return { ari: false, lifetime: esc(by.lifetime) };
  return { ari: { start: esc(by.ari.start), end: esc(by.ari.end), explanationURL: by.ari.explanationURL !== undefined ? esc(by.ari.explanationURL) : false }, lifetime: false };
}

/** Equal but for the run's time: the page would say nothing new. */
function sameButTime(a: StatusData, b: StatusData): boolean {
  const strip = (d: StatusData): string => JSON.stringify({ ...d, run: { ...d.run, finishedAt: '' } });
  return strip(a) === strip(b);
}

/** The page's data as last written, so that `panel renew` can update only the certificate and the run. */
export function statusDataPath(progressDir: string): string {
  return `${progressDir.replace(/\/$/, '')}/status-page.json`;
}

/** The certificate the page shows: the primary domain's chain. */
function certificatePath(config: HostPlan['config']): string | undefined {
  const names = validateDomains(config.domains);
  const primary = names.ok ? names.value[0] : undefined;
  return primary !== undefined ? `${certDir(primary)}/fullchain.pem` : undefined;
}

/** The files writeStatusPage reads, for the planning round trip to bring along (HostHooks.reads). */
export function statusReads(config: HostPlan['config']): string[] {
  const pem = certificatePath(config);
  return [statusDataPath(config.progressDir), ...(pem !== undefined ? [pem] : [])];
}

/**
 * Write the page on the host after an install (best effort: a failure here
 * never changes the run's result). A host with the status recipe gets the
 * whole page; a run without it (`panel renew`) updates the certificate and
 * the run of a page written before, and leaves hosts without one alone.
 */
export async function writeStatusPage(plan: HostPlan, result: HostResult, health: readonly HealthCheck[], now: Date = new Date()): Promise<void> {
  const full = plan.recipes.some((r) => r.recipe.id === STATUS.recipe);
  const saved = statusDataPath(plan.config.progressDir);
  // What planning read (statusReads) is current when the run changed nothing on the host; else read it now.
  const read = async (path: string): Promise<Buffer | undefined> =>
    result.changed === 0 && result.status !== 'failed' && plan.reads?.has(path) ? plan.reads.get(path) : plan.transport.get(path);
  // The page written before: a partial update starts from it; a full one keeps what only `panel deploy`
  // knows and skips a rewrite with nothing new, from what planning read (no round trip of its own; a
  // deploy writes the page under the host lock).
  const old = full ? plan.reads?.get(saved) : await read(saved);
  if (!full && old === undefined) return;
  const before = old === undefined ? undefined : (JSON.parse(old.toString('utf8')) as StatusData);
  const pemPath = certificatePath(plan.config);
  const pem = pemPath !== undefined ? await read(pemPath) : undefined;
  // The CA's window as the certificate's plan reads it (prepare stored it; one just issued was asked for it).
  const windows = RenewalWindows.forDirectory(plan.config.acme.directory);
  const fresh = statusData(plan, result, health, pem?.toString('utf8'), now, (c) => windows.window(c.ariId));
  const data: StatusData = full
    ? { ...fresh, ...(before?.functions ? { functions: before.functions } : {}) }
    : { ...before!, ...(fresh.certificate ? { certificate: fresh.certificate } : {}), run: fresh.run };
  // A run that found nothing to do and nothing new to show leaves the page as
  // it is (no round trip): its record is progress.json's "checked", which the
  // page shows live. The page's run stays the last one that showed something.
  if (result.changed === 0 && result.status !== 'failed' && before !== undefined && sameButTime(before, data)) return;
  await putStatusPage(plan.transport, plan.config.progressDir, data);
}

async function putStatusPage(t: Transport, progressDir: string, data: StatusData): Promise<void> {
  await t.exec(`mkdir -p ${STATUS.dir}`);
  await t.put(`${STATUS.dir}/index.html`, Buffer.from(renderStatusPage(data), 'utf8'), 0o644);
  await t.put(statusDataPath(progressDir), Buffer.from(JSON.stringify(data), 'utf8'), 0o600);
}

/**
 * After a deploy that changed something: the page lists the functions the
 * gateway runs. A host without a page (no status recipe) is left alone;
 * best effort, as the rest of the page.
 */
export async function writeDeployedFunctions(t: Transport, progressDir: string, list: readonly DeployedFunction[], now: Date = new Date()): Promise<void> {
  const old = await t.get(statusDataPath(progressDir));
  if (old === undefined) return;
  const before = JSON.parse(old.toString('utf8')) as StatusData;
  await putStatusPage(t, progressDir, { ...before, functions: { at: day(now), list } });
}
