/**
 * faasd STAND-IN (panel testbed). NOT faasd: the real binary cannot be fetched
 * on test runners. Bundled with esbuild into a Node single executable
 * (test/testbed/faasd-standin/build.ts) because hosts have no Node, and served
 * by the testbed mirror as openfaas/faasd/releases/download/0.19.7/faasd.
 *
 * What it keeps of faasd 0.19.7's contract (cmd/up.go, pkg/supervisor.go,
 * pkg/proxy.go, cmd/provider.go, pkg/provider/handlers, cmd/collect.go):
 *   faasd up        (cwd /var/lib/faasd) reads docker-compose.yaml; writes
 *                   ./hosts ("<CNI gateway> faasd-provider", then "<ip> <service>"
 *                   per started task); pulls each image into namespace `openfaas`
 *                   (credentials from ./.docker/config.json, proxy from its
 *                   environment); removes a leftover task/container of the same
 *                   name; runs each service as a containerd task with compose's
 *                   user, cap_add, bind volumes (+ ./resolv.conf on /etc/resolv.conf,
 *                   ./hosts on /etc/hosts, read-only), environment and command, on
 *                   the CNI network of /etc/cni/net.d; forwards each published port
 *                   (host:port -> the task's IP:port, resolved from ./hosts on each
 *                   connection as proxy.go does); exits non-zero on any error;
 *                   on SIGTERM/SIGINT kills and deletes its tasks and containers.
 *   faasd provider  :8081, basic auth from $secret_mount_path/basic-auth-*;
 *                   /healthz, /system/functions (GET/POST/PUT/DELETE),
 *                   /system/function/NAME, /system/secrets, /system/info,
 *                   /system/namespaces (openfaas-fn and every namespace labelled
 *                   openfaas), ?namespace= checked as validNamespace does (400
 *                   otherwise), /system/function/NAME 404 with no body when absent,
 *                   /function/NAME -> the task's IP:8080.
 *                   Functions live in containerd namespace `openfaas-fn`; their
 *                   state is containerd's (labels, spec), so a restarted provider
 *                   lists what runs. Deploy checks the secrets, then pulls the
 *                   image (HTTP 400 with the pull error when it cannot, as
 *                   deploy.go), more than 15 functions are refused (faasd CE's
 *                   preDeploy); status as read.go / replicas.go fill it.
 *   faasd collect   containerd's binary log driver: a task's stdout/stderr go to
 *                   the journal tagged NAMESPACE:NAME (systemd-cat).
 *   faasd version   a version line containing "stand-in".
 * Where it differs: it drives containerd with the `ctr` program (ctr run --cni)
 * instead of the Go client; compose's `user` is applied only where ctr has
 * --user (containerd 1.7+; the testbed's Debian 1.6 ctr does not, so there a
 * service runs as its image's USER — the gateway's `app`, as upstream); no
 * hostname per task (ctr has no --hostname); functions live in openfaas-fn only
 * (a deployment's namespace is not used; another labelled namespace lists none); no scale-to-zero, no /system/logs, no
 * /system/scale-function, no async; CNI DEL is run on the plugins directly
 * (faasd's go-cni), with the address from host-local's allocation files.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { createServer as httpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chownSync, closeSync, createReadStream } from 'node:fs';
import { join, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

const VERSION = '0.19.7-stand-in';
const CTR = existsSync('/usr/local/bin/ctr') ? '/usr/local/bin/ctr' : 'ctr';
const SELF = '/usr/local/bin/faasd';
const CORE_NS = 'openfaas';
const FN_NS = 'openfaas-fn';
const MAX_FUNCTIONS = 15;
const ANNOTATION = 'com.openfaas.annotations.';

function log(msg: string): void {
  const d = new Date();
  const p = (n: number): string => String(n).padStart(2, '0');
  process.stderr.write(`${d.getFullYear()}/${p(d.getMonth() + 1)}/${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${msg}\n`);
}

interface CtrResult { code: number; out: string; err: string }
function ctrSync(args: string[]): CtrResult {
  const r = spawnSync(CTR, args, { encoding: 'utf8', env: process.env });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}
function ctr(args: string[]): Promise<CtrResult> {
  return new Promise((resolve) => {
    execFile(CTR, args, { env: process.env, maxBuffer: 64 << 20 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) });
    });
  });
}

/** docker.io/library/x:tag for "x", as reference.ParseNormalizedNamed + TagNameOnly. */
export function normalizeImage(ref: string): string {
  let name = ref;
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  if (slash < 0 || !(first.includes('.') || first.includes(':') || first === 'localhost')) {
    name = `docker.io/${slash < 0 ? 'library/' : ''}${name}`;
  }
  const last = name.slice(name.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) name += ':latest';
  return name;
}

