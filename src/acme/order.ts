/**
 * One ACME order from the machine running panel. The client is pure with
 * respect to hosts: it talks to the CA only, and hands the HTTP-01 challenges
 * to the caller's `publish` (and `unpublish`, called in every case once the CA
 * is done with them) — it never holds a connection. A failed order therefore
 * changes nothing on the host but what the caller published and withdrew.
 */
import { existsSync } from 'node:fs';
import acme from 'acme-client';
import { registerSecret } from '../secret.js';
import { loadOrCreateAccountKey } from './account.js';
import { type DirectoryMeta, probeDirectory, trustCa } from './http.js';
import { failFastOn429, RateLimited } from './rate-limit.js';
import { pollUntilSettled, postAsGet } from './poll.js';

export interface OrderRequest {
  readonly directory: string;
  readonly caFile?: string;
  readonly accountKeyFile: string;
  readonly email?: string;
  /** ASCII names, the first one is the certificate's common name. */
  readonly names: readonly string[];
  /** ACME profile (draft-ietf-acme-profiles); omitted from the request when undefined. */
  readonly profile?: string;
  /** ARI certID of the certificate this order replaces (RFC 9773 §5), when the CA has renewalInfo. */
  readonly replaces?: string;
  /** Told once, when this account is registered: the terms of service it agreed to. */
  readonly notice?: (line: string) => void;
}

/** The newOrder payload; acme-client's createOrder sends it as it is. */
export function newOrderPayload(
  names: readonly string[],
  profile: string | undefined,
  replaces?: string,
): { identifiers: { type: 'dns'; value: string }[]; profile?: string; replaces?: string } {
  return { identifiers: names.map((value) => ({ type: 'dns' as const, value })), ...(profile !== undefined ? { profile } : {}), ...(replaces !== undefined ? { replaces } : {}) };
}

/** One HTTP-01 challenge: serve `keyAuthorization` at /.well-known/acme-challenge/<token> for `domain`. */
export interface Challenge {
  readonly domain: string;
  /** base64url only (checked), so it is safe as a file name. */
  readonly token: string;
  readonly keyAuthorization: string;
}

/** Where the challenges go; the caller decides how (the certificate hands them to the engine). */
export interface ChallengeHost {
  publish(challenges: readonly Challenge[]): Promise<void>;
  /** Called once the CA has validated or refused, also after a failed publish. */
  unpublish(challenges: readonly Challenge[]): Promise<void>;
}

export interface Issued {
  readonly certPem: string;
  /** PEM of the certificate's private key: secret. */
  readonly keyPem: Buffer;
}

/** The CA's problem detail, without acme-client's wrapping and newlines. */
function detailOf(e: unknown): string {
  const err = e as { message?: string; code?: string; response?: { data?: { detail?: string } } };
  const detail = err.response?.data?.detail ?? err.message ?? String(e);
  const hint = /self[- ]signed|unable to (get|verify)|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(detail)
    ? ' (the ACME server\'s own certificate is not trusted: pass its CA with --acme-ca)'
    : '';
  return detail.replace(/\s+/g, ' ').trim() + hint;
}

type AcmeChallenge = Awaited<ReturnType<acme.Client['getAuthorizations']>>[number]['challenges'][number];

/** A challenge token becomes a file name on the host: only the base64url alphabet is accepted. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

/** acme-client's backoff polls (1 s doubling to 10 s): 1+2+4+8 + 17×10 s ≈ 3 min before validation is given up. */
export const VALIDATION_POLLS = 22;
/** The same wait as a deadline for panel's own polling (which follows the CA's Retry-After). */
export const VALIDATION_WAIT_MS = 185_000;

/** The CA's directory meta, read with the same trust as the order (for the pre-flight checks). */
export async function directoryMeta(directory: string, caFile: string | undefined): Promise<DirectoryMeta> {
  trustCa(caFile);
  return probeDirectory(directory, caFile);
}

