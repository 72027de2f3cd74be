/**
 * Issue 9 on a host shaped like a real user's cloud server, through the CLI
 * with only the testbed's connection flags: no `--set`. NOTE: the faasd served
 * by the mirror is the testbed's STAND-IN (test/testbed/faasd-standin/main.ts).
 *
 * The host is the testbed's cloud-like profile: ufw active with default deny
 * incoming, systemd-resolved (stub in /etc/resolv.conf, the bed's bridge as
 * upstream), needrestart set to ask, no kmod, and the dpkg lock held after
 * boot by a STAND-IN for unattended-upgrades. On top, as on many VPS kernels
 * (and this machine's), /lib/modules is gone: modules are built in and nothing
 * lists them. The profile allows http and https (`ufw allow 80,443/tcp`), as
 * anyone serving a site behind ufw must: panel adds only the provider's rule
 * on openfaas0, and warns when a web port is not allowed.
 *
 * Covers: the full install converges, HTTPS reaches the gateway, a second run
 * has 0 changes; the ufw rule lets a network namespace on openfaas0 reach the
 * provider (and without it the provider is unreachable), `ufw status` gains
 * that one rule only; with 443 not allowed, plan warns once naming it and the
 * command that opens it; faasd's resolv.conf has the upstream server; the lock
 * wait is announced, and apt steps wait for the lock and for cloud-init, then
 * fail clearly after their timeout; sysctl drift (an appended line, an overriding later
 * file); a module a container lacks fails with one line.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, test } from 'node:test';
import { PRELUDE } from '../../src/resources/prelude.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { headlineArgs } from '../support/bed-args.js';
import { FUNCTION_IMAGE, probeGateway } from '../support/gateway-container.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

const NAME = 'cloud.panel.test';
let bed: Testbed;
let host: TestHost;
let root: string;

before(async () => {
  bed = await startTestbed({ hosts: 1, profile: 'cloud-like' });
  host = bed.hosts[0]!;
  await bed.dns.add(NAME, host.address);
  root = await bed.acme.rootCaPem();
  await sh('rm -rf /lib/modules');
  // What the profile promises, checked rather than assumed.
  const ufw = await sh('ufw status verbose');
  assert.match(ufw, /Status: active[\s\S]*deny \(incoming\)/);
  assert.match(ufw, /^80,443\/tcp +ALLOW IN +Anywhere/m);
  assert.match(await sh('cat /etc/resolv.conf'), /^nameserver 127\.0\.0\.53$/m);
  assert.equal((await bed.exec(host, 'command -v modprobe')).code, 1);
});

after(async () => {
  await bed?.stop();
});

async function sh(cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd);
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function args(cmd: 'install' | 'plan' | 'check', extra: readonly string[] = []): string[] {
  return headlineArgs(bed, host, cmd, NAME, extra);
}

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
const changes = (run: CliRun): Array<{ resource: string; target: string; reason: string; diff?: string }> =>
  events(run)
    .filter((e) => e.type === 'change')
    .map((e) => e['change'] as { resource: string; target: string; reason: string; diff?: string });
const warnings = (run: CliRun): string[] => events(run).filter((e) => e.type === 'warning').map((e) => `${String(e['recipe'])}: ${String(e['message'])}`);

function httpsGet(path: string, auth?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: host.address, port: 443, path, servername: NAME, headers: { host: NAME }, ca: root, agent: false, ...(auth === undefined ? {} : { auth }) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
const https = async (path: string, auth?: string): Promise<number> => (await httpsGet(path, auth)).status;

/** A network namespace with a veth whose other end is a port of openfaas0: a container's view. */
const PROBE_NS = [
  '{ ip netns del pnlprobe; ip link del pnlprobe0; } 2>/dev/null; ip netns add pnlprobe',
  'ip link add pnlprobe0 type veth peer name eth0 netns pnlprobe',
  'ip link set pnlprobe0 master openfaas0 up',
  'ip -n pnlprobe addr add 10.62.255.250/16 dev eth0',
  'ip -n pnlprobe link set eth0 up',
  'ip -n pnlprobe link set lo up',
].join(' && ');
const PROBE = `ip netns exec pnlprobe curl -sS -o /dev/null -m 4 -w '%{http_code}' http://10.62.0.1:8081/healthz`;

let ufwBefore = '';

