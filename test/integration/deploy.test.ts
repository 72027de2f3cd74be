/**
 * `panel deploy` on testbed hosts with real containers: containerd runs the
 * functions as tasks on the CNI network panel's conflist defines, pulled from
 * the bed's real OCI registry. STAND-INS: the faasd binary (a supervisor that
 * drives containerd with ctr, test/testbed/faasd-standin) and the images
 * (test/testbed/openfaas-standin.c: the gateway, and the test functions that
 * answer with their name, read a secret, or exit at once).
 *
 * Covers issue 24's "done when": two functions deployed, each answering at
 * https://DOMAIN/function/NAME; a second deploy has 0 changes and restarts
 * nothing; one image tag changed updates only that function, with the diff in
 * the plan; --prune removes a function and its container; a secret reaches the
 * function under /var/openfaas/secrets/NAME and appears in no output or file
 * panel writes; an image that does not exist and a function that exits each
 * fail with one line naming the function; a 3-host inventory converges in one run.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { headlineArgs, hostArgs, mirrorArgs } from '../support/bed-args.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

const NAME = 'fn.panel.test';
const SECRET = 'deploy-secret-7c1f2a9e';
let bed: Testbed;
let a: TestHost;
let b: TestHost;
let c: TestHost;
let root: string;
const work = tempDir('panel-deploy-it-');
const state = tempDir('panel-deploy-state-');
/** Everything every deploy printed, for the secrets grep. */
const printed: string[] = [];

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;

before(async () => {
  bed = await startTestbed({ hosts: 3 });
  [a, b, c] = bed.hosts as [TestHost, TestHost, TestHost];
  await bed.dns.add(NAME, a.address);
  root = await bed.acme.rootCaPem();
  // A: the headline install (nginx, certificate, status page); B and C: faasd only, as a fleet's workers.
  const runs = await Promise.all([
    panel(headlineArgs(bed, a, 'install', NAME), { timeoutMs: 900_000 }),
    ...[b, c].map((h) => panel(['install', ...hostArgs(bed, h), ...mirrorArgs(bed), '--recipes', 'faasd', '--json', '--yes'], { timeoutMs: 900_000 })),
  ]);
  for (const [i, r] of runs.entries()) {
    if (r.code === 0) continue;
    const h = [a, b, c][i] ?? a;
    const j = await bed.exec(h, 'journalctl --no-pager -o short-precise -n 60 -u faasd -u faasd-provider; ctr -n openfaas tasks ls');
    assert.equal(r.code, 0, `${explain(r)}\nfaasd's journal on ${h.address}:\n${j.stdout}${j.stderr}`);
  }
});

after(async () => {
  await bed?.stop();
});