export async function order(req: OrderRequest, host: ChallengeHost): Promise<Issued> {
  const names = req.names.join(', ');
  const ctx = (stage: string) => (e: unknown) => {
    if (e instanceof RateLimited) throw e; // the caller records when to ask again
    throw new Error(`ACME ${stage} for ${names} at ${req.directory} failed: ${detailOf(e)}`);
  };
  trustCa(req.caFile);
  failFastOn429(acme);
  await probeDirectory(req.directory, req.caFile);
  const firstRegistration = !existsSync(req.accountKeyFile);
  const accountKey = await loadOrCreateAccountKey(req.accountKeyFile);
  // Validation from several vantage points can take a while: polls 1, 2, 4, 8 s, then every 10 s, about 3 min in all.
  const client = new acme.Client({ directoryUrl: req.directory, accountKey, backoffAttempts: VALIDATION_POLLS, backoffMin: 1000, backoffMax: 10_000 });
  await register(client, firstRegistration, req.email).catch(ctx('account registration'));
  if (firstRegistration) {
    const terms = await client.getTermsOfServiceUrl().catch(() => undefined);
    req.notice?.(`ACME account registered at ${req.directory}${req.email ? ` for ${req.email}` : ' (no contact)'}; it agrees to the CA's terms of service${terms ? `: ${terms}` : ' (the directory names none)'}`);
  }

  const ord = await client.createOrder(newOrderPayload(req.names, req.profile, req.replaces)).catch(ctx('new order'));
  const authzs = await client.getAuthorizations(ord).catch(ctx('authorizations'));

  const pending: { domain: string; authzUrl: string; challenge: AcmeChallenge; published: Challenge }[] = [];
  for (const a of authzs) {
    if (a.status === 'valid') continue; // the CA remembers a recent validation
    const domain = a.identifier.value;
    const challenge = a.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw new Error(`ACME: ${domain}: the CA offers no http-01 challenge (offered: ${a.challenges.map((c) => c.type).join(', ') || 'none'})`);
    if (!TOKEN.test(challenge.token)) throw new Error(`ACME: ${domain}: the CA sent a malformed challenge token`);
    const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
    pending.push({ domain, authzUrl: a.url, challenge, published: { domain, token: challenge.token, keyAuthorization } });
  }

  if (pending.length > 0) {
    const published = pending.map((p) => p.published);
    try {
      await host.publish(published);
      const validationDeadline = Date.now() + VALIDATION_WAIT_MS;
      // Ask for validation of every name at once, then wait for each; collect all failures.
      const failed: { domain: string; error: unknown }[] = [];
      await Promise.all(
        pending.map(async (p) => {
          try {
            await client.completeChallenge(p.challenge);
            // The authorization, polled as the CA's Retry-After asks (RFC 8555 §7.5.1).
            const authz = await pollUntilSettled(`authorization for ${p.domain}`, postAsGet(client, p.authzUrl), ['pending'], validationDeadline);
            if (authz.status !== 'valid') throw new Error(`authorization ${authz.status}`);
          } catch (error) {
            failed.push({ domain: p.domain, error });
          }
        }),
      );
      if (failed.length > 0) {
        const details = await challengeErrors(client, ord);
        const failures = failed.map((f) => `${f.domain}: ${details.get(f.domain) ?? detailOf(f.error)}`);
        throw new Error(`ACME HTTP-01 validation at ${req.directory} failed (nginx keeps serving as before):\n  ${failures.sort().join('\n  ')}`);
      }
    } finally {
      await host.unpublish(published);
    }
  }

  const [keyPem, csr] = await acme.crypto.createCsr({ commonName: req.names[0], altNames: [...req.names] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  registerSecret(keyPem.toString('utf8'));
  const finalized = await client.finalizeOrder(ord, csr).catch(ctx('finalize'));
  // Issuance may take a while: the order is polled as its Retry-After asks (RFC 8555 §7.4).
  const settled = await pollUntilSettled(`order for ${names}`, postAsGet(client, ord.url), ['pending', 'ready', 'processing'], Date.now() + VALIDATION_WAIT_MS)
    .then((p) => ({ ...finalized, ...(p.body as Partial<acme.Order>), url: ord.url }))
    .catch(ctx('finalize'));
  if (settled.status !== 'valid') throw new Error(`ACME finalize for ${names} at ${req.directory} failed: the order is ${settled.status}`);
  const certPem = await client.getCertificate(settled).catch(ctx('certificate download'));
  return { certPem, keyPem };
}

/**
 * Register, or find the account again. acme-client turns a registration of an
 * existing account into an update with the same payload; without a contact
 * that update is empty, which RFC 8555 §7.3.2 servers refuse (Pebble 2.6:
 * "Use POST-as-GET to retrieve account data instead of doing an empty
 * update"). So an existing account without a contact is only looked up
 * (onlyReturnExisting, then POST-as-GET); with a contact it is updated.
 */
async function register(client: acme.Client, first: boolean, email: string | undefined): Promise<void> {
  if (!first && !email) {
    try {
      await client.createAccount({ onlyReturnExisting: true });
      return;
    } catch (e) {
      // A key kept from a registration that never completed: register it now.
      if (!/accountDoesNotExist|does not exist/i.test(`${(e as { type?: string }).type ?? ''} ${(e as Error).message}`)) throw e;
    }
  }
  await client.createAccount({ termsOfServiceAgreed: true, ...(email ? { contact: [`mailto:${email}`] } : {}) });
}

/** What the CA said about each failed challenge: the problem detail (e.g. the address it connected to). */
async function challengeErrors(client: acme.Client, ord: acme.Order): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    for (const a of await client.getAuthorizations(ord)) {
      const ch = a.challenges.find((c) => c.type === 'http-01') as (AcmeChallenge & { error?: { type?: string; detail?: string } }) | undefined;
      const err = ch?.error;
      if (err?.detail) out.set(a.identifier.value, `${err.detail.replace(/\s+/g, ' ')}${err.type ? ` (${err.type.replace('urn:ietf:params:acme:error:', '')})` : ''}`);
    }
  } catch {
    // keep what the failed wait reported
  }
  return out;
}
