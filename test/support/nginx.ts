/**
 * The nginx binary the rendering tests run `nginx -t` with: an explicit path
 * (PANEL_TEST_NGINX, else the Debian package's /usr/sbin/nginx, which
 * .ci/install-deps.sh installs), never a PATH lookup. Tests that need nginx
 * absent (the certificate install script without a web server) run with
 * `pathWithoutNginx()`, so both kinds run on the same machine.
 */
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

export const NGINX = process.env.PANEL_TEST_NGINX ?? '/usr/sbin/nginx';
export const hasNginx = existsSync(NGINX);
/** Why a test that needs nginx skips (CI fails on it: .ci/skips.txt does not list it). */
export const NO_NGINX = !hasNginx && `no nginx at ${NGINX} (set PANEL_TEST_NGINX or run .ci/install-deps.sh)`;

/** PATH with NGINX's directory first, for scripts that call `nginx` by name. */
export function pathWithNginx(): string {
  return [dirname(NGINX), process.env.PATH ?? ''].join(delimiter);
}

/** PATH without any directory that holds an `nginx`. */
export function pathWithoutNginx(): string {
  return (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !existsSync(join(d, 'nginx'))).join(delimiter);
}