/** --user for ctr pull from a docker config.json's auths entry for the image's registry. */
function pullAuth(image: string, configFile: string): string[] {
  if (!existsSync(configFile)) return [];
  try {
    const cfg = JSON.parse(readFileSync(configFile, 'utf8')) as { auths?: Record<string, { auth?: string }> };
    let host = image.slice(0, image.indexOf('/'));
    const keys = host === 'docker.io' ? ['docker.io', 'https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io'] : [host, `https://${host}`];
    for (const k of keys) {
      const a = cfg.auths?.[k]?.auth;
      if (a) { host = k; return ['--user', Buffer.from(a, 'base64').toString('utf8')]; }
    }
  } catch { /* faasd: an unreadable config means no credentials */ }
  return [];
}

async function pull(ns: string, image: string, configFile: string): Promise<CtrResult> {
  return ctr(['-n', ns, 'images', 'pull', ...pullAuth(image, configFile), image]);
}

interface NetConf { cniVersion: string; name: string; plugins: Array<Record<string, unknown> & { type: string; ipam?: { dataDir?: string; subnet?: string } }> }

function netConf(): NetConf | undefined {
  const dir = '/etc/cni/net.d';
  for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
    if (!f.endsWith('.conflist')) continue;
    try { return JSON.parse(readFileSync(join(dir, f), 'utf8')) as NetConf; } catch { /* next */ }
  }
  return undefined;
}

/**
 * cninetwork.DeleteCNINetwork: CNI DEL for the task's interface, plugins in
 * reverse order, so host-local releases its address and the bridge and
 * firewall plugins drop their chains (ctr's task delete does neither; without
 * it the next ADD for the same ID is refused: "duplicate allocation").
 */
