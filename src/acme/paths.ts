/** Where ACME's files live on a host: the challenge webroot nginx serves and the certificate directories. */

/** HTTP-01 challenge files live under <webroot>/.well-known/acme-challenge/. */
export const WEBROOT = '/var/www/panel-acme';
export const CHALLENGE_DIR = `${WEBROOT}/.well-known/acme-challenge`;
export const CERTS_DIR = '/etc/panel/certs';

export function certDir(primary: string): string {
  return `${CERTS_DIR}/${primary}`;
}
