/**
 * `panel deploy` without a host: the stack file's schema and located errors,
 * pure planning, and the whole host run against an in-memory STAND-IN of the
 * gateway's API (served on this machine's loopback, reached through the
 * stand-in transport's `forward`). The stand-in mixes an image variable into
 * the reported environment and reports memory in BinarySI, as faasd does
 * (pkg/provider/handlers/function_get.go, read.go). The real gateway and
 * real containers are tested in test/integration/deploy.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { HostConfig } from '../../src/config.js';
import type { EngineEvent, HostResult } from '../../src/engine/events.js';
import type { FunctionDeployment, FunctionStatus } from '../../src/deploy/api.js';
import { normalizeImage } from '../../src/deploy/image-ref.js';
import { deploymentOf, planDeploy, STAMP } from '../../src/deploy/plan.js';
import { sameQuantity } from '../../src/deploy/quantity.js';
import { parseSecretFlags } from '../../src/deploy/secret-flags.js';
import { parseStack, type Stack } from '../../src/deploy/stack.js';
import { deployRunner } from '../../src/deploy/run.js';
import { formatInventoryError } from '../../src/inventory/types.js';
import { Secret } from '../../src/secret.js';
import { BashTransport } from '../support/bash-transport.js';
import { tempDir } from '../support/temp.js';

const STACK = `version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  hello:
    lang: go
    handler: ./hello
    image: registry.test/hello:1.0
    environment:
      GREETING: hi
    labels:
      team: web
    limits:
      memory: 128M
  echo:
    image: echo:2
    secrets: [api-key]
`;

function stackOf(text: string, dir = tempDir('panel-stack-')): Stack {
  const r = parseStack(text, 'stack.yml', dir);
  assert.ok(r.ok, r.ok ? '' : r.error.map(formatInventoryError).join('\n'));
  return r.value;
}

test('a stack file in faas-cli\'s format parses; build-time keys are accepted', () => {
  const s = stackOf(STACK);
  assert.deepEqual(s.functions.map((f) => f.name), ['hello', 'echo']);
  assert.deepEqual(s.functions[0]!.env, { GREETING: 'hi' });
});

test('an unknown key is refused with file:line:col and a "did you mean"', () => {
  const r = parseStack(STACK.replace('    labels:', '    lables:'), 'stack.yml', tempDir('panel-stack-'));
  assert.equal(r.ok, false);
  const lines = r.ok ? [] : r.error.map(formatInventoryError);
  assert.deepEqual(lines, ['stack.yml:12:5: functions.hello: unknown key "lables" (did you mean "labels"?)']);
});

test('a function without an image, and a bad name, are each located', () => {
  const r = parseStack('version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  Bad_Name:\n    image: x\n  ok:\n    lang: go\n', 'stack.yml', tempDir('panel-stack-'));
  assert.equal(r.ok, false);
  const lines = r.ok ? [] : r.error.map(formatInventoryError);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /^stack\.yml:4:3: functions: a function name is lower-case/);
  assert.match(lines[1]!, /^stack\.yml:6:3: functions\.ok: missing required key "image"/);
});

test('environment files are merged in order after environment, as faas-cli does', () => {
  const dir = tempDir('panel-stack-');
  writeFileSync(join(dir, 'a.yml'), 'environment:\n  A: from-a\n  B: from-a\n');
  writeFileSync(join(dir, 'b.yml'), 'environment:\n  B: from-b\n');
  const s = stackOf('version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  f:\n    image: x:1\n    environment: {A: inline, C: inline}\n    environment_file: [a.yml, b.yml]\n', dir);
  assert.deepEqual(s.functions[0]!.env, { A: 'from-a', B: 'from-b', C: 'inline' });
  const bad = parseStack('version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  f:\n    image: x:1\n    environment_file: [missing.yml]\n', 'stack.yml', dir);
  assert.equal(bad.ok, false);
  assert.match(bad.ok ? '' : formatInventoryError(bad.error[0]!), /^stack\.yml:6:24: .*missing\.yml: .*no such file/);
});

test('image references compare as containerd names them after a pull', () => {
  assert.equal(normalizeImage('alpine'), 'docker.io/library/alpine:latest');
  assert.equal(normalizeImage('ghcr.io/openfaas/gateway:0.27.12'), 'ghcr.io/openfaas/gateway:0.27.12');
  assert.equal(normalizeImage('localhost:5000/fn'), 'localhost:5000/fn:latest');
  assert.equal(normalizeImage('me/fn:1'), 'docker.io/me/fn:1');
  assert.notEqual(normalizeImage('me/fn:1'), normalizeImage('me/fn:2'));
  assert.ok(sameQuantity('128M', '125000Ki'));
  assert.ok(!sameQuantity('128Mi', '125000Ki'));
});

/** What faasd reports for a request it deployed: the image's own variables mixed in, memory in BinarySI. */
function reported(req: FunctionDeployment, imageEnv: Record<string, string> = { mode: 'http' }): FunctionStatus {
  const mem = req.limits?.memory;
  return {
    name: req.service,
    image: normalizeImage(req.image),
    envVars: { ...imageEnv, ...(req.envVars ?? {}) },
    secrets: [...(req.secrets ?? [])],
    labels: { ...(req.labels ?? {}) },
    annotations: { ...(req.annotations ?? {}) },
    ...(mem === '128M' ? { limits: { memory: '125000Ki' } } : {}),
    replicas: 1,
    availableReplicas: 1,
  };
}

