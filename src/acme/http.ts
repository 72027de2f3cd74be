/**
 * Trusting a private ACME CA (Pebble in tests, a company CA) for the ACME
 * API's own HTTPS: only acme-client's axios instance gets the extra root, in
 * addition to the system roots — verification is never switched off.
 */
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';
import { USER_AGENT } from './user-agent.js';

const agents = new Map<string, https.Agent>();

/**
 * Fetch the ACME directory once with plain node https, before acme-client:
 * its retry interceptor turns TLS and connection errors into "Cannot read
 * properties of undefined", so the real cause would be lost.
 */
export function probeDirectory(url: string, caFile: string | undefined): Promise<DirectoryMeta> {
  return new Promise((resolve, reject) => {
    const agent = caFile !== undefined ? agents.get(caFile) : undefined;
    const get = url.startsWith('https:') ? https.get : httpGet;
    const req = get(url, { ...(agent ? { agent } : {}), headers: { 'user-agent': USER_AGENT }, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode === 200) resolve(metaOf(body));
        else reject(new Error(`ACME directory ${url} answered HTTP ${res.statusCode}`));
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const tls = /certificate|self[- ]signed|UNABLE_TO|DEPTH_ZERO|CERT_/i.test(`${e.code ?? ''} ${e.message}`);
      reject(new Error(`ACME directory ${url} unreachable: ${e.message}${tls ? ' (the ACME server\'s own certificate is not trusted: pass its CA with --acme-ca)' : ''}`));
    });
  });
}

/** What panel reads from the directory's `meta` (RFC 8555 §7.1.1). */
export interface DirectoryMeta {
  /** Domains the CA recognises in CAA `issue` records (Let's Encrypt: letsencrypt.org). */
  readonly caaIdentities?: readonly string[];
}

function metaOf(body: string): DirectoryMeta {
  try {
    const meta = (JSON.parse(body) as { meta?: { caaIdentities?: unknown } }).meta;
    const ids = meta?.caaIdentities;
    return Array.isArray(ids) && ids.every((i) => typeof i === 'string') ? { caaIdentities: ids } : {};
  } catch {
    return {};
  }
}

export function trustCa(caFile: string | undefined): void {
  if (caFile === undefined) {
    delete acme.axios.defaults.httpsAgent;
    return;
  }
  let agent = agents.get(caFile);
  if (!agent) {
    let pem: string;
    try {
      pem = readFileSync(caFile, 'utf8');
    } catch (e) {
      throw new Error(`ACME CA file ${caFile}: ${(e as Error).message}`);
    }
    agent = new https.Agent({ ca: [...rootCertificates, pem], keepAlive: false });
    agents.set(caFile, agent);
  }
  acme.axios.defaults.httpsAgent = agent;
}
