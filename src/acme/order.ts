/**
 * One ACME order from the machine running panel: HTTP-01 challenge files go
 * to the host's webroot through the transport (nginx serves them), the CA
 * validates, we finalize with a fresh key. Nothing on the host changes except
 * the challenge files, which are removed again in every case — so a failed
 * order leaves the old certificate (or the HTTP-only site) serving.
 */
import acme from 'acme-client';
import type { Transport } from '../transport/types.js';
import { quote } from '../shell.js';
import { registerSecret } from '../secret.js';
import { loadOrCreateAccountKey } from './account.js';
import { probeDirectory, trustCa } from './http.js';

export interface OrderRequest {
  readonly directory: string;
  readonly caFile?: string;
  readonly accountKeyFile: string;
  readonly email?: string;
  /** ASCII names, the first one is the certificate's common name. */
  readonly names: readonly string[];
  /** Host directory served at /.well-known/acme-challenge/. */
  readonly challengeDir: string;
  /** ACME profile (draft-ietf-acme-profiles); omitted from the request when undefined. */
  readonly profile?: string;
}

/** The newOrder payload; acme-client's createOrder sends it as it is. */
export function newOrderPayload(names: readonly string[], profile: string | undefined): { identifiers: { type: 'dns'; value: string }[]; profile?: string } {
  return { identifiers: names.map((value) => ({ type: 'dns' as const, value })), ...(profile !== undefined ? { profile } : {}) };
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

type Challenge = Awaited<ReturnType<acme.Client['getAuthorizations']>>[number]['challenges'][number];

/** A challenge token becomes a file name on the host: only the base64url alphabet is accepted. */
const TOKEN = /^[A-Za-z0-9_-]{16,256}$/;

export async function order(t: Transport, req: OrderRequest): Promise<Issued> {
  const names = req.names.join(', ');
  const ctx = (stage: string) => (e: unknown) => {
    throw new Error(`ACME ${stage} for ${names} at ${req.directory} failed: ${detailOf(e)}`);
  };
  trustCa(req.caFile);
  await probeDirectory(req.directory, req.caFile);
  const accountKey = await loadOrCreateAccountKey(req.accountKeyFile);
  const client = new acme.Client({ directoryUrl: req.directory, accountKey, backoffAttempts: 12, backoffMin: 1000, backoffMax: 5000 });
  await client
    .createAccount({ termsOfServiceAgreed: true, ...(req.email ? { contact: [`mailto:${req.email}`] } : {}) })
    .catch(ctx('account registration'));

  const ord = await client.createOrder(newOrderPayload(req.names, req.profile)).catch(ctx('new order'));
  const authzs = await client.getAuthorizations(ord).catch(ctx('authorizations'));

  const pending: { domain: string; challenge: Challenge; file: string }[] = [];
  for (const a of authzs) {
    if (a.status === 'valid') continue; // the CA remembers a recent validation
    const domain = a.identifier.value;
    const challenge = a.challenges.find((c) => c.type === 'http-01');
    if (!challenge) throw new Error(`ACME: ${domain}: the CA offers no http-01 challenge (offered: ${a.challenges.map((c) => c.type).join(', ') || 'none'})`);
    if (!TOKEN.test(challenge.token)) throw new Error(`ACME: ${domain}: the CA sent a malformed challenge token`);
    pending.push({ domain, challenge, file: `${req.challengeDir}/${challenge.token}` });
  }

  try {
    for (const p of pending) {
      const keyAuth = await client.getChallengeKeyAuthorization(p.challenge);
      await t.put(p.file, Buffer.from(keyAuth, 'utf8'), 0o644);
    }
    // Ask for validation of every name at once, then wait for each; collect all failures.
    const failed: { domain: string; error: unknown }[] = [];
    await Promise.all(
      pending.map(async (p) => {
        try {
          await client.completeChallenge(p.challenge);
          await client.waitForValidStatus(p.challenge);
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
    if (pending.length > 0) {
      await t.exec(`rm -f -- ${pending.map((p) => quote(p.file)).join(' ')}`).catch(() => undefined);
    }
  }

  const [keyPem, csr] = await acme.crypto.createCsr({ commonName: req.names[0], altNames: [...req.names] }, await acme.crypto.createPrivateEcdsaKey('P-256'));
  registerSecret(keyPem.toString('utf8'));
  const finalized = await client.finalizeOrder(ord, csr).catch(ctx('finalize'));
  const certPem = await client.getCertificate(finalized).catch(ctx('certificate download'));
  return { certPem, keyPem };
}

/** What the CA said about each failed challenge: the problem detail (e.g. the address it connected to). */
async function challengeErrors(client: acme.Client, ord: acme.Order): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    for (const a of await client.getAuthorizations(ord)) {
      const ch = a.challenges.find((c) => c.type === 'http-01') as (Challenge & { error?: { type?: string; detail?: string } }) | undefined;
      const err = ch?.error;
      if (err?.detail) out.set(a.identifier.value, `${err.detail.replace(/\s+/g, ' ')}${err.type ? ` (${err.type.replace('urn:ietf:params:acme:error:', '')})` : ''}`);
    }
  } catch {
    // keep what the failed wait reported
  }
  return out;
}