test('planning: absent → create; as deployed → unchanged; one tag changed → only that one, with a diff', () => {
  const s = stackOf(STACK);
  const hashes = new Map([['api-key', 'a'.repeat(64)]]);
  const first = planDeploy({ stack: s, current: [], secretsOnHost: hashes, secretsGiven: [], prune: false });
  assert.deepEqual(first.errors, []);
  assert.deepEqual(first.changes.map((c) => `${c.action} ${c.name}`), ['create hello', 'create echo']);
  const running = s.functions.map((f) => reported(deploymentOf(f)));
  const again = planDeploy({ stack: s, current: running, secretsOnHost: hashes, secretsGiven: [], prune: false });
  assert.deepEqual(again.changes, []);
  assert.deepEqual(again.unchanged, ['hello', 'echo']);
  const bumped = stackOf(STACK.replace('registry.test/hello:1.0', 'registry.test/hello:1.1'));
  const third = planDeploy({ stack: bumped, current: running, secretsOnHost: hashes, secretsGiven: [], prune: false });
  assert.deepEqual(third.changes.map((c) => `${c.action} ${c.name}`), ['update hello']);
  const c = third.changes[0]!;
  assert.equal(c.kind === 'function' ? c.diff : '', '- image: registry.test/hello:1.0\n+ image: registry.test/hello:1.1');
});

test('planning: a function as the stack says whose task is not running (faasd reports 0 replicas) is deployed again', () => {
  const s = stackOf(STACK);
  const hashes = new Map([['api-key', 'a'.repeat(64)]]);
  const current = s.functions.map((f) => reported(deploymentOf(f)));
  // faasd omits a 0 (`replicas,omitempty`); a gateway may also send it.
  const { replicas: _r, availableReplicas: _a, ...exited } = current[1]!;
  for (const echo of [exited, { ...exited, replicas: 0 }]) {
    const p = planDeploy({ stack: s, current: [current[0]!, echo], secretsOnHost: hashes, secretsGiven: [], prune: false });
    assert.deepEqual(p.unchanged, ['hello']);
    assert.deepEqual(p.changes.map((c) => `${c.action} ${c.name} (${c.reason})`), ['update echo (not running)']);
    const c = p.changes[0]!;
    assert.equal(c.kind === 'function' ? c.diff : '', '- replicas: 0\n+ replicas: 1');
  }
});