test('the full install converges with only the connection flags; the dpkg lock wait is announced', async () => {
  ufwBefore = await sh('ufw status');
  // The profile's boot lock may have run out while the bed started: take it again, as after a fresh boot.
  await sh('systemctl restart panel-testbed-boot-lock.service && for i in $(seq 50); do grep -q POSIX /proc/locks && break; sleep 0.2; done');
  const run = await panel(args('install'), { timeoutMs: 900_000 });
  assert.equal(run.code, 0, explain(run));
  assert.ok(
    warnings(run).some((w) => /^base: the dpkg lock is held by hold-dpkg-lock \(pid \d+\): apt steps wait for it/.test(w)),
    `no lock warning in ${JSON.stringify(warnings(run))}`,
  );
  // HTTPS reaches the gateway: /ui/ is its UI, which a real gateway serves only with
  // the basic-auth credentials faasd generated (no catch-all route answers it).
  assert.equal(await https('/ui/'), 401);
  const password = (await sh('cat /var/lib/faasd/secrets/basic-auth-password')).trim();
  assert.equal(await https('/ui/', `admin:${password}`), 200);
  // Nothing needed loading (overlay is built in), so no kmod, no modules-load.d entry.
  assert.equal((await sh('dpkg-query -W -f="\\${Status}" kmod 2>/dev/null || true')).includes('install ok installed'), false);
  assert.equal((await sh('ls /etc/modules-load.d/ 2>/dev/null | grep -c ^panel- || true')).trim(), '0');
  assert.equal(await sh('cat /var/lib/faasd/resolv.conf'), `nameserver ${bed.bridgeAddress}\n`);
  assert.match(await sh('cat /run/systemd/resolve/resolv.conf'), new RegExp(`^nameserver ${bed.bridgeAddress.replace(/\./g, '\\.')}$`, 'm'));
});

test('a second run has 0 changes and no warnings', async () => {
  const run = await panel(args('install'));
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run).map((c) => `${c.resource} ${c.reason}`), []);
  assert.deepEqual(warnings(run), []);
});

test('faasd runs its services as tasks: the gateway as its non-root user, reaching the provider through ufw; a function deployed through its API answers over HTTPS from its own task, and only while it runs', async () => {
  const tasks = await sh('ctr -n openfaas tasks ls');
  for (const svc of ['nats', 'prometheus', 'gateway', 'queue-worker']) assert.match(tasks, new RegExp(`^${svc}\\s+\\d+\\s+RUNNING`, 'm'));
  const uid = (await sh(`stat -c %u /proc/$(ctr -n openfaas tasks ls | awk '$1 == "gateway" { print $2 }')`)).trim();
  assert.notEqual(uid, '0', 'the gateway task runs as root');
  // The gateway's /healthz is the provider's, at 10.62.0.1:8081 from the gateway's own network namespace
  // (through ufw's rule on openfaas0); through :8080, and through nginx over HTTPS with no login.
  assert.equal((await sh("curl -sS -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:8080/healthz")).trim(), '200');
  const healthz = await httpsGet('/healthz');
  assert.equal(healthz.status, 200, healthz.body);
  // Deployed as a user does, through the gateway's API with the admin credentials (from a file: never in argv).
  const deploy = JSON.stringify({ service: 'hello', image: FUNCTION_IMAGE, envVars: { fn_name: 'hello' }, labels: { team: 'qa' }, annotations: { topic: 'x' } });
  const post = await sh(`printf 'user = "admin:%s"\\n' "$(cat /var/lib/faasd/secrets/basic-auth-password)" > /run/panel-curl-auth
curl -sS -o /dev/null -w '%{http_code}' -K /run/panel-curl-auth -X POST --data-binary '${deploy}' http://127.0.0.1:8080/system/functions`);
  assert.equal(post.trim(), '200');
  const fn = await sh(`for i in $(seq 50); do curl -sf -m 2 http://127.0.0.1:8080/function/hello >/dev/null && break; sleep 0.2; done
curl -sS -K /run/panel-curl-auth http://127.0.0.1:8080/system/function/hello`);
  const got = JSON.parse(fn) as { name: string; image: string; availableReplicas: number; envVars: Record<string, string>; labels: Record<string, string>; annotations: Record<string, string> };
  assert.deepEqual([got.name, got.image, got.availableReplicas, got.envVars, got.labels, got.annotations], ['hello', FUNCTION_IMAGE, 1, { fn_name: 'hello' }, { team: 'qa' }, { topic: 'x' }]);
  assert.match(await sh('ctr -n openfaas-fn tasks ls'), /^hello\s+\d+\s+RUNNING/m);
  // nginx's / is the gateway's /function/: the answer comes from the function's task (its image user, uid 100).
  const hello = await httpsGet('/hello');
  assert.equal(hello.status, 200, hello.body);
  assert.match(hello.body, /^function hello from \S+ uid 100$/m);
  // A name resolved from inside the function's container, through the resolv.conf faasd mounts
  // (/var/lib/faasd/resolv.conf: the bed's DNS server, resolved's upstream, on the bridge's :53).
  const resolved = await httpsGet(`/hello/resolve?name=${NAME}`);
  assert.equal(resolved.status, 200, resolved.body);
  assert.equal(resolved.body, `${NAME} ${host.address} via ${bed.bridgeAddress}\n`);
  // Stopped task: the gateway no longer answers for it (no catch-all route).
  await sh('ctr -n openfaas-fn tasks kill -s SIGKILL hello; sleep 0.5');
  assert.notEqual((await httpsGet('/hello')).status, 200);
  const del = await sh(`curl -sS -o /dev/null -w '%{http_code}' -K /run/panel-curl-auth -X DELETE --data-binary '{"functionName":"hello"}' http://127.0.0.1:8080/system/functions; rm -f /run/panel-curl-auth`);
  assert.equal(del.trim(), '200');
});

