/**
 * Checks before the CA is asked to validate: each failed validation counts
 * against Let's Encrypt's 5 per account, hostname and hour, so an order that
 * cannot succeed is not made. Run from the machine running panel, after a
 * probe file was published in the host's challenge directory:
 *   - every A record of every name serves the probe over port 80 (as the CA
 *     would fetch it: a name pointing elsewhere, or a port 80 that a firewall
 *     drops, fails here; 1:1 NAT passes, as it would at the CA);
 *   - every AAAA record is an address of the host (Let's Encrypt tries IPv6
 *     first; a stale AAAA fails validation even when A is right);
 *   - CAA (RFC 8659: the closest name up the tree with records decides)
 *     allows the CA, when its directory names its CAA identities.
 * Each failure is one line: the name, the cause and the fix. The host's own
 * fetch of the probe runs on the host, in the step that publishes it
 * (before-order.ts hostProbeScript, prelude panel_http01_probe).
 */
import { Resolver } from 'node:dns/promises';
import { request } from 'node:http';

export interface PreflightInput {
  readonly names: readonly string[];
  /** The host's global IPv6 addresses (facts). */
  readonly hostV6: readonly string[];
  /** DNS server to ask (`addr[:port]`); this machine's resolvers when absent. */
  readonly resolver?: string;
  /** The probe published in the challenge directory. */
  readonly probe: { readonly token: string; readonly content: string };
  /** The CA's `meta.caaIdentities`; no CAA check when absent or empty. */
  readonly caaIdentities?: readonly string[];
}

/** `10.0.0.1:8053` or `[fd00::1]:53` or a bare address → node's setServers form. */
function resolverOf(spec: string | undefined): Resolver {
  const r = new Resolver({ timeout: 5000, tries: 2 });
  if (spec !== undefined) r.setServers([spec]);
  return r;
}

async function lookup(r: Resolver, name: string, rrtype: 'A' | 'AAAA'): Promise<string[]> {
  try {
    return rrtype === 'A' ? await r.resolve4(name) : await r.resolve6(name);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND') return [];
    throw new Error(`${name}: DNS lookup (${rrtype}) failed: ${code ?? (e as Error).message}`);
  }
}

/** GET the probe from `address` with Host: name; undefined when it answers with the probe. */
function fetchProbe(address: string, name: string, token: string, content: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: address, port: 80, path: `/.well-known/acme-challenge/${token}`, headers: { host: name }, timeout: 10_000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d.length + body.length < 4096 ? d : ''));
      res.on('end', () => resolve(res.statusCode === 200 && body.trim() === content ? undefined : `answered HTTP ${res.statusCode ?? '?'} without this host's probe`));
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 10 s')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED' ? 'refused the connection' : e.message));
    req.end();
  });
}

/** The CAA issuers allowed for `name`: undefined when no CAA record applies (any CA may issue). */
async function caaIssuers(r: Resolver, name: string): Promise<{ at: string; issuers: string[] } | undefined> {
  const labels = name.split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    let records: Awaited<ReturnType<Resolver['resolveCaa']>>;
    try {
      records = await r.resolveCaa(at);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENODATA' || code === 'ENOTFOUND') continue;
      throw new Error(`${name}: DNS lookup (CAA ${at}) failed: ${code ?? (e as Error).message}`);
    }
    if (records.length === 0) continue;
    const issue = records.filter((c) => c.issue !== undefined).map((c) => (c.issue ?? '').split(';')[0]!.trim().toLowerCase());
    // A set without any `issue` property (only iodef, say) restricts nothing.
    return issue.length > 0 ? { at, issuers: issue } : undefined;
  }
  return undefined;
}

/** One line per problem found; empty when the CA can be asked. */
export async function preflight(input: PreflightInput): Promise<string[]> {
  const r = resolverOf(input.resolver);
  const problems: string[] = [];
  const hostV6 = new Set(input.hostV6.map((a) => a.toLowerCase()));
  const identities = (input.caaIdentities ?? []).map((i) => i.toLowerCase());
  await Promise.all(
    input.names.map(async (name) => {
      try {
        const [v4, v6] = await Promise.all([lookup(r, name, 'A'), lookup(r, name, 'AAAA')]);
        if (v4.length === 0 && v6.length === 0) {
          problems.push(`${name}: has no A or AAAA record; fix: point it at this host`);
          return;
        }
        for (const a of v6) {
          if (!hostV6.has(a.toLowerCase())) problems.push(`${name}: AAAA ${a} is not an address of this host, and the CA tries IPv6 first; fix: correct or remove that AAAA record`);
        }
        for (const a of v4) {
          const why = await fetchProbe(a, name, input.probe.token, input.probe.content);
          if (why !== undefined) problems.push(`${name}: http://${name}/.well-known/acme-challenge/ at ${a} ${why}; fix: point the A record at this host, or open port 80/tcp to it`);
        }
        if (identities.length > 0) {
          const caa = await caaIssuers(r, name);
          if (caa && !caa.issuers.some((i) => identities.includes(i))) {
            problems.push(`${name}: CAA at ${caa.at} allows only ${caa.issuers.map((i) => i || '(no CA)').join(', ')}; fix: add a CAA record \`0 issue "${identities[0]!}"\` there`);
          }
        }
      } catch (e) {
        problems.push((e as Error).message);
      }
    }),
  );
  return problems.sort();
}