test('planning: a variable whose value holds "=" is unchanged as faasd reports it (cut at the "="); a change after it still shows', () => {
  const s = stackOf(STACK.replace('      GREETING: hi\n', '      GREETING: hi\n      DSN: "host=db port=5432"\n'));
  const hashes = new Map([['api-key', 'a'.repeat(64)]]);
  // faasd's readEnvFromProcessEnv: strings.Split("DSN=host=db port=5432", "=")[1] is "host".
  const asFaasd = (f: FunctionStatus): FunctionStatus => ({ ...f, envVars: Object.fromEntries(Object.entries(f.envVars ?? {}).map(([k, v]) => [k, v.split('=')[0] ?? ''])) });
  const running = s.functions.map((f) => asFaasd(reported(deploymentOf(f))));
  assert.equal(running[0]!.envVars?.['DSN'], 'host');
  assert.deepEqual(planDeploy({ stack: s, current: running, secretsOnHost: hashes, secretsGiven: [], prune: false }).changes, []);
  const moved = stackOf(STACK.replace('      GREETING: hi\n', '      GREETING: hi\n      DSN: "host=db port=5433"\n'));
  const p = planDeploy({ stack: moved, current: running, secretsOnHost: hashes, secretsGiven: [], prune: false });
  assert.deepEqual(p.changes.map((c) => `${c.action} ${c.name}`), ['update hello']);
  const c = p.changes[0]!;
  assert.match(c.kind === 'function' ? c.diff : '', /^- deployed spec: sha256 [0-9a-f]{12}\n\+ deployed spec: sha256 [0-9a-f]{12}$/);
});

test('planning: a variable removed from the stack shows as removed; one the image sets does not', () => {
  const s = stackOf(STACK);
  const running = s.functions.map((f) => reported(deploymentOf(f)));
  const without = stackOf(STACK.replace('    environment:\n      GREETING: hi\n', ''));
  const p = planDeploy({ stack: without, current: running, secretsOnHost: new Map([['api-key', 'a'.repeat(64)]]), secretsGiven: [], prune: false });
  assert.deepEqual(p.changes.map((c) => (c.kind === 'function' ? c.diff : '')), ['- environment.GREETING: "hi"']);
});

test('planning: --prune removes what the stack does not name; the CE limit and missing secrets stop the plan', () => {
  const s = stackOf(STACK);
  const extra = reported({ service: 'old', image: 'old:1' });
  const hashes = new Map([['api-key', 'a'.repeat(64)]]);
  const pruned = planDeploy({ stack: s, current: [...s.functions.map((f) => reported(deploymentOf(f))), extra], secretsOnHost: hashes, secretsGiven: [], prune: true });
  assert.deepEqual(pruned.changes.map((c) => `${c.action} ${c.name}`), ['delete old']);
  const kept = planDeploy({ stack: s, current: [extra], secretsOnHost: hashes, secretsGiven: [], prune: false });
  assert.ok(!kept.changes.some((c) => c.action === 'delete'));
  const many = Array.from({ length: 14 }, (_, i) => reported({ service: `f${i}`, image: 'x:1' }));
  const limited = planDeploy({ stack: s, current: many, secretsOnHost: hashes, secretsGiven: [], prune: false, maxFunctions: 15 });
  assert.deepEqual(limited.errors, ['16 functions after this deploy: faasd CE refuses more than 15 (EULA; OpenFaaS Edge lifts the limit); nothing was deployed']);
  const noSecret = planDeploy({ stack: s, current: [], secretsOnHost: new Map(), secretsGiven: [], prune: false });
  assert.deepEqual(noSecret.errors, ['function echo: secret "api-key" is neither on the host nor given (--secret api-key=@FILE)']);
});

test('planning: a secret is compared by sha256, never by value', () => {
  const s = stackOf(STACK);
  const p = planDeploy({ stack: s, current: [], secretsOnHost: new Map([['api-key', 'b'.repeat(64)]]), secretsGiven: [{ name: 'api-key', sha256: 'b'.repeat(64) }], prune: false });
  assert.ok(!p.changes.some((c) => c.kind === 'secret'));
  const q = planDeploy({ stack: s, current: [], secretsOnHost: new Map([['api-key', 'b'.repeat(64)]]), secretsGiven: [{ name: 'api-key', sha256: 'c'.repeat(64) }], prune: false });
  assert.deepEqual(q.changes.filter((c) => c.kind === 'secret').map((c) => `${c.action} ${c.name} (${c.reason})`), ['update api-key (value differs (by sha256))']);
});