test('ufw: exactly one rule added, and it is what lets a container on openfaas0 reach the provider', async () => {
  const added = (await sh('ufw status'))
    .split('\n')
    .filter((l) => !ufwBefore.split('\n').includes(l));
  assert.deepEqual(added.map((l) => l.replace(/\s+/g, ' ').trim()), ['8081/tcp on openfaas0 ALLOW Anywhere', '8081/tcp (v6) on openfaas0 ALLOW Anywhere (v6)']);
  await sh(PROBE_NS);
  assert.equal((await sh(PROBE)).trim(), '200');
  // A real container too: the gateway image on panel's CNI network, its /healthz forwarded to faasd-provider (10.62.0.1:8081).
  const exec = (cmd: string, o?: { timeoutMs?: number }): ReturnType<Testbed['exec']> => bed.exec(host, cmd, o);
  const gw = await probeGateway(exec, 'panel-probe-ufw');
  assert.equal(gw.healthz, '200', gw.log);

  await sh('ufw delete allow in on openfaas0 to any port 8081 proto tcp >/dev/null');
  const blocked = await bed.exec(host, PROBE);
  assert.notEqual(blocked.code, 0, 'the provider answered without the rule: the probe proves nothing');
  assert.match(blocked.stdout + blocked.stderr, /timed out|000/);
  const gwBlocked = await probeGateway(exec, 'panel-probe-ufw-blocked');
  assert.equal(gwBlocked.healthz, '502', `the gateway container reached the provider through ufw's default deny: ${gwBlocked.log}`);

  const run = await panel(args('install'));
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run).map((c) => c.target), ['ufw allow in on openfaas0 to any port 8081 proto tcp']);
  // A fresh probe namespace: the containers that joined and left openfaas0 meanwhile changed
  // the bridge's MAC address, which the old namespace still has in its neighbour cache.
  await sh(PROBE_NS);
  assert.equal((await sh(PROBE)).trim(), '200');
  assert.equal((await probeGateway(exec, 'panel-probe-ufw2')).healthz, '200');
});

test('ufw: with 443/tcp not allowed, plan warns once, naming the port and the command; panel adds no rule for it', async () => {
  await sh('ufw delete allow 80,443/tcp >/dev/null && ufw allow 80/tcp >/dev/null');
  try {
    const message = "ufw is active and drops incoming 443/tcp (https), so nothing reaches nginx there; panel leaves ufw's rules to you: ufw allow 443/tcp";
    const run = await panel(args('plan'));
    assert.equal(run.code, 0, explain(run));
    assert.deepEqual(warnings(run), [`nginx: ${message}`]);
    assert.deepEqual(changes(run), []);
    // The recap, what a user without --json sees at the end.
    const plain = await panel(args('plan').filter((a) => a !== '--json'));
    assert.equal(plain.code, 0, explain(plain));
    assert.equal(plain.stdout.split('\n').filter((l) => l.endsWith(`: warning: ${message}`)).length, 1, plain.stdout);
  } finally {
    await sh('ufw delete allow 80/tcp >/dev/null && ufw allow 80,443/tcp >/dev/null');
  }
});