function cniDel(ns: string, name: string): void {
  const conf = netConf();
  if (!conf) return;
  const id = `${ns}-${name}`;
  const dataDir = conf.plugins.find((p) => p.ipam?.dataDir)?.ipam?.dataDir ?? join('/var/lib/cni/networks', conf.name);
  let ip: string | undefined;
  for (const f of existsSync(dataDir) ? readdirSync(dataDir) : []) {
    try { if (readFileSync(join(dataDir, f), 'utf8').split(/\r?\n/)[0]?.trim() === id) ip = f; } catch { /* not an allocation */ }
  }
  const t = taskPid(ns, name);
  const netns = t && t.pid > 0 && existsSync(`/proc/${t.pid}/ns/net`) ? `/proc/${t.pid}/ns/net` : '';
  const prefix = conf.plugins.find((p) => p.ipam?.subnet)?.ipam?.subnet?.split('/')[1] ?? '16';
  const prevResult = ip ? { cniVersion: conf.cniVersion, interfaces: [{ name: 'eth0', sandbox: netns }], ips: [{ version: '4', address: `${ip}/${prefix}`, gateway: cniGateway(), interface: 0 }] } : undefined;
  for (const plugin of [...conf.plugins].reverse()) {
    spawnSync(join('/opt/cni/bin', plugin.type), {
      input: JSON.stringify({ ...plugin, name: conf.name, cniVersion: conf.cniVersion, ...(prevResult ? { prevResult } : {}) }),
      env: { ...process.env, CNI_COMMAND: 'DEL', CNI_CONTAINERID: id, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      encoding: 'utf8',
    });
  }
}

/** Supervisor.Remove then service.Remove: CNI DEL, kill the task, delete it, delete the container and its snapshot. */
function removeSync(ns: string, name: string): void {
  cniDel(ns, name);
  ctrSync(['-n', ns, 'tasks', 'kill', '-s', 'SIGKILL', name]);
  for (let i = 0; i < 50; i++) {
    const r = ctrSync(['-n', ns, 'tasks', 'delete', '-f', name]);
    if (r.code === 0 || /not found/i.test(r.err)) break;
    spawnSync('sleep', ['0.1']);
  }
  ctrSync(['-n', ns, 'containers', 'delete', name]);
  ctrSync(['-n', ns, 'snapshots', 'rm', name]);
}

function taskPid(ns: string, name: string): { pid: number; status: string } | undefined {
  const r = ctrSync(['-n', ns, 'tasks', 'ls']);
  for (const line of r.out.split('\n').slice(1)) {
    const [id, pid, status] = line.trim().split(/\s+/);
    if (id === name) return { pid: Number(pid), status: status ?? '' };
  }
  return undefined;
}

function taskIp(pid: number): string | undefined {
  for (let i = 0; i < 30; i++) {
    const r = spawnSync('nsenter', ['-t', String(pid), '-n', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' });
    const m = /inet (\d+\.\d+\.\d+\.\d+)/.exec(r.stdout ?? '');
    if (m?.[1]) return m[1];
    spawnSync('sleep', ['0.1']);
  }
  return undefined;
}

/** The CNI gateway: the first address of the conflist's subnet (cninetwork.CNIGateway). */
function cniGateway(): string {
  const dir = '/etc/cni/net.d';
  for (const f of existsSync(dir) ? readdirSync(dir).sort() : []) {
    const m = /"subnet"\s*:\s*"(\d+)\.(\d+)\.(\d+)\.(\d+)\//.exec(readFileSync(join(dir, f), 'utf8'));
    if (m) return `${m[1]}.${m[2]}.${m[3]}.${Number(m[4]) + 1}`;
  }
  return '10.62.0.1';
}

interface Mount { src: string; dst: string; ro: boolean }
interface RunSpec { ns: string; name: string; image: string; user?: string; caps?: string[]; mounts: Mount[]; env: string[]; args?: string[]; labels?: Record<string, string>; memory?: number }

/** ctr run has --user from containerd 1.7; Debian bookworm's 1.6 (the testbed's) lacks it. */
let ctrHasUser: boolean | undefined;
function runArgs(s: RunSpec): string[] {
  const a = ['-n', s.ns, 'run', '-d', '--cni', '--log-uri', `binary://${SELF}`];
  ctrHasUser ??= /--user\b/.test(ctrSync(['run', '--help']).out);
  if (s.user && ctrHasUser) a.push('--user', s.user);
  for (const c of s.caps ?? []) a.push('--cap-add', c);
  for (const m of s.mounts) a.push('--mount', `type=bind,src=${m.src},dst=${m.dst},options=rbind:${m.ro ? 'ro' : 'rw'}`);
  for (const e of s.env) a.push('--env', e);
  for (const [k, v] of Object.entries(s.labels ?? {})) a.push('--label', `${k}=${v}`);
  if (s.memory) a.push('--memory-limit', String(s.memory));
  a.push(s.image, s.name, ...(s.args ?? []));
  return a;
}

// ---------------------------------------------------------------- faasd up

interface ComposeService { image: string; user?: string; command?: string[]; environment?: string[] | Record<string, string>; volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>; cap_add?: string[]; depends_on?: string[]; ports?: string[] }

/** buildDeploymentOrder: dependencies first, otherwise compose order. */
function order(svcs: Record<string, ComposeService>): string[] {
  const out: string[] = [];
  const visit = (n: string, seen: Set<string>): void => {
    if (out.includes(n) || seen.has(n)) return;
    seen.add(n);
    for (const d of svcs[n]?.depends_on ?? []) visit(d, seen);
    out.push(n);
  };
  for (const n of Object.keys(svcs)) visit(n, new Set());
  return out;
}

async function up(): Promise<number> {
  const wd = process.cwd();
  const composeFile = join(wd, 'docker-compose.yaml');
  let svcs: Record<string, ComposeService>;
  try {
    svcs = (parseYaml(readFileSync(composeFile, 'utf8')) as { services: Record<string, ComposeService> }).services;
  } catch (e) {
    log(`Error: ${String(e)}`);
    return 1;
  }
  const gw = cniGateway();
  writeFileSync(join(wd, 'hosts'), `\n127.0.0.1\tlocalhost\n${gw}\tfaasd-provider`, { mode: 0o644 });
  const names = Object.keys(svcs);
  for (const name of names) {
    const image = normalizeImage(svcs[name]!.image);
    process.stdout.write(`Preparing ${name} with image: ${image}\n`);
    const r = await pull(CORE_NS, image, join(wd, '.docker', 'config.json'));
    if (r.code !== 0) {
      log(`Error: unable to pull image ${image}: ${(r.err || r.out).trim()}`);
      return 1;
    }
    process.stdout.write(`Prepare done for: ${image}\n`);
  }
  for (const name of names) {
    process.stdout.write(`Removing old container for: ${name}\n`);
    removeSync(CORE_NS, name);
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    for (const name of names) removeSync(CORE_NS, name);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (const name of order(svcs)) {
    const s = svcs[name]!;
    process.stdout.write(`Starting: ${name}\n`);
    const mounts: Mount[] = [];
    for (const v of s.volumes ?? []) {
      if (v.type !== 'bind') continue;
      const src = v.source.startsWith('/') ? v.source : join(wd, v.source);
      if (extname(src) === '' && !src.startsWith('/var/lib/faasd/secrets/')) {
        mkdirSync(src, { recursive: true, mode: 0o755 });
        const uid = Number(s.user);
        if (s.user && Number.isInteger(uid)) { try { chownSync(src, uid, -1); } catch (e) { process.stdout.write(`Unable to chown: ${src} to ${uid}, error: ${String(e)}\n`); } }
      }
      mounts.push({ src, dst: v.target, ro: v.read_only === true });
    }
    mounts.push({ src: join(wd, 'resolv.conf'), dst: '/etc/resolv.conf', ro: true }, { src: join(wd, 'hosts'), dst: '/etc/hosts', ro: true });
    const env = Array.isArray(s.environment) ? s.environment : Object.entries(s.environment ?? {}).map(([k, v]) => `${k}=${v}`);
    if (s.user) log(`Running ${name} with user: "${s.user}"`);
    const r = ctrSync(runArgs({ ns: CORE_NS, name, image: normalizeImage(s.image), user: s.user, caps: s.cap_add, mounts, env, args: s.command }));
    if (r.code !== 0) {
      log(`Error creating task: ${(r.err || r.out).trim()}`);
      for (const n of names) removeSync(CORE_NS, n);
      return 1;
    }
    const t = taskPid(CORE_NS, name);
    const ip = t ? taskIp(t.pid) : undefined;
    if (!ip) {
      log(`Error getting IP for ${name}: task ${t ? t.status : 'not found'}`);
      for (const n of names) removeSync(CORE_NS, n);
      return 1;
    }
    log(`${name} has IP: ${ip}`);
    writeFileSync(join(wd, 'hosts'), `${readFileSync(join(wd, 'hosts'), 'utf8')}\n${ip}\t${name}\n`);
  }
  // pkg/proxy.go: one TCP proxy per published port, upstream looked up in ./hosts per connection.
  for (const name of names) {
    for (const p of svcs[name]!.ports ?? []) {
      const parts = String(p).split(':');
      const port = Number(parts.pop());
      const hostPort = Number(parts.pop() ?? port);
      const host = parts.pop() ?? '0.0.0.0';
      const server = createServer((c: Socket) => {
        const m = new RegExp(`^(\\S+)\\s+${name}\\s*$`, 'm').exec(readFileSync(join(wd, 'hosts'), 'utf8'));
        if (!m?.[1]) { c.destroy(); return; }
        const u = connect(port, m[1]);
        c.pipe(u).pipe(c);
        u.on('error', () => c.destroy());
        c.on('error', () => u.destroy());
      });
      server.on('error', (e) => { log(`Error: ${name} proxy ${host}:${hostPort}: ${String(e)}`); for (const n of names) removeSync(CORE_NS, n); process.exit(1); });
      server.listen(hostPort, host);
      log(`Proxy from: ${host}:${hostPort}, to: ${name}:${port}`);
    }
  }
  return new Promise<number>(() => undefined); // runs until a signal
}

// ---------------------------------------------------------------- faasd collect

function collect(): number {
  const tag = `${process.env.CONTAINER_NAMESPACE ?? ''}:${process.env.CONTAINER_ID ?? ''}`;
  const cat = spawn('systemd-cat', ['-t', tag], { stdio: ['pipe', 'ignore', 'ignore'] });
  for (const fd of [3, 4]) createReadStream('', { fd }).on('data', (b) => cat.stdin.write(b)).on('error', () => undefined);
  // Closing fd 5 tells the shim the logger is ready (containerd's binary log driver).
  try { closeSync(5); } catch { /* already closed */ }
  return -1;
}

// ---------------------------------------------------------------- faasd provider

interface ContainerInfo { ID: string; Image: string; Labels?: Record<string, string>; Spec?: { process?: { env?: string[] }; mounts?: Array<{ destination: string; source: string }>; linux?: { resources?: { memory?: { limit?: number } } } } }

async function fnInfo(name: string): Promise<ContainerInfo | undefined> {
  const r = await ctr(['-n', FN_NS, 'containers', 'info', name]);
  if (r.code !== 0) return undefined;
  try { return JSON.parse(r.out) as ContainerInfo; } catch { return undefined; }
}

async function fnNames(): Promise<string[]> {
  const r = await ctr(['-n', FN_NS, 'containers', 'ls', '-q']);
  return r.out.split('\n').map((s) => s.trim()).filter(Boolean);
}

/** resource.NewQuantity(n, BinarySI).String(): the largest power of 1024 that divides n exactly. */
function binarySI(n: number): string {
  let v = n, i = 0;
  while (v !== 0 && v % 1024 === 0 && i < 6) { v /= 1024; i++; }
  return `${v}${['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'][i]}`;
}

/**
 * faas-provider's FunctionStatus as faasd fills it: GET /system/functions
 * (read.go) sets replicas and the memory limit, GET /system/function/NAME
 * (replicas.go) replicas and availableReplicas and no limits; both counts are
 * omitempty (absent when the task is not running), as are envVars and envProcess.
 */
function describe(c: ContainerInfo, list: boolean): Record<string, unknown> {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(c.Labels ?? {})) {
    // ctr run copies the image config's labels onto the container; faasd's NewContainer does not.
    if (k.startsWith('io.containerd.image.config.') || k.startsWith('org.opencontainers.image.')) continue;
    if (k.startsWith(ANNOTATION)) annotations[k.slice(ANNOTATION.length)] = v;
    else labels[k] = v;
  }
  const envVars: Record<string, string> = {};
  let fprocess = '';
  for (const e of c.Spec?.process?.env ?? []) {
    // readEnvFromProcessEnv splits on every "=" and keeps the second part: a value holding "=" is cut there.
    const kv = e.split('=');
    if (kv.length === 1) continue;
    const k = kv[0] ?? '', v = kv[1] ?? '';
    if (k === 'fprocess') fprocess = v;
    else if (k !== 'PATH') envVars[k] = v;
  }
  const secrets = (c.Spec?.mounts ?? []).filter((m) => m.destination.startsWith('/var/openfaas/secrets/')).map((m) => m.destination.slice('/var/openfaas/secrets/'.length));
  const t = taskPid(FN_NS, c.ID);
  const running = t?.status === 'RUNNING';
  const mem = c.Spec?.linux?.resources?.memory?.limit;
  return {
    name: c.ID, image: c.Image, namespace: FN_NS,
    ...(fprocess ? { envProcess: fprocess } : {}),
    ...(Object.keys(envVars).length > 0 ? { envVars } : {}),
    labels, annotations, secrets,
    ...(running ? { replicas: 1 } : {}),
    ...(running && !list ? { availableReplicas: 1 } : {}),
    ...(mem && list ? { limits: { memory: binarySI(mem) } } : {}),
  };
}

interface Deployment { service: string; image: string; envProcess?: string; envVars?: Record<string, string>; labels?: Record<string, string>; annotations?: Record<string, string>; secrets?: string[]; limits?: { memory?: string } }

function memBytes(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const m = /^(\d+)([KMG]i?|[kmg])?$/.exec(s.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { K: 1e3, k: 1e3, Ki: 1024, M: 1e6, m: 1e6, Mi: 1 << 20, G: 1e9, g: 1e9, Gi: 1 << 30 };
  return Number(m[1]) * (m[2] ? mult[m[2]] ?? 1 : 1);
}

/**
 * handlers/deploy.go (POST) and update.go (PUT), in their order: secrets
 * checked, then the pull, then (PUT) the old task and container removed, then
 * the new one created. Status codes as upstream: 400 for what deploy.go
 * refuses, 500 when update's pull fails, 404 for an update of an unknown function.
 */
async function deploy(d: Deployment, secretsDir: string, hostsDir: string, update: boolean): Promise<{ code: number; msg: string }> {
  const image = normalizeImage(d.image);
  for (const s of d.secrets ?? []) {
    if (!existsSync(join(secretsDir, FN_NS, s))) return { code: 400, msg: `unable to find secret: ${s}` };
  }
  const p = await pull(FN_NS, image, join(hostsDir, '.docker', 'config.json'));
  if (p.code !== 0) return { code: update ? 500 : 400, msg: `unable to pull image ${image}: ${(p.err || p.out).trim()}` };
  if (!update && (await fnNames()).includes(d.service)) return { code: 400, msg: `unable to create container: ${d.service}, error: container "${d.service}": already exists` };
  const env = Object.entries(d.envVars ?? {}).map(([k, v]) => `${k}=${v}`);
  if (d.envProcess) env.push(`fprocess=${d.envProcess}`);
  const labels = { ...(d.labels ?? {}) };
  for (const [k, v] of Object.entries(d.annotations ?? {})) labels[ANNOTATION + k] = v;
  const mounts: Mount[] = [
    { src: join(hostsDir, 'resolv.conf'), dst: '/etc/resolv.conf', ro: true },
    { src: join(hostsDir, 'hosts'), dst: '/etc/hosts', ro: true },
    ...(d.secrets ?? []).map((s) => ({ src: join(secretsDir, FN_NS, s), dst: `/var/openfaas/secrets/${s}`, ro: true })),
  ];
  removeSync(FN_NS, d.service);
  const r = await ctr(runArgs({ ns: FN_NS, name: d.service, image, mounts, env, labels, memory: memBytes(d.limits?.memory) }));
  if (r.code !== 0) return { code: 400, msg: `unable to start task: ${d.service}, error: ${(r.err || r.out).trim()}` };
  return { code: 200, msg: '' };
}

/** containerd namespaces and their labels, from `ctr namespaces ls` (NAME LABELS, labels k=v,k=v). */
async function namespaceLabels(): Promise<Map<string, Record<string, string>>> {
  const r = await ctr(['namespaces', 'ls']);
  const out = new Map<string, Record<string, string>>();
  for (const line of r.out.split('\n').slice(1)) {
    const [name, labels] = line.trim().split(/\s+/);
    if (!name) continue;
    out.set(name, Object.fromEntries((labels ?? '').split(',').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
  }
  return out;
}

/** ListNamespaces (handlers/namespaces.go): openfaas-fn, then every namespace labelled `openfaas`. */
async function namespaces(): Promise<string[]> {
  const set = [FN_NS];
  for (const [name, labels] of await namespaceLabels()) if ('openfaas' in labels && !set.includes(name)) set.push(name);
  return set;
}

/** validNamespace's refusal for a namespace other than openfaas-fn: undefined when it may be used. */
async function namespaceError(ns: string): Promise<string | undefined> {
  const labels = (await namespaceLabels()).get(ns);
  if (!labels) return `namespace ${ns}: not found`;
  return labels['openfaas'] === 'true' || labels['openfaas'] === '1' ? undefined : 'namespace not valid';
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => { const c: Buffer[] = []; req.on('data', (b: Buffer) => c.push(b)); req.on('end', () => resolve(Buffer.concat(c).toString('utf8'))); });
}

function provider(): number {
  const secretsDir = process.env.secret_mount_path || '/var/lib/faasd/secrets';
  const hostsDir = process.env.hosts_dir || '/var/lib/faasd';
  const readAuth = (): string | undefined => {
    try {
      const u = readFileSync(join(secretsDir, 'basic-auth-user'), 'utf8').trim();
      const p = readFileSync(join(secretsDir, 'basic-auth-password'), 'utf8').trim();
      return `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    } catch { return undefined; }
  };
  if (process.env.basic_auth === 'true' && !readAuth()) { log(`unable to load ${join(secretsDir, 'basic-auth-user')}`); return 1; }
  const send = (res: ServerResponse, code: number, data: unknown): void => {
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    res.writeHead(code, { 'Content-Type': typeof data === 'string' ? 'text/plain' : 'application/json' });
    res.end(text);
  };
  const server = httpServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname;
      if (path === '/healthz') return send(res, 200, 'OK');
      if (path.startsWith('/function/')) {
        const rest = path.slice('/function/'.length);
        const name = rest.split('/')[0] ?? '';
        const t = taskPid(FN_NS, name);
        const ip = t?.status === 'RUNNING' ? taskIp(t.pid) : undefined;
        if (!ip) return send(res, 404, `error finding function ${name}: not found\n`);
        const up = httpRequest({ host: ip, port: 8080, method: req.method, path: `/${rest.slice(name.length + 1)}${url.search}`, headers: req.headers }, (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
        });
        up.on('error', (e) => send(res, 502, `Can't reach service for: ${name}: ${e.message}\n`));
        req.pipe(up);
        return;
      }
      const auth = readAuth();
      if (process.env.basic_auth === 'true' && req.headers.authorization !== auth) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Restricted"' });
        return res.end('invalid credentials\n');
      }
      if (path === '/system/info') return send(res, 200, { provider: { provider: 'faasd-ce', orchestration: 'containerd', version: { sha: 'stand-in', release: VERSION } }, version: { sha: 'stand-in', release: VERSION }, arch: process.arch === 'x64' ? 'x86_64' : process.arch });
      if (path === '/system/namespaces') return send(res, 200, await namespaces());
      // getRequestNamespace + validNamespace (handlers/utils.go): no ?namespace= is openfaas-fn;
      // another must exist and carry the label openfaas=true, or the answer is 400.
      const ns = url.searchParams.get('namespace') || FN_NS;
      const nsError = ns === FN_NS ? undefined : await namespaceError(ns);
      if (nsError && (path === '/system/functions' || path.startsWith('/system/function/'))) return send(res, 400, `${nsError}\n`);
      if (path === '/system/functions') {
        if (req.method === 'GET') {
          const out = [];
          // Functions are deployed into openfaas-fn only: another valid namespace lists none.
          for (const n of ns === FN_NS ? await fnNames() : []) { const c = await fnInfo(n); if (c) out.push(describe(c, true)); }
          return send(res, 200, out);
        }
        if (req.method === 'POST' || req.method === 'PUT') {
          const d = JSON.parse(await body(req)) as Deployment;
          if (!d.service || !d.image) return send(res, 400, 'service and image are required\n');
          const existing = await fnNames();
          // preDeploy: the functions counted plus the one a POST adds.
          const count = existing.length + (req.method === 'POST' ? 1 : 0);
          if (count > MAX_FUNCTIONS) return send(res, 400, `the OpenFaaS CE EULA allows ${MAX_FUNCTIONS}/${count} function(s), upgrade to faasd Pro to continue\n`);
          if (req.method === 'PUT' && !existing.includes(d.service)) return send(res, 404, `function: ${d.service}.${FN_NS} not found\n`);
          const r = await deploy(d, secretsDir, hostsDir, req.method === 'PUT');
          return send(res, r.code, r.msg);
        }
        if (req.method === 'DELETE') {
          const { functionName } = JSON.parse(await body(req)) as { functionName?: string };
          if (!functionName || !(await fnNames()).includes(functionName)) return send(res, 404, `could not find function: ${functionName}\n`);
          removeSync(FN_NS, functionName);
          return send(res, 200, '');
        }
      }
      if (path.startsWith('/system/function/')) {
        // MakeReplicaReaderHandler: the status as JSON, or 404 with no body.
        const c = ns === FN_NS ? await fnInfo(decodeURIComponent(path.slice('/system/function/'.length))) : undefined;
        return c ? send(res, 200, describe(c, false)) : send(res, 404, '');
      }
      if (path === '/system/secrets') {
        const dir = join(secretsDir, FN_NS);
        if (req.method === 'GET') return send(res, 200, existsSync(dir) ? readdirSync(dir).map((name) => ({ name, namespace: FN_NS })) : []);
        const s = JSON.parse(await body(req)) as { name?: string; value?: string };
        if (!s.name || !/^[a-zA-Z0-9._-]+$/.test(s.name)) return send(res, 400, 'invalid secret name\n');
        const file = join(dir, s.name);
        if (req.method === 'DELETE') { if (!existsSync(file)) return send(res, 404, 'secret not found\n'); rmSync(file); return send(res, 200, ''); }
        if (req.method === 'POST' && existsSync(file)) return send(res, 409, `secret with name: ${s.name} already exists\n`);
        if (req.method === 'PUT' && !existsSync(file)) return send(res, 404, 'secret not found\n');
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        writeFileSync(file, s.value ?? '', { mode: 0o644 });
        return send(res, req.method === 'POST' ? 201 : 200, '');
      }
      return send(res, 404, '404 page not found\n');
    } catch (e) {
      return send(res, 500, `${String(e)}\n`);
    }
  });
  server.on('error', (e) => { log(`Error: ${String(e)}`); process.exit(1); });
  server.listen(8081, '0.0.0.0', () => log('Listening on: 0.0.0.0:8081'));
  return -1;
}

async function main(args: string[]): Promise<number> {
  // containerd's binary log driver runs the program with no arguments and
  // CONTAINER_ID set: faasd's main.go then runs collect.
  const argv = args.length === 0 && process.env.CONTAINER_ID ? ['collect'] : args;
  switch (argv[0]) {
    case 'version': process.stdout.write(`faasd version: ${VERSION}\tcommit: stand-in\n`); return 0;
    case 'up': return up();
    case 'provider': return provider();
    case 'collect': return collect();
    default: process.stderr.write('faasd stand-in: up | provider | collect | version\n'); return 1;
  }
}

main(process.argv.slice(2)).then((code) => { if (code >= 0) process.exit(code); }, (e: unknown) => { log(`Error: ${String(e)}`); process.exit(1); });