async function sh(h: TestHost, cmd: string): Promise<string> {
  const r = await bed.exec(h, cmd);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function stack(fns: Record<string, { image: string; env?: Record<string, string>; secrets?: string[] }>): string {
  const lines = ['version: 1.0', 'provider:', '  name: openfaas', '  gateway: http://127.0.0.1:8080', 'functions:'];
  for (const [name, f] of Object.entries(fns)) {
    lines.push(`  ${name}:`, '    lang: dockerfile', `    handler: ./${name}`, `    image: ${f.image}`);
    if (f.env) lines.push('    environment:', ...Object.entries(f.env).map(([k, v]) => `      ${k}: ${JSON.stringify(v)}`));
    if (f.secrets) lines.push(`    secrets: [${f.secrets.join(', ')}]`);
  }
  const file = join(work, `stack-${Object.keys(fns).join('-')}-${Date.now()}.yml`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const HELLO = 'ghcr.io/openfaas-testbed/hello';
const ECHO = 'ghcr.io/openfaas-testbed/echo:1.0';
const v1 = (): string => stack({ hello: { image: `${HELLO}:1.0`, env: { fn_name: 'hello' }, secrets: ['api-key'] }, echo: { image: ECHO, env: { fn_name: 'echo' } } });

async function deploy(args: readonly string[], h: TestHost = a): Promise<CliRun> {
  const keyFile = join(work, 'api-key.txt');
  writeFileSync(keyFile, SECRET);
  const run = await panel(['deploy', ...hostArgs(bed, h), '--json', '--yes', ...args], { timeoutMs: 600_000, env: { PANEL_STATE_DIR: state } });
  printed.push(run.stdout, run.stderr);
  return run;
}

/** The address CNI gave a task: eth0 in the network namespace of its pid. */
async function taskAddress(h: TestHost, pid: string): Promise<string> {
  assert.match(pid, /^\d+$/);
  const m = /inet (\d+\.\d+\.\d+\.\d+)/.exec(await sh(h, `nsenter -t ${pid} -n ip -4 -o addr show dev eth0`));
  assert.ok(m?.[1], `task ${pid} has no address`);
  return m[1];
}

/** The last lines faasd collect wrote to the journal for a function's task (tag openfaas-fn:NAME). */
async function journal(h: TestHost, name: string): Promise<string> {
  return sh(h, `journalctl --no-pager -o cat --identifier=openfaas-fn:${name}`);
}

function changes(run: CliRun): string[] {
  return events(run)
    .filter((e) => e.type === 'change')
    .map((e) => `${String(e['status'])} ${(e['change'] as { summary: string }).summary}`);
}

function diffs(run: CliRun): string[] {
  return events(run)
    .filter((e) => e.type === 'change')
    .map((e) => (e['change'] as { diff?: string }).diff ?? '');
}

function https(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: a.address, port: 443, path, servername: NAME, headers: { host: NAME }, ca: root, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Each function task's pid in openfaas-fn: a restarted function gets a new one. */
async function taskPids(h: TestHost): Promise<Map<string, string>> {
  const out = await sh(h, 'ctr -n openfaas-fn tasks ls | tail -n +2');
  return new Map(out.trim().split('\n').filter((l) => l !== '').map((l) => l.trim().split(/\s+/)).map(([id, pid]) => [id ?? '', pid ?? '']));
}

test('two functions are deployed and answer over HTTPS from their own containers; a second deploy changes and restarts nothing', async () => {
  const file = v1();
  const dry = await deploy(['-f', file, '--secret', `api-key=@${join(work, 'api-key.txt')}`, '--dry-run']);
  assert.equal(dry.code, 0, explain(dry));
  assert.deepEqual(changes(dry), ['planned create secret api-key (absent)', 'planned create function hello (absent)', 'planned create function echo (absent)']);
  assert.equal((await sh(a, 'ctr -n openfaas-fn containers ls -q')).trim(), '', 'a dry run deployed something');

  const run = await deploy(['-f', file, '--secret', `api-key=@${join(work, 'api-key.txt')}`]);
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run), ['applied create secret api-key (absent)', 'applied create function hello (absent)', 'applied create function echo (absent)']);
  const started = await taskPids(a);
  for (const fn of ['hello', 'echo']) {
    const r = await https(`/function/${fn}`);
    assert.equal(r.status, 200, r.body);
    // The function's own program, in its own container: the address the request reached is the one
    // CNI gave that task, and it runs as its image's user (app, 100). Not its host name: faasd sets
    // it to the function's name (oci.WithHostname), but Debian 12's ctr 1.6, which the stand-in
    // drives, has no --hostname, so the container keeps the host's.
    const ip = await taskAddress(a, started.get(fn) ?? '');
    assert.match(r.body, new RegExp(`^function ${fn} from \\S+ uid 100\naddress ${ip.replaceAll('.', '\\.')}\n$`), r.body);
  }
  // The secret, by name, inside the function's container.
  const s = await https('/function/hello/secret?name=api-key');
  assert.equal(s.status, 200, s.body);
  assert.equal(s.body, SECRET);

  const pids = await taskPids(a);
  assert.deepEqual([...pids.keys()].sort(), ['echo', 'hello']);
  const again = await deploy(['-f', file, '--secret', `api-key=@${join(work, 'api-key.txt')}`]);
  assert.equal(again.code, 0, explain(again));
  assert.deepEqual(changes(again), []);
  const end = events(again).find((e) => e.type === 'host-end');
  assert.equal((end?.['result'] as { status: string; changed: number } | undefined)?.changed, 0, explain(again));
  assert.deepEqual(await taskPids(a), pids, 'a function was restarted');
  // The status page lists them.
  const page = await sh(a, 'cat /var/www/panel-status/index.html');
  assert.match(page, /data-function="hello"/);
  assert.match(page, /data-function="echo"/);
});

test('one image tag changed: the plan shows only that function, with the diff; only it is replaced', async () => {
  const file = stack({ hello: { image: `${HELLO}:1.1`, env: { fn_name: 'hello' }, secrets: ['api-key'] }, echo: { image: ECHO, env: { fn_name: 'echo' } } });
  const plan = await deploy(['-f', file, '--dry-run']);
  assert.equal(plan.code, 0, explain(plan));
  assert.deepEqual(changes(plan), ['planned update function hello (differs from the stack)']);
  assert.deepEqual(diffs(plan), [`- image: ${HELLO}:1.0\n+ image: ${HELLO}:1.1`]);
  const before = await taskPids(a);
  const run = await deploy(['-f', file]);
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run), ['applied update function hello (differs from the stack)']);
  const after = await taskPids(a);
  assert.equal(after.get('echo'), before.get('echo'), 'echo was restarted');
  assert.notEqual(after.get('hello'), before.get('hello'));
  assert.match(await sh(a, 'ctr -n openfaas-fn containers info hello'), /openfaas-testbed\/hello:1\.1/);
});

