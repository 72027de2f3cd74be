/**
 * The ACME CA: Debian's Pebble with pebble-challtestsrv as its DNS resolver.
 * Test domains resolve (through challtestsrv's mock A records) to host
 * addresses, so HTTP-01 is validated against a host's real nginx on port 80.
 * Pebble's API is served over TLS with a certificate from a per-bed CA (caFile).
 * challtestsrv also answers on the bridge's port 53, the resolver hosts name
 * upstream, so a name resolves from inside a container as on a user's host.
 */
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { spawnDetached, waitPort, type ProcRecord } from './procs.js';
import { mustBash } from './run.js';

export const ACME_PORT = 14000;
export const ACME_MGMT_PORT = 15000;
export const DNS_PORT = 8053;
export const CHALLTESTSRV_MGMT_PORT = 8055;

export interface PebbleOptions {
  /** Lifetime of issued certificates (Pebble's `certificateValidityPeriod`, in 2.4.0 and 2.6.0). */
  certValiditySeconds?: number;
  /**
   * Whose Pebble: bookworm's 2.4.0 (installed on the machine; no ARI), or
   * trixie's 2.6.0, which serves ACME Renewal Information (renewalInfo in the
   * directory, GET renewalInfo/<certID>, `replaces` in newOrder; upstream
   * added it in v2.6.0). Trixie's binary is taken from its .deb (checked
   * against the archive's Packages index) into the testbed cache; the
   * machine's apt sources are not touched.
   */
  release?: 'bookworm' | 'trixie' | 'sid';
  /**
   * ACME profiles with their lifetimes (Pebble ≥ 2.7.0: sid's 2.10.0 only),
   * e.g. { tlsserver: 45 days, shortlived: 160 h }: several lifetimes from one Pebble.
   */
  profiles?: Readonly<Record<string, { validitySeconds: number }>>;
  /** Retry-After Pebble sends on pending authorizations and unfinished orders (its `retryAfter`; 2.6.0, not 2.4.0). */
  retryAfterSeconds?: number;
}

const NEWER_PEBBLE_RECIPE = String.raw`
set -eu
cd "$OUT"
curl -fsS --retry 3 -m 120 -o Packages.xz "$MIRROR/dists/$SUITE/main/binary-amd64/Packages.xz"
xz -d Packages.xz # not piped into awk: its early exit would be SIGPIPE under pipefail
awk '/^Package: pebble$/{p=1} p&&/^$/{exit} p' Packages > stanza
file=$(sed -n 's/^Filename: //p' stanza); sum=$(sed -n 's/^SHA256: //p' stanza); version=$(sed -n 's/^Version: //p' stanza)
[ -n "$file" ] && [ -n "$sum" ] || { echo "no pebble in $SUITE's Packages index" >&2; exit 1; }
curl -fsS --retry 3 -m 300 -o pebble.deb "$MIRROR/$file"
echo "$sum  pebble.deb" | sha256sum -c --quiet
dpkg-deb -x pebble.deb root
cp root/usr/bin/pebble pebble
echo "$version" > version
rm -rf root pebble.deb Packages stanza
`;

/**
 * A newer Debian suite's pebble binary (cached once per machine). sid moves:
 * its cache is rebuilt when the recipe changes, not when sid does — what the
 * cache holds is written in its `version` file.
 */
async function newerPebble(suite: 'trixie' | 'sid'): Promise<string> {
  const { cached } = await import('./cache.js');
  const { DEBIAN_MIRROR } = await import('./base.js');
  const dir = await cached(`pebble-${suite}`, `${suite}\n${NEWER_PEBBLE_RECIPE}`, (out) => mustBash(NEWER_PEBBLE_RECIPE, { env: { ...process.env, OUT: out, MIRROR: DEBIAN_MIRROR, SUITE: suite } }).then(() => undefined));
  return join(dir, 'pebble');
}

export interface PebbleHandle {
  directory: string;
  caFile: string;
  procs: ProcRecord[];
}

