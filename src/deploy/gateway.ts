/**
 * A client of the OpenFaaS gateway's API that reaches it through a stream the
 * caller opens (a forwarded SSH channel to the host's loopback): no port is
 * opened on the host and the admin credentials travel only inside that
 * channel. Every failure is a value naming the endpoint and the gateway's own
 * words; the credentials never appear in one.
 */
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { err, ok, type Result } from '../result.js';
import type { Secret } from '../secret.js';
import { z as zod } from 'zod';
import { functionList, functionStatus, secretList, type FunctionDeployment, type FunctionStatus } from './api.js';

const providerInfo = zod.object({ provider: zod.object({ provider: zod.string() }).partial().optional() });

export interface Credentials {
  readonly user: string;
  readonly password: Secret;
}

export interface GatewayOptions {
  /** Opens a fresh stream to the gateway for each request. */
  readonly connect: () => Promise<Duplex>;
  readonly credentials: Credentials;
  /** Per request (default 60 s: a deploy pulls the image before faasd answers). */
  readonly timeoutMs?: number;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** The gateway's error text, on one line and short: it is quoted in a recap line. */
function gist(body: string): string {
  const one = body.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 300)}…` : one;
}

export class Gateway {
  readonly #o: GatewayOptions;
  /** HTTP requests made, for the recap's cost figures and the tests. */
  requests = 0;

  constructor(o: GatewayOptions) {
    this.#o = o;
  }

  async #send(method: string, path: string, body?: unknown): Promise<Result<Answer, string>> {
    let stream: Duplex;
    try {
      stream = await this.#o.connect();
    } catch (e) {
      return err(`${method} ${path}: ${(e as Error).message}`);
    }
    this.requests++;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const auth = Buffer.from(`${this.#o.credentials.user}:${this.#o.credentials.password.reveal()}`).toString('base64');
    return new Promise((resolve) => {
      const req = request(
        {
          method,
          path,
          host: '127.0.0.1',
          // No agent: node then takes the connection from createConnection (one stream per request).
          createConnection: () => stream,
          headers: {
            authorization: `Basic ${auth}`,
            connection: 'close',
            ...(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {}),
          },
          timeout: this.#o.timeoutMs ?? 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => {
            stream.destroy();
            resolve(ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          });
          res.on('error', (e) => resolve(err(`${method} ${path}: ${e.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer in ${Math.round((this.#o.timeoutMs ?? 60_000) / 1000)} s`)));
      req.on('error', (e) => {
        stream.destroy();
        resolve(err(`${method} ${path}: ${e.message}`));
      });
      req.end(payload);
    });
  }

  async #json<S extends zod.ZodType>(path: string, schema: S): Promise<Result<zod.output<S>, string>> {
    const r = await this.#send('GET', path);
    if (!r.ok) return r;
    if (r.value.status === 401) return err(`GET ${path}: 401 Unauthorized (the admin credentials in /var/lib/faasd/secrets were refused)`);
    if (r.value.status !== 200) return err(`GET ${path}: HTTP ${r.value.status}: ${gist(r.value.body)}`);
    let data: unknown;
    try {
      data = JSON.parse(r.value.body);
    } catch {
      return err(`GET ${path}: not JSON: ${gist(r.value.body)}`);
    }
    const parsed = schema.safeParse(data ?? []);
    return parsed.success ? ok(parsed.data) : err(`GET ${path}: unexpected answer: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }

  /** Succeeds on any 2xx; otherwise the gateway's own words. */
  async #write(method: 'POST' | 'PUT' | 'DELETE', path: string, body: unknown): Promise<Result<void, string>> {
    const r = await this.#send(method, path, body);
    if (!r.ok) return r;
    if (r.value.status >= 200 && r.value.status < 300) return ok(undefined);
    return err(`${method} ${path}: HTTP ${r.value.status}: ${gist(r.value.body) || '(no message)'}`);
  }

  functions(): Promise<Result<FunctionStatus[], string>> {
    return this.#json('/system/functions', functionList);
  }

  /** One function's status; undefined when the gateway does not know it (404). */
  async function(name: string): Promise<Result<FunctionStatus | undefined, string>> {
    const path = `/system/function/${encodeURIComponent(name)}`;
    const r = await this.#send('GET', path);
    if (!r.ok) return r;
    if (r.value.status === 404) return ok(undefined);
    if (r.value.status !== 200) return err(`GET ${path}: HTTP ${r.value.status}: ${gist(r.value.body)}`);
    try {
      const parsed = functionStatus.safeParse(JSON.parse(r.value.body));
      return parsed.success ? ok(parsed.data) : err(`GET ${path}: unexpected answer`);
    } catch {
      return err(`GET ${path}: not JSON: ${gist(r.value.body)}`);
    }
  }

  /** `faasd-ce`, `faasd-pro`, …: the provider's name from GET /system/info (gateway's GatewayInfo.provider.provider); undefined when it does not say. */
  async providerName(): Promise<string | undefined> {
    const r = await this.#json('/system/info', providerInfo);
    return r.ok ? r.value.provider?.provider : undefined;
  }

  async secretNames(): Promise<Result<string[], string>> {
    const r = await this.#json('/system/secrets', secretList);
    return r.ok ? ok(r.value.map((s) => s.name)) : r;
  }

  deploy(req: FunctionDeployment, update: boolean): Promise<Result<void, string>> {
    return this.#write(update ? 'PUT' : 'POST', '/system/functions', req);
  }

  remove(name: string): Promise<Result<void, string>> {
    return this.#write('DELETE', '/system/functions', { functionName: name });
  }

  /** Create or replace a secret; the value goes only into the request body. */
  putSecret(name: string, value: Secret, exists: boolean): Promise<Result<void, string>> {
    return this.#write(exists ? 'PUT' : 'POST', '/system/secrets', { name, value: value.reveal() });
  }

  /** GET (or POST with no body) /function/NAME/PATH, through the gateway's function route; the status code only. */
  async invoke(name: string, path: string): Promise<Result<number, string>> {
    const p = `/function/${encodeURIComponent(name)}${path.startsWith('/') ? path : `/${path}`}`;
    const r = await this.#send('GET', p);
    return r.ok ? ok(r.value.status) : r;
  }
}
