/**
 * A throwaway self-signed certificate and key for `nginx -t` of the https
 * site before a certificate is ordered (certificate.ts): nginx loads both
 * files when it tests a configuration, so the site the new certificate would
 * switch on can be tested before the CA is asked. Made here, with the X.509
 * library acme-client itself uses, because panel assumes no openssl on the
 * host. Never used to serve anything; not a secret worth registering.
 */
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export interface Placeholder {
  readonly certPem: string;
  readonly keyPem: string;
}

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export async function placeholderCertificate(names: readonly string[], now = new Date()): Promise<Placeholder> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=${names[0] ?? 'panel.invalid'}`,
      notBefore: now,
      notAfter: new Date(now.getTime() + 24 * 3600e3),
      keys,
      signingAlgorithm: ALG,
      extensions: [new x509.SubjectAlternativeNameExtension(names.map((value) => ({ type: 'dns' as const, value })))],
    },
    webcrypto as Crypto,
  );
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return { certPem: cert.toString('pem'), keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') };
}
