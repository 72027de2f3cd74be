/**
 * The status page at https://DOMAIN/panel/ (see src/status/page.ts for the
 * page, written at the end of every install). This recipe prepares what
 * nginx needs to serve it: the page's directory and an htpasswd file made
 * ON THE HOST from faasd's basic-auth secrets (the password never leaves
 * the host, never appears in argv or output), remade only when they change.
 */
import { FAASD } from './faasd.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { apt, command, directory } from '../src/resources/index.js';
import { lines, sh } from '../src/shell.js';
import { STATUS } from '../src/status/paths.js';
import { z } from 'zod';

/** sha256 of user + password: tells whether the htpasswd is still made from the current secrets. */
const SOURCE_SUM = sh`cat ${FAASD.userFile} ${FAASD.passwordFile} | sha256sum | cut -d' ' -f1`;

export default defineRecipe({
  id: STATUS.recipe,
  title: 'status page at /panel/ (faasd admin credentials)',
  after: ['faasd', 'nginx'],
  params: z.object({}).strict(),
  resources: () => [
    // `openssl passwd` makes the crypt hash nginx checks.
    apt({ packages: ['openssl'] }),
    directory({ path: STATUS.dir }),
    command({
      name: `htpasswd ${STATUS.htpasswd}`,
      check: sh`[ -s ${STATUS.htpasswd} ] && [ "$(cat ${STATUS.htpasswdSource} 2>/dev/null)" = "$(${SOURCE_SUM})" ]`,
      run: lines(
        sh`__t=$(mktemp ${`${STATUS.htpasswd}.XXXXXX`}) || exit 1`,
        sh`trap 'rm -f -- "$__t"' EXIT`,
        // The password goes to openssl on stdin only.
        sh`printf '%s:%s\\n' "$(cat ${FAASD.userFile})" "$(openssl passwd -6 -stdin < ${FAASD.passwordFile})" > "$__t" || exit 1`,
        sh`chown root:www-data "$__t" && chmod 0640 "$__t" && mv -f -- "$__t" ${STATUS.htpasswd} || exit 1`,
        sh`trap - EXIT`,
        sh`${SOURCE_SUM} > ${STATUS.htpasswdSource} && chmod 0600 ${STATUS.htpasswdSource}`,
      ),
      reason: 'absent or made from other credentials',
    }),
  ],
  verify: () => [
    {
      name: 'the status page asks for credentials',
      // Over HTTPS when the site has it. Without a certificate the page is never served over
      // plain HTTP (the nginx site answers 503 "certificate pending", or 403 with
      // nginx.insecureHttp): that is the check's pass too, said as such.
      script: sh`__c=$(curl -sk -o /dev/null -w '%{http_code}' ${`https://127.0.0.1${STATUS.route}`})
if [ "$__c" != 000 ]; then echo "$__c"; else
  __h=$(curl -s -o /dev/null -w '%{http_code}' ${`http://127.0.0.1${STATUS.route}`})
  case $__h in 503|403) echo "no certificate yet: not served over plain HTTP ($__h)" ;; *) echo "$__h over plain HTTP" ;; esac
fi`,
      expect: /^(401|no certificate yet: not served over plain HTTP)/,
    },
  ],
});
