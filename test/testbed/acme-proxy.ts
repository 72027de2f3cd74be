/**
 * STAND-IN for Let's Encrypt's rate limits: a small HTTPS proxy in front of the
 * bed's Pebble (which has no rate limits). It forwards every request as it
 * came (Host kept, so Pebble builds every URL — directory, account, order —
 * on the proxy's address and the JWS `url` checks hold), counts the new
 * orders, and can answer the next new order the way boulder does when a limit
 * is hit: HTTP 429, `Content-Type: application/problem+json`, `Retry-After`
 * in seconds until the limit resets (boulder's wfe sets it from the limit's
 * reset time), and the problem `urn:ietf:params:acme:error:rateLimited` with
 * boulder's detail wording. That order never reaches Pebble.
 *
 * It runs in the test process, on the bridge address, with Pebble's own API
 * certificate (its SAN is the bridge address), so `--acme-ca` is unchanged.
 */
import { readFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { URL } from 'node:url';

export interface AcmeProxy {
  /** The directory URL to pass to panel (`--acme-directory`). */
  readonly directory: string;
  /** New orders (POST to Pebble's newOrder) that reached Pebble. */
  readonly ordersForwarded: number;
  /** New orders answered with 429 instead. */
  readonly ordersRefused: number;
  /** Answer the next new order with a rateLimited 429 and `Retry-After: seconds`. */
  rateLimitNextOrder(seconds: number): void;
  stop(): Promise<void>;
}

/** Pebble's newOrder path (pebble/wfe: newOrderPath). */
const NEW_ORDER = '/order-plz';

export interface AcmeProxyOptions {
  /**
   * Added to the directory's `meta` as Let's Encrypt's has it
   * (`"caaIdentities": ["letsencrypt.org"]`); Pebble's has none.
   */
  readonly caaIdentities?: readonly string[];
}

/** `pebbleDirectory` is the bed's Pebble directory URL; `caFile` its API CA (next to its cert and key). */
export async function startAcmeProxy(pebbleDirectory: string, caFile: string, opts: AcmeProxyOptions = {}): Promise<AcmeProxy> {
  const upstream = new URL(pebbleDirectory);
  const runDir = dirname(caFile);
  const ca = readFileSync(caFile);
  let refuseNext: number | undefined;
  let forwarded = 0;
  let refused = 0;
  const server: Server = createServer({ cert: readFileSync(join(runDir, 'pebble-api-cert.pem')), key: readFileSync(join(runDir, 'pebble-api-key.pem')) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const isNewOrder = req.method === 'POST' && req.url === NEW_ORDER;
      if (isNewOrder && refuseNext !== undefined) {
        const seconds = refuseNext;
        refuseNext = undefined;
        refused++;
        const at = new Date(Date.now() + seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
        const body = JSON.stringify({
          type: 'urn:ietf:params:acme:error:rateLimited',
          detail: `too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after ${at}: see https://letsencrypt.org/docs/rate-limits/#new-certificates-per-exact-set-of-identifiers`,
          status: 429,
        });
        res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': String(seconds), 'content-length': Buffer.byteLength(body) });
        res.end(body);
        return;
      }
      if (isNewOrder) forwarded++;
      const up = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, ca, agent: false },
        (ures) => {
          if (!(req.method === 'GET' && req.url === upstream.pathname && opts.caaIdentities)) {
            res.writeHead(ures.statusCode ?? 502, ures.headers);
            ures.pipe(res);
            return;
          }
          const body: Buffer[] = [];
          ures.on('data', (c: Buffer) => body.push(c));
          ures.on('end', () => {
            const dir = JSON.parse(Buffer.concat(body).toString('utf8')) as { meta?: Record<string, unknown> };
            const out = JSON.stringify({ ...dir, meta: { ...(dir.meta ?? {}), caaIdentities: opts.caaIdentities } });
            res.writeHead(ures.statusCode ?? 502, { ...ures.headers, 'content-length': Buffer.byteLength(out) });
            res.end(out);
          });
        },
      );
      up.on('error', (e) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`acme proxy: ${e.message}`);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, upstream.hostname, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    directory: `https://${upstream.hostname}:${port}${upstream.pathname}`,
    get ordersForwarded() {
      return forwarded;
    },
    get ordersRefused() {
      return refused;
    },
    rateLimitNextOrder(seconds) {
      refuseNext = seconds;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
