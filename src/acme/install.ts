/**
 * Putting a new certificate in place on the host. The three files are
 * uploaded as `*.new` and switched in one script, then nginx is tested and
 * reloaded; if `nginx -t` rejects the new pair, the previous files come back
 * and nginx keeps serving the old certificate.
 */
import type { Transport } from '../transport/types.js';
import { outputTail, sh } from '../shell.js';
import { RELOAD_NGINX } from './site.js';
import type { Issued } from './order.js';

/** Files of one certificate directory; `directory` records which CA issued it. */
export const CERT_FILES = ['privkey.pem', 'fullchain.pem', 'directory'] as const;

export function swapScript(dir: string): string {
  return [
    'set -u',
    sh`cd -- ${dir} || exit 1`,
    `for f in ${CERT_FILES.join(' ')}; do`,
    `  [ -s "$f.new" ] || { echo "panel: $f.new missing in $PWD" >&2; exit 1; }`,
    `  if [ -e "$f" ]; then cp -p -- "$f" "$f.prev" || exit 1; else rm -f -- "$f.prev"; fi`,
    `done`,
    `for f in ${CERT_FILES.join(' ')}; do mv -f -- "$f.new" "$f" || exit 1; done`,
    `if command -v nginx >/dev/null 2>&1; then`,
    `  if ! __out=$(nginx -t 2>&1); then`,
    `    for f in ${CERT_FILES.join(' ')}; do [ -e "$f.prev" ] && mv -f -- "$f.prev" "$f"; done`,
    `    printf 'panel: nginx -t rejected the new certificate in %s; the previous files were restored:\\n%s\\n' "$PWD" "$__out" >&2`,
    `    exit 1`,
    `  fi`,
    `  ${RELOAD_NGINX} || exit 1`,
    `fi`,
    `rm -f -- ${CERT_FILES.map((f) => `${f}.prev`).join(' ')}`,
  ].join('\n');
}

export async function installCertificate(t: Transport, dir: string, issued: Issued, directory: string): Promise<void> {
  const mk = await t.exec(sh`install -d -m 0755 -- ${dir}`.text);
  if (mk.code !== 0) throw new Error(`cannot create ${dir}: ${mk.stderr.trim()}`);
  await t.put(`${dir}/privkey.pem.new`, issued.keyPem, 0o600);
  await t.put(`${dir}/fullchain.pem.new`, Buffer.from(issued.certPem, 'utf8'), 0o644);
  await t.put(`${dir}/directory.new`, Buffer.from(directory + '\n', 'utf8'), 0o644);
  const res = await t.exec(swapScript(dir));
  if (res.code !== 0) throw new Error(`installing the certificate in ${dir} failed (exit ${res.code}): ${outputTail(res.stderr, 8)}`);
}