/** A CA and a server certificate for the bridge address (Pebble's API TLS). */
async function makeTlsCert(dir: string, address: string): Promise<{ ca: string; cert: string; key: string }> {
  const ca = join(dir, 'pebble-api-ca.pem');
  const cert = join(dir, 'pebble-api-cert.pem');
  const key = join(dir, 'pebble-api-key.pem');
  await mustBash(
    String.raw`
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=panel testbed Pebble API CA" -keyout pebble-api-ca-key.pem -out pebble-api-ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$ADDR" \
  -keyout pebble-api-key.pem -out pebble-api.csr 2>/dev/null
printf 'subjectAltName=IP:%s,DNS:pebble,DNS:localhost\nextendedKeyUsage=serverAuth\n' "$ADDR" > pebble-api.ext
openssl x509 -req -in pebble-api.csr -CA pebble-api-ca.pem -CAkey pebble-api-ca-key.pem -CAcreateserial \
  -days 30 -extfile pebble-api.ext -out pebble-api-cert.pem 2>/dev/null
`,
    { env: { ...process.env, DIR: dir, ADDR: address } },
  );
  return { ca, cert, key };
}

/** `record` is called for each process right after it starts, so a failure later leaves no untracked process. */
export async function startPebble(
  runDir: string,
  address: string,
  opts: PebbleOptions,
  record: (p: ProcRecord) => Promise<void>,
): Promise<PebbleHandle> {
  const tls = await makeTlsCert(runDir, address);
  const config = join(runDir, 'pebble-config.json');
  await writeFile(
    config,
    JSON.stringify(
      {
        pebble: {
          listenAddress: `${address}:${ACME_PORT}`,
          managementListenAddress: `${address}:${ACME_MGMT_PORT}`,
          certificate: tls.cert,
          privateKey: tls.key,
          httpPort: 80,
          tlsPort: 443,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
          ...(opts.certValiditySeconds !== undefined ? { certificateValidityPeriod: opts.certValiditySeconds } : {}),
          ...(opts.profiles !== undefined
            ? { profiles: Object.fromEntries(Object.entries(opts.profiles).map(([name, p]) => [name, { description: `panel testbed: ${p.validitySeconds} s`, validityPeriod: p.validitySeconds }])) }
            : {}),
          ...(opts.retryAfterSeconds !== undefined ? { retryAfter: { authz: opts.retryAfterSeconds, order: opts.retryAfterSeconds } } : {}),
        },
      },
      null,
      2,
    ),
  );
  const dns = await spawnDetached(
    [
      'pebble-challtestsrv',
      // :53 too: the bed's DNS server, the upstream resolver a profile's host names (cloud-like's
      // systemd-resolved; faasd's resolv.conf then points containers at it), as a user's host has one.
      '-dns01', `${address}:${DNS_PORT},${address}:53`,
      '-http01', '',
      '-https01', '',
      '-tlsalpn01', '',
      '-management', `${address}:${CHALLTESTSRV_MGMT_PORT}`,
      // Unknown names must not resolve (the default answers 127.0.0.1 / ::1).
      '-defaultIPv4', '',
      '-defaultIPv6', '',
    ],
    join(runDir, 'challtestsrv.log'),
    'pebble-challtestsrv',
  );
  await record(dns);
  const pebbleBin = opts.release === 'trixie' || opts.release === 'sid' ? await newerPebble(opts.release) : 'pebble';
  const pebble = await spawnDetached(
    [pebbleBin, '-config', config, '-dnsserver', `${address}:${DNS_PORT}`],
    join(runDir, 'pebble.log'),
    'pebble',
    { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0' },
    runDir,
  );
  await record(pebble);
  await Promise.all([
    waitPort(address, CHALLTESTSRV_MGMT_PORT, 15_000, dns),
    waitPort(address, ACME_PORT, 15_000, pebble),
    waitPort(address, ACME_MGMT_PORT, 15_000, pebble),
  ]);
  return { directory: `https://${address}:${ACME_PORT}/dir`, caFile: tls.ca, procs: [dns, pebble] };
}

/** POST a JSON body to challtestsrv's management API. */
export function challtestsrv(address: string, path: string, body: unknown): Promise<void> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest(
      { host: address, port: CHALLTESTSRV_MGMT_PORT, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } },
      (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`challtestsrv ${path}: HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** GET from Pebble's management API over TLS trusting the bed's CA. */
export function pebbleManagement(address: string, path: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: address, port: ACME_MGMT_PORT, path, method: 'GET', ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode === 200) resolve(text);
        else reject(new Error(`pebble ${path}: HTTP ${res.statusCode}: ${text}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}