test('--prune removes a function the stack no longer names, and its container is gone', async () => {
  const file = stack({ hello: { image: `${HELLO}:1.1`, env: { fn_name: 'hello' }, secrets: ['api-key'] } });
  const kept = await deploy(['-f', file]);
  assert.equal(kept.code, 0, explain(kept));
  assert.deepEqual(changes(kept), [], 'without --prune nothing is removed');
  const run = await deploy(['-f', file, '--prune']);
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run), ['applied delete function echo (not in the stack (--prune))']);
  assert.equal((await sh(a, 'ctr -n openfaas-fn containers ls -q')).trim(), 'hello');
  assert.equal((await https('/function/echo')).status === 200, false);
});

test('an image that does not exist and a function that exits at once each fail with one line naming the function', async () => {
  const ghost = await deploy(['-f', stack({ ghost: { image: 'ghcr.io/openfaas-testbed/nope:1.0' } })]);
  assert.equal(ghost.code, 1, explain(ghost));
  const ghostEnd = events(ghost).find((e) => e.type === 'host-end');
  const ghostError = (ghostEnd?.['result'] as { error?: string } | undefined)?.error ?? '';
  // faasd's deploy handler answers 400 with the pull's error (handlers/deploy.go).
  assert.match(ghostError, /^root@[^ ]+: deploy: function ghost: POST \/system\/functions: HTTP 400: unable to pull image ghcr\.io\/openfaas-testbed\/nope:1\.0/, explain(ghost));
  assert.equal(ghostError.split('\n').length, 1);
  assert.equal((await taskPids(a)).has('ghost'), false);

  const boom = await deploy(['-f', stack({ boom: { image: 'ghcr.io/openfaas-testbed/crash:1.0' } })]);
  assert.equal(boom.code, 1, explain(boom));
  const boomEnd = events(boom).find((e) => e.type === 'host-end');
  const boomError = (boomEnd?.['result'] as { error?: string } | undefined)?.error ?? '';
  assert.match(boomError, /deploy: function boom is not running \(its container exited\); its last log lines: .*crash: exiting at once/, explain(boom));
  assert.equal(boomError.split('\n').length, 1);
  assert.match(await journal(a, 'boom'), /crash: exiting at once/);
  // The recap (plain output) names the function too.
  const plain = await panel(['deploy', ...hostArgs(bed, a), '--yes', '-f', stack({ boom: { image: 'ghcr.io/openfaas-testbed/crash:1.0' } })], { timeoutMs: 600_000, env: { PANEL_STATE_DIR: state } });
  printed.push(plain.stdout, plain.stderr);
  assert.equal(plain.code, 1);
  // boom is as the stack says but not running: deployed again (not "unchanged"), and it fails again.
  assert.match(plain.stdout + plain.stderr, /function boom/);
  assert.match(plain.stdout + plain.stderr, /is not running \(its container exited\)/);
});

