/**
 * What the host checks in the step that publishes the pre-flight probe, before
 * the CA hears of an order: nginx as it stands, the https site a first
 * certificate would switch on (tested with a placeholder certificate), and the
 * host's own fetch of the probe. Each failure is a `panel_fail` line naming the
 * cause and the fix; the certificate resource (certificate.ts) runs them.
 */
import type { Change, FileCandidate } from '../resources/types.js';
import { lines, type Script, sh, withBytes } from '../shell.js';

/**
 * Before any order: the host's nginx configuration as it stands (the site
 * this run rendered included) must pass `nginx -t`, or the new certificate's
 * install would be refused after the CA issued it. On a first certificate the
 * https site to come is tested too (candidateTestScript), in the same step.
 */
export const NGINX_BEFORE_ORDER: Script = sh`__out=$(nginx -t 2>&1) || panel_fail ${'ACME: not ordering: nginx -t fails on the host, so installing a new certificate would fail too; fix the nginx configuration first:'} "$__out"`;

/**
 * The https site a follow-up will switch on with the new certificate (the
 * site resource offers its text as `candidate`), when there is one: on a
 * renewal the site already names the certificate's files, and the plain
 * `nginx -t` tests it as it will be.
 */
export function siteCandidate(dir: string, followUps: readonly Change[]): FileCandidate | undefined {
  return followUps.find((c) => c.candidate?.content.includes(`${dir}/fullchain.pem`))?.candidate;
}

/** The host step before any order: nginx as it stands, then the https site to come with a placeholder certificate. */
export async function beforeOrder(names: readonly string[], dir: string, followUps: readonly Change[]): Promise<Script> {
  const candidate = siteCandidate(dir, followUps);
  if (candidate === undefined) return NGINX_BEFORE_ORDER;
  const { placeholderCertificate } = await import('./placeholder.js');
  return lines(NGINX_BEFORE_ORDER, candidateTestScript(candidate, dir, await placeholderCertificate(names)));
}

/**
 * `nginx -t` of the configuration with the candidate site in its place and a
 * placeholder certificate and key in the live ones' (the candidate names
 * `<dir>/fullchain.pem` and `privkey.pem`, which a first order has not written
 * yet): an ssl directive this host's nginx or OpenSSL does not know is found
 * before the CA is asked, not after it issued. The temporary files go whatever
 * the outcome; the live configuration is never touched.
 */
export function candidateTestScript(candidate: FileCandidate, dir: string, placeholder: { readonly certPem: string; readonly keyPem: string }): Script {
  const fix = `ACME: not ordering: nginx -t refuses the https site the new certificate would switch on (${candidate.path}, tested with a placeholder certificate), so the certificate would be issued and then refused;`;
  return lines(
    sh`__pc=$(mktemp -d) || panel_fail 'ACME: not ordering: mktemp -d failed on the host'`,
    sh`__rc=0`,
    sh.raw`__out=$(`,
    withBytes(sh`base64 -d > "$__pc/fullchain.pem"`, Buffer.from(placeholder.certPem, 'utf8')),
    withBytes(sh`base64 -d > "$__pc/privkey.pem"`, Buffer.from(placeholder.keyPem, 'utf8')),
    withBytes(sh`base64 -d > "$__pc/site.in"`, Buffer.from(candidate.content, 'utf8')),
    sh`panel_nginx_swap_refs "$__pc/fullchain.pem" ${`${dir}/fullchain.pem`} "$__pc/privkey.pem" ${`${dir}/privkey.pem`} < "$__pc/site.in" > "$__pc/site.conf" || exit 1`,
    sh`panel_nginx_test "$__pc/site.conf" ${candidate.path} 2>&1`,
    sh.raw`) || __rc=$?`,
    sh`rm -rf -- "$__pc"`,
    // nginx's own first complaint, with the temporary path put back as the site's.
    sh`if [ "$__rc" != 0 ]; then`,
    sh`  __why=$(printf '%s\n' "$__out" | grep -m1 -F '[emerg]' || printf '%s\n' "$__out" | panel_tail 1)`,
    // As nginx prints it without an error log (`nginx: [emerg] …`), not with the log's date and pid.
    sh.raw`  if [[ $__why =~ \[emerg\]\ ([0-9]+#[0-9]+:\ )?(.*)$ ]]; then __why="nginx: [emerg] \${BASH_REMATCH[2]}"; fi`,
    sh`  __site=${candidate.path}; __cf="$__pc/site.conf"; __why=\${__why//"$__cf"/"$__site"}`,
    sh`  panel_fail ${fix} "$__why;" ${'fix: the site settings (nginx recipe params, a template override) for the nginx on this host, then run again'}`,
    sh`fi`,
  );
}

/**
 * The host's own fetch of the probe, per name, in the step that publishes it:
 * another server answering there (DNS or /etc/hosts on the host, a proxy in
 * front) stops the order, since the CA validates from several places and each
 * must reach this host; no answer at all passes (panel_http01_probe).
 */
export function hostProbeScript(names: readonly string[], probe: { readonly token: string; readonly content: string }): Script {
  return lines(
    ...names.map((n) => {
      const url = `http://${n}/.well-known/acme-challenge/${probe.token}`;
      return sh`__why=$(panel_http01_probe ${url} ${probe.content}) || panel_fail ${`ACME: not ordering ${names.join(', ')} (pre-flight, the CA was not asked): ${n}: from the host itself, http://${n}/.well-known/acme-challenge/`} "$__why"${`, so ${n} leads to another server from there and the CA, which validates from several places, may get it too; fix: point ${n} (DNS, and /etc/hosts on the host) at this host and remove whatever answers in front of it on port 80`}`;
    }),
  );
}
