/**
 * The host script that puts a new certificate in place, handed to the engine
 * as the end of the certificate's change (so it shares the round trip with the
 * changes after it, e.g. the site's switch to https). The three files are
 * written as one unit (src/resources/write.ts): `nginx -t` checks the new key
 * and chain in the configuration as it would be, before either is live; if
 * it refuses them, nothing is replaced and nginx keeps serving the old
 * certificate. The script embeds the private key: like every change script it
 * is sent on stdin and never printed.
 */
import { lines, type Script, sh } from '../shell.js';
import { writeUnit } from '../resources/write.js';
import { RELOAD_NGINX } from '../nginx/site.js';
import type { Issued } from './order.js';

/** nginx -t with the new files in place of the live ones (prelude: panel_nginx_test_refs), where nginx is installed. */
function nginxAccepts(dir: string): Script {
  return sh`if command -v nginx >/dev/null 2>&1; then panel_nginx_test_refs "$@" || { printf 'nginx -t rejected the new certificate in %s; the previous certificate stays live\\n' ${dir}; exit 1; }; fi`;
}

/** Write the issued files as one unit, then reload nginx. */
export function installScript(dir: string, issued: Issued, directory: string): Script {
  return lines(
    sh`install -d -m 0755 -- ${dir}`,
    writeUnit(
      [
        // The key is never readable by others: its temp file is 0600 from the start.
        { path: `${dir}/privkey.pem`, mode: 0o600, backup: 'never', fill: { bytes: issued.keyPem } },
        { path: `${dir}/fullchain.pem`, mode: 0o644, backup: 'never', fill: { bytes: Buffer.from(issued.certPem, 'utf8') } },
        { path: `${dir}/directory`, mode: 0o644, backup: 'never', fill: { bytes: Buffer.from(directory + '\n', 'utf8') } },
      ],
      nginxAccepts(dir),
    ),
    sh`if command -v nginx >/dev/null 2>&1; then ${RELOAD_NGINX}; fi`,
  );
}