test('--secret takes a file or the environment, never a value on the command line', () => {
  const dir = tempDir('panel-secret-');
  writeFileSync(join(dir, 'k'), 's3cret-value');
  const r = parseSecretFlags(['api-key=@k', 'db.pass'], { PANEL_SECRET_DB_PASS: 'from-env' }, dir);
  assert.ok(r.ok);
  assert.deepEqual(r.ok ? r.value.map((s) => [s.name, s.value.reveal()]) : [], [['api-key', 's3cret-value'], ['db.pass', 'from-env']]);
  const bad = parseSecretFlags(['api-key=plain', 'x'], {}, dir);
  assert.deepEqual(bad.ok ? [] : bad.error, [
    '--secret api-key: the value comes from a file (--secret api-key=@FILE) or from PANEL_SECRET_API_KEY, never from the command line',
    '--secret x: set PANEL_SECRET_X in the environment, or give --secret x=@FILE',
  ]);
});

/** STAND-IN of faasd's gateway API: in memory, basic auth, secrets written where faasd-provider writes them. */
function fakeGateway(secretDir: string, password: string): { server: Server; port: () => number; deployed: FunctionDeployment[]; log: string[] } {
  const fns = new Map<string, FunctionStatus>();
  const deployed: FunctionDeployment[] = [];
  const log: string[] = [];
  const body = (req: IncomingMessage): Promise<string> => new Promise((r) => {
    let b = '';
    req.on('data', (d: Buffer) => (b += d.toString()));
    req.on('end', () => r(b));
  });
  const server = createServer((req, res) => {
    void (async () => {
      const text = await body(req);
      log.push(`${req.method} ${req.url} ${text}`);
      if (req.headers.authorization !== `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`) {
        res.writeHead(401).end('unauthorized');
        return;
      }
      const url = req.url ?? '';
      if (url === '/system/info') return void res.writeHead(200).end(JSON.stringify({ provider: { provider: 'faasd-ce' } }));
      if (url === '/system/functions' && req.method === 'GET') return void res.writeHead(200).end(JSON.stringify([...fns.values()]));
      if (url === '/system/functions' && (req.method === 'POST' || req.method === 'PUT')) {
        const d = JSON.parse(text) as FunctionDeployment;
        if (d.image.includes('missing')) return void res.writeHead(500).end(`unable to pull image ${d.image}: not found`);
        deployed.push(d);
        fns.set(d.service, { ...reported(d), availableReplicas: d.image.includes('crash') ? 0 : 1 });
        return void res.writeHead(200).end();
      }
      if (url === '/system/functions' && req.method === 'DELETE') {
        fns.delete((JSON.parse(text) as { functionName: string }).functionName);
        return void res.writeHead(200).end();
      }
      if (url === '/system/secrets' && (req.method === 'POST' || req.method === 'PUT')) {
        const s = JSON.parse(text) as { name: string; value: string };
        mkdirSync(join(secretDir, 'openfaas-fn'), { recursive: true });
        writeFileSync(join(secretDir, 'openfaas-fn', s.name), s.value);
        return void res.writeHead(200).end();
      }
      const m = /^\/system\/function\/([a-z0-9-]+)$/.exec(url);
      if (m) {
        const f = fns.get(m[1]!);
        return void (f ? res.writeHead(200).end(JSON.stringify(f)) : res.writeHead(404).end());
      }
      res.writeHead(404).end('no route');
    })();
  });
  return { server, port: () => (server.address() as AddressInfo).port, deployed, log };
}

async function withGateway<T>(fn: (g: ReturnType<typeof fakeGateway>, secretDir: string, password: string) => Promise<T>): Promise<T> {
  const secretDir = tempDir('panel-faasd-secrets-');
  const password = 'gw-admin-password-1234';
  writeFileSync(join(secretDir, 'basic-auth-user'), 'admin');
  writeFileSync(join(secretDir, 'basic-auth-password'), password);
  const g = fakeGateway(secretDir, password);
  await new Promise<void>((r) => g.server.listen(0, '127.0.0.1', r));
  try {
    return await fn(g, secretDir, password);
  } finally {
    g.server.close();
  }
}

const host: HostConfig = { name: 'h1', connection: { kind: 'local' }, groups: [], recipes: [], params: {}, domains: [], acme: { directory: 'https://acme.invalid/dir' }, progressDir: '/var/lib/panel' };

