/**
 * Trusting a private ACME CA (Pebble in tests, a company CA) for the ACME
 * API's own HTTPS: only acme-client's axios instance gets the extra root, in
 * addition to the system roots — verification is never switched off.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import acme from 'acme-client';

const agents = new Map<string, https.Agent>();

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