test('sysctl: a line appended to the drop-in is drift; a later file that overrides it is a warning naming that file', async () => {
  const dropIn = '/etc/sysctl.d/99-panel.conf';
  await sh(`echo 'net.ipv4.ip_forward=0' >> ${dropIn}`);
  const check = await panel(args('check', ['--deep']));
  assert.equal(check.code, 2, explain(check));
  const drift = changes(check).find((c) => c.target === dropIn);
  assert.ok(drift, explain(check));
  assert.match(drift.diff ?? '', /^-net\.ipv4\.ip_forward=0$/m);

  await sh(`echo 'net.ipv4.ip_forward = 0' >> /etc/sysctl.conf && echo 'net.ipv4.conf.all.forwarding=1' > /etc/sysctl.d/99-zz-same.conf`);
  const run = await panel(args('install'));
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(changes(run).map((c) => `${c.target} ${c.reason}`), [`${dropIn} content differs`]);
  assert.doesNotMatch(await sh(`cat ${dropIn}`), /ip_forward/);
  const ws = warnings(run);
  assert.equal(ws.length, 1, JSON.stringify(ws));
  assert.match(ws[0]!, /^base: \/etc\/sysctl\.conf \(read as \/etc\/sysctl\.d\/99-sysctl\.conf\) sets net\.ipv4\.ip_forward = 0, .* after a reboot net\.ipv4\.conf\.all\.forwarding will be 0, not 1/);
  // The recap (what a user without --json sees at the end) carries it too.
  const plain = await panel(args('plan').filter((a) => a !== '--json'));
  assert.match(plain.stdout, /warning: \/etc\/sysctl\.conf \(read as \/etc\/sysctl\.d\/99-sysctl\.conf\) sets net\.ipv4\.ip_forward = 0/);
  await sh(`sed -i '/^net.ipv4.ip_forward = 0$/d' /etc/sysctl.conf && rm /etc/sysctl.d/99-zz-same.conf`);
});

test('a module this container lacks: one line naming the host, the module and what to do; nothing changed', async () => {
  const run = await panel(args('plan', ['--set', 'base.kernelModules=panel_no_such_mod,overlay']).filter((a) => a !== '--json'));
  assert.equal(run.code, 1, explain(run));
  const line = (run.stdout + run.stderr).split('\n').find((l) => l.includes('panel_no_such_mod'));
  assert.ok(line, explain(run));
  assert.match(line, new RegExp(`${host.address.replace(/\./g, '\\.')}.*kernel module panel_no_such_mod is missing and this host is a container \\(systemd-nspawn\\), which cannot load kernel modules: load it on the machine the container runs on`));
});

test('apt steps wait for the dpkg lock and for cloud-init, and fail with one clear line after the timeout', async () => {
  const apt = (wait: number): Promise<{ code: number; stderr: string }> =>
    bed
      .exec(host, 'bash -s', { input: `${PRELUDE}\nPANEL_MODE=apply PANEL_APT_WAIT=${wait}\npanel_apt_install hello\n`, timeoutMs: 120_000 })
      .then((r) => ({ code: r.code, stderr: r.stderr }));
  await sh('dpkg -r hello >/dev/null 2>&1 || true; systemctl restart panel-testbed-boot-lock.service && for i in $(seq 50); do grep -q POSIX /proc/locks && break; sleep 0.2; done');
  const locked = await apt(3);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /^panel: apt-get install hello: the dpkg lock is still held after 3 s by hold-dpkg-lock \(pid \d+\): let it finish \(or stop it\), then run panel again$/m);
  const waited = await apt(60);
  assert.equal(waited.code, 0, waited.stderr);

  // cloud-init: a STAND-IN command (the profile has none) whose `status --wait`
  // returns when /run/cloud-init/result.json appears, as the real one does.
  await sh(
    `dpkg -r hello >/dev/null && mkdir -p /run/cloud-init && rm -f /run/cloud-init/result.json && ` +
      `printf '#!/bin/sh\\n[ "$1 $2" = "status --wait" ] || exit 0\\nwhile [ ! -e /run/cloud-init/result.json ]; do sleep 0.3; done\\necho "status: done"\\n' > /usr/local/bin/cloud-init && chmod 755 /usr/local/bin/cloud-init`,
  );
  const running = await apt(2);
  assert.equal(running.code, 1);
  assert.match(running.stderr, /^panel: cloud-init is still running after 2 s \(first boot\), so apt cannot be used yet/m);
  await sh('(setsid sh -c "sleep 3; echo {} > /run/cloud-init/result.json" >/dev/null 2>&1 &)');
  const done = await apt(60);
  assert.equal(done.code, 0, done.stderr);
  // An ordering, not a time: hello was unpacked after cloud-init wrote its result.
  const [finished, unpacked] = (await sh('stat -c %.9Y /run/cloud-init/result.json /var/lib/dpkg/info/hello.list')).trim().split('\n').map(Number);
  assert.ok(finished !== undefined && unpacked !== undefined && unpacked > finished, `apt did not wait for cloud-init (result ${finished}, hello unpacked ${unpacked})`);
  await sh('rm -rf /usr/local/bin/cloud-init /run/cloud-init');
});
