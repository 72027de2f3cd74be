/**
 * What panel needs to know about an installed certificate, and the pure
 * decision whether to order a new one. No I/O here: the facts come from the
 * host, the clock from the caller.
 */
import { X509Certificate } from 'node:crypto';
import { err, ok, type Result } from '../result.js';
import { type AriWindow, certId } from './ari.js';

export interface CertInfo {
  readonly serial: string;
  /** DNS names from subjectAltName, lower-case. */
  readonly names: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuer: string;
  /** The certificate names an OCSP responder (stapling can work). */
  readonly ocsp: boolean;
  /** Its ARI certID (RFC 9773 §4.1); undefined without an Authority Key Identifier. */
  readonly ariId?: string;
}

/** Parse the first certificate of a PEM chain; an error message when it cannot be read. */
export function parseCertificate(pem: string): Result<CertInfo, string> {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (!first) return err('no PEM certificate found');
  let x: X509Certificate;
  try {
    x = new X509Certificate(first[0]);
  } catch (e) {
    return err(`unreadable certificate: ${(e as Error).message}`);
  }
  const names = (x.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4).toLowerCase());
  return ok({
    serial: x.serialNumber.toLowerCase(),
    names,
    notBefore: new Date(x.validFrom),
    notAfter: new Date(x.validTo),
    issuer: x.issuer,
    ocsp: /OCSP - URI:/.test(x.infoAccess ?? ''),
    ...ariIdOf(first[0]),
  });
}

function ariIdOf(pem: string): { ariId?: string } {
  try {
    return { ariId: certId(pem) };
  } catch {
    return {};
  }
}

/** Lifetimes shorter than this renew at half their lifetime left (Let's Encrypt `shortlived`: 160 h). */
export const SHORT_LIFETIME_MS = 10 * 86_400_000;

/**
 * How much of its lifetime a certificate has left when it is renewed: a
 * third, or half for lifetimes under 10 days (a third of 160 h is 53 h: one
 * failed weekend). Lifetimes are shrinking (90 → 64 → 45 days, 160 hours), so
 * a fixed "30 days before expiry" would renew a 45-day certificate after 15
 * days, or a 6-day one never in time.
 */
export function renewalShare(cert: Pick<CertInfo, 'notBefore' | 'notAfter'>): { readonly left: number; readonly words: string } {
  return cert.notAfter.getTime() - cert.notBefore.getTime() < SHORT_LIFETIME_MS ? { left: 1 / 2, words: 'half' } : { left: 1 / 3, words: 'a third' };
}

/** When a certificate is due for renewal (see renewalShare). */
export function renewalTime(cert: Pick<CertInfo, 'notBefore' | 'notAfter'>): Date {
  const from = cert.notBefore.getTime();
  const to = cert.notAfter.getTime();
  return new Date(to - (to - from) * renewalShare(cert).left);
}

/** The certificate as the host has it (facts). */
export interface InstalledCert {
  /** Undefined when fullchain.pem is absent; an error when it is unreadable. */
  readonly cert: Result<CertInfo, string> | undefined;
  readonly keyPresent: boolean;
  /** ACME directory the certificate was ordered from (recorded next to it). */
  readonly directory: string | undefined;
}

export interface Desired {
  readonly names: readonly string[];
  readonly directory: string;
}

/**
 * When a certificate is due for renewal and what decided it: the CA's window
 * (ARI) when one is known, which replaces the ⅓ / ½ rule earlier or later;
 * else that rule. The one answer for the renewal itself (orderReason), `check`
 * (the same plan) and the status page.
 */
export type RenewalDue =
  | { readonly at: Date; readonly by: 'ari'; readonly window: AriWindow }
  | { readonly at: Date; readonly by: 'lifetime'; readonly words: string };

export function renewalDue(cert: Pick<CertInfo, 'notBefore' | 'notAfter'>, ari?: AriWindow): RenewalDue {
  return ari !== undefined ? { at: ari.renewAt, by: 'ari', window: ari } : { at: renewalTime(cert), by: 'lifetime', words: renewalShare(cert).words };
}

/** The window as people read it: `start – end`, and the CA's explanation when it gave one. */
export function windowText(w: AriWindow): string {
  return `${w.start.toISOString()} – ${w.end.toISOString()}${w.explanationURL !== undefined ? ` (the CA explains: ${w.explanationURL})` : ''}`;
}

/** Why a certificate past its renewal time is due, naming what decided it. */
export function dueReason(cert: Pick<CertInfo, 'notAfter'>, due: RenewalDue, now: Date): string {
  const expires = `expires ${cert.notAfter.toISOString()}`;
  if (due.by === 'lifetime') return `less than ${due.words} of its lifetime left (renewal due ${due.at.toISOString()}, ${expires})`;
  const w = due.window;
  return now.getTime() >= w.end.getTime()
    ? `the CA's renewal window (ARI) ${windowText(w)} has passed: renew at once (${expires})`
    : `inside the CA's renewal window (ARI) ${windowText(w)} (renewal drawn for ${w.renewAt.toISOString()}, ${expires})`;
}

/**
 * Why a new certificate must be ordered, or undefined when the installed one
 * is fine. With the CA's window (ARI), the CA decides when (renewalDue).
 */
export function orderReason(have: InstalledCert, want: Desired, now: Date, ari?: AriWindow): string | undefined {
  if (have.cert === undefined) return 'absent';
  if (!have.cert.ok) return `installed certificate unreadable: ${have.cert.error}`;
  if (!have.keyPresent) return 'private key missing';
  const cert = have.cert.value;
  const haveNames = [...cert.names].sort();
  const wantNames = [...want.names].map((n) => n.toLowerCase()).sort();
  if (haveNames.join(',') !== wantNames.join(',')) return `names differ: has ${haveNames.join(', ') || 'none'}`;
  if (have.directory !== want.directory) return `issued by ${have.directory ?? 'an unknown CA'}, wanted from ${want.directory}`;
  if (now.getTime() >= cert.notAfter.getTime()) return `expired ${cert.notAfter.toISOString()}`;
  const due = renewalDue(cert, ari);
  return now.getTime() >= due.at.getTime() ? dueReason(cert, due, now) : undefined;
}
