/**
 * The host script that puts a new certificate in place, handed to the engine
 * as the end of the certificate's change (so it shares the round trip with the
 * changes after it, e.g. the site's switch to https). The three files are
 * written as `*.new` and switched together; if `nginx -t` rejects the new
 * pair, the previous files come back and nginx keeps serving the old
 * certificate. The script embeds the private key: like every change script it
 * is sent on stdin and never printed.
 */
import { lines, type Script, sh, writeBytesScript } from '../shell.js';
import { RELOAD_NGINX } from '../nginx/site.js';
import type { Issued } from './order.js';

/** Files of one certificate directory; `directory` records which CA issued it. */
export const CERT_FILES = ['privkey.pem', 'fullchain.pem', 'directory'] as const;

export function swapScript(dir: string): Script {
  return sh`cd -- ${dir} || exit 1
for f in privkey.pem fullchain.pem directory; do
  [ -s "$f.new" ] || { echo "panel: $f.new missing in $PWD" >&2; exit 1; }
  if [ -e "$f" ]; then cp -p -- "$f" "$f.prev" || exit 1; else rm -f -- "$f.prev"; fi
done
for f in privkey.pem fullchain.pem directory; do mv -f -- "$f.new" "$f" || exit 1; done
if command -v nginx >/dev/null 2>&1; then
  if ! __out=$(nginx -t 2>&1); then
    for f in privkey.pem fullchain.pem directory; do if [ -e "$f.prev" ]; then mv -f -- "$f.prev" "$f"; fi; done
    printf 'panel: nginx -t rejected the new certificate in %s; the previous files were restored:\n%s\n' "$PWD" "$__out" >&2
    exit 1
  fi
  ${RELOAD_NGINX}
fi
rm -f -- privkey.pem.prev fullchain.pem.prev directory.prev`;
}

/** Write the issued files next to the live ones, then swap them in. */
export function installScript(dir: string, issued: Issued, directory: string): Script {
  return lines(
    sh`install -d -m 0755 -- ${dir}`,
    // The key is never readable by others, not even between write and chmod.
    sh`( umask 077`,
    writeBytesScript(issued.keyPem, `${dir}/privkey.pem.new`),
    sh`)`,
    writeBytesScript(Buffer.from(issued.certPem, 'utf8'), `${dir}/fullchain.pem.new`),
    writeBytesScript(Buffer.from(directory + '\n', 'utf8'), `${dir}/directory.new`),
    sh`chmod 0600 -- ${`${dir}/privkey.pem.new`} && chmod 0644 -- ${`${dir}/fullchain.pem.new`} ${`${dir}/directory.new`}`,
    swapScript(dir),
  );
}