async function run(stack: Stack, secretDir: string, port: number, extra: { dryRun?: boolean; prune?: boolean; secrets?: { name: string; value: Secret }[] } = {}): Promise<{ results: HostResult[]; events: EngineEvent[] }> {
  const events: EngineEvent[] = [];
  const t = new BashTransport('h1');
  // The gateway's port on the "host" is 8080; the stand-in listens wherever the OS put it.
  const forward = t.forward.bind(t);
  t.forward = () => forward(port);
  const runner = deployRunner([host], { stack, secrets: extra.secrets ?? [], prune: extra.prune ?? false, waitSeconds: 5, dryRun: extra.dryRun ?? false, secretDir, pollMs: 50, connect: async () => t });
  const results = await runner({ emit: (e) => events.push(e), signal: new AbortController().signal, concurrency: 1, lockWaitSeconds: 5, lockHolder: 'test' });
  return { results, events };
}

test('a host run: deploy, then a second run changes nothing and sends no deploy; the password never shows', async () => {
  await withGateway(async (g, secretDir, password) => {
    const keyFile = join(tempDir('panel-key-'), 'k');
    writeFileSync(keyFile, 'api-key-value-5678');
    const stack = stackOf(STACK);
    const secrets = [{ name: 'api-key', value: new Secret(readFileSync(keyFile, 'utf8')) }];
    const dry = await run(stack, secretDir, g.port(), { dryRun: true, secrets });
    assert.equal(dry.results[0]!.status, 'changed', dry.results[0]!.error);
    assert.equal(g.deployed.length, 0, 'a dry run deploys nothing');
    const first = await run(stack, secretDir, g.port(), { secrets });
    assert.equal(first.results[0]!.status, 'changed', first.results[0]!.error);
    assert.deepEqual(first.events.filter((e) => e.type === 'change').map((e) => e.type === 'change' && `${e.status} ${e.change.summary}`), [
      'applied create secret api-key (absent)',
      'applied create function hello (absent)',
      'applied create function echo (absent)',
    ]);
    assert.equal(readFileSync(join(secretDir, 'openfaas-fn', 'api-key'), 'utf8'), 'api-key-value-5678');
    assert.equal(g.deployed.length, 2);
    assert.ok(g.deployed[0]!.annotations?.[STAMP]);
    const second = await run(stack, secretDir, g.port(), { secrets });
    assert.equal(second.results[0]!.status, 'ok', second.results[0]!.error);
    assert.equal(second.results[0]!.changed, 0);
    assert.equal(g.deployed.length, 2, 'nothing redeployed');
    assert.ok(!g.log.some((l) => l.startsWith('PUT')), 'no update sent');
    const everything = JSON.stringify([dry, first, second]);
    assert.ok(!everything.includes(password) && !everything.includes('api-key-value-5678'), 'no secret in events or results');
  });
});

test('a host run: an image that cannot be pulled and a function that exits each fail in one line naming the function', async () => {
  await withGateway(async (g, secretDir) => {
    const missing = await run(stackOf('version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  gone:\n    image: registry.test/missing:1\n'), secretDir, g.port());
    assert.equal(missing.results[0]!.status, 'failed');
    assert.equal(missing.results[0]!.error, 'h1: deploy: function gone: POST /system/functions: HTTP 500: unable to pull image registry.test/missing:1: not found');
    const crash = await run(stackOf('version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  boom:\n    image: registry.test/crash:1\n'), secretDir, g.port());
    assert.equal(crash.results[0]!.status, 'failed');
    assert.match(crash.results[0]!.error ?? '', /^h1: deploy: function boom is not running \(its container exited\)/);
  });
});

test('a host run without gateway credentials stops before asking the gateway anything', async () => {
  await withGateway(async (g) => {
    const empty = tempDir('panel-no-faasd-');
    const r = await run(stackOf(STACK), empty, g.port());
    assert.equal(r.results[0]!.status, 'failed');
    assert.match(r.results[0]!.error ?? '', /no gateway credentials in .* \(is faasd installed\? run `panel install` first\)/);
    assert.equal(g.log.length, 0);
  });
});