test('a function whose health path fails is reported with the lines its task logged', async () => {
  const run = await deploy(['-f', stack({ sick: { image: ECHO, env: { fn_name: 'sick' } } }), '--health-path', '/status/503']);
  assert.equal(run.code, 1, explain(run));
  const end = events(run).find((e) => e.type === 'host-end');
  const error = (end?.['result'] as { error?: string } | undefined)?.error ?? '';
  assert.match(error, /deploy: function sick: \/status\/503 answered HTTP 503; its last log lines: .*GET \/status\/503 503/, explain(run));
  assert.equal(error.split('\n').length, 1);
  // The gateway's route reached the function's container: its own request log says so.
  assert.match(await journal(a, 'sick'), /GET \/status\/503 503/);
});

test('a bad stack file is refused with file:line:col before any host is contacted; nothing changes', async () => {
  const before = await taskPids(a);
  const file = join(work, 'bad-stack.yml');
  writeFileSync(file, ['version: 1.0', 'provider:', '  name: openfaas', 'functions:', '  hello:', `    image: ${HELLO}:1.0`, '    enviroment:', '      fn_name: hello', ''].join('\n'));
  const run = await deploy(['-f', file]);
  assert.equal(run.code, 1, explain(run));
  assert.match(run.stderr, new RegExp(`${file.replaceAll('.', '\\.')}:7:5: functions\\.hello: unknown key "enviroment" \\(did you mean "environment"\\?\\)`), explain(run));
  assert.equal(events(run).filter((e) => e.type === 'host-start').length, 0, explain(run));
  assert.deepEqual(await taskPids(a), before);
});

test('the same stack on a 3-host inventory converges all three in one run', async () => {
  const fleet = join(work, 'fleet.yaml');
  writeFileSync(
    fleet,
    [
      'defaults:',
      `  key: ${a.keyFile}`,
      `  knownHosts: ${bed.knownHostsFile}`,
      'hosts:',
      ...[a, b, c].map((h, i) => `  h${i}: { address: ${h.address} }`),
      '',
    ].join('\n'),
  );
  const file = stack({ hello: { image: `${HELLO}:1.1`, env: { fn_name: 'hello' }, secrets: ['api-key'] } });
  const run = await panel(['deploy', '-i', fleet, '-f', file, '--secret', `api-key=@${join(work, 'api-key.txt')}`, '--json', '--yes'], { timeoutMs: 600_000, env: { PANEL_STATE_DIR: state } });
  printed.push(run.stdout, run.stderr);
  assert.equal(run.code, 0, explain(run));
  const ends = events(run).filter((e) => e.type === 'host-end').map((e) => e['result'] as { host: string; status: string });
  assert.deepEqual(ends.map((r) => `${r.host} ${r.status}`).sort(), ['h0 ok', 'h1 changed', 'h2 changed']);
  for (const h of [b, c]) assert.match(await sh(h, 'ctr -n openfaas-fn tasks ls'), /hello\s+\d+\s+RUNNING/);
});

test('secrets grep: the function secret and the admin password appear in no output and no file panel wrote', async () => {
  const password = (await sh(a, 'cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  assert.ok(password.length >= 20);
  for (const text of printed) {
    assert.ok(!text.includes(SECRET), 'the function secret was printed');
    assert.ok(!text.includes(password), 'the admin password was printed');
  }
  // panel's own files here (state dir) and on the host (progress, logs, status page, record).
  const local = readdirSync(state, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
  for (const f of local) assert.ok(!readFileSync(f, 'utf8').includes(SECRET), `${f} holds the secret`);
  for (const h of [a, b, c]) {
    assert.equal(await sh(h, `grep -rlF -e ${SECRET} /var/lib/panel /var/www/panel-status 2>/dev/null || true`), '');
  }
});

