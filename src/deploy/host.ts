/**
 * `panel deploy` on one host: read the gateway's credentials and the
 * function secrets' hashes on the host (one round trip), ask the gateway
 * what runs (through a forwarded channel of the same connection), plan,
 * and — unless it is a dry run — apply: secrets first, then functions, each
 * followed by a readiness wait. Reports through the engine's events, so the
 * terminal tree, --json, the recap and the exit code work as for install.
 */
import { createHash } from 'node:crypto';
import type { HostConfig } from '../config.js';
import type { Emit, HostResult } from '../engine/events.js';
import { failedResult } from '../engine/host-result.js';
import { takeHostLock, type HostLock } from '../engine/host-lock.js';
import { redact, registerSecret, Secret } from '../secret.js';
import { sh } from '../shell.js';
import { writeDeployedFunctions } from '../status/page.js';
import type { ChangeAction, PublicChange } from '../resources/types.js';
import type { Transport } from '../transport/types.js';
import { CE_MAX_FUNCTIONS, DEFAULT_NAMESPACE, SECRET_MOUNT_PATH } from './api.js';
import { Gateway } from './gateway.js';
import { planDeploy, type DeployChange, type DeployPlan } from './plan.js';
import type { Stack } from './stack.js';

export const DEPLOY = 'deploy';
/** The gateway listens on the host's loopback (faasd forwards :8080 to its container). */
export const GATEWAY_PORT = 8080;

export interface SecretInput {
  readonly name: string;
  readonly value: Secret;
}

export interface DeployOptions {
  readonly stack: Stack;
  readonly secrets: readonly SecretInput[];
  readonly prune: boolean;
  /** How long a deployed function may take to become ready. */
  readonly waitSeconds: number;
  /** Invoked once through the gateway after a function is ready (e.g. `/_/health`); 2xx passes. */
  readonly healthPath?: string;
  readonly emit: Emit;
  readonly signal?: AbortSignal;
  readonly lockWaitSeconds: number;
  readonly lockHolder: string;
  /** Milliseconds between readiness polls (tests shorten it). */
  readonly pollMs?: number;
  /** faasd's secret_mount_path on the host (unit tests point it at a directory of their own). */
  readonly secretDir?: string;
}

export interface HostDeployPlan {
  readonly config: HostConfig;
  readonly transport: Transport;
  readonly gateway: Gateway;
  readonly plan: DeployPlan;
  readonly startedAt: number;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** One fact round trip: the admin credentials (base64, so any byte survives) and each named secret's sha256. */
export function factsScript(secretNames: readonly string[], secretDir: string = SECRET_MOUNT_PATH): string {
  return sh`set -u
d=${secretDir}
for f in basic-auth-user basic-auth-password; do
  if [ -r "$d/$f" ]; then printf '%s\\t%s\\n' "$f" "$(base64 -w0 < "$d/$f")"; fi
done
for n in ${[...secretNames]}; do
  f="$d/${DEFAULT_NAMESPACE}/$n"
  if [ -f "$f" ]; then printf 'secret\\t%s\\t%s\\n' "$n" "$(sha256sum < "$f" | cut -d' ' -f1)"; fi
done
true
`.text;
}

interface HostFacts {
  readonly user?: string;
  readonly password?: Secret;
  readonly secrets: Map<string, string>;
}

export function parseFacts(stdout: string): HostFacts {
  const secrets = new Map<string, string>();
  let user: string | undefined;
  let password: Secret | undefined;
  for (const line of stdout.split('\n')) {
    const [kind, a, b] = line.split('\t');
    if (kind === 'basic-auth-user' && a !== undefined) user = Buffer.from(a, 'base64').toString();
    else if (kind === 'basic-auth-password' && a !== undefined) {
      const value = Buffer.from(a, 'base64').toString();
      registerSecret(value);
      password = new Secret(value);
    } else if (kind === 'secret' && a !== undefined && b !== undefined && /^[0-9a-f]{64}$/.test(b)) secrets.set(a, b);
  }
  return { ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}), secrets };
}

function publicOf(c: DeployChange): PublicChange {
  const target = c.kind === 'secret' ? `secret ${c.name}` : `function ${c.name}`;
  const action: ChangeAction = c.action;
  return {
    resource: `${c.kind}:${c.name}`,
    action,
    target,
    reason: c.reason,
    summary: `${action} ${target} (${c.reason})`,
    ...(c.kind === 'function' ? { diff: c.diff } : {}),
  };
}

export function publicChanges(plan: DeployPlan): PublicChange[] {
  return plan.changes.map(publicOf);
}

/** Connect-time and planning failures are one line naming the host; nothing was changed. */
export async function planDeployHost(config: HostConfig, transport: Transport, o: DeployOptions): Promise<{ ok: true; plan: HostDeployPlan } | { ok: false; result: HostResult }> {
  const startedAt = Date.now();
  const host = config.name;
  const fail = (msg: string): { ok: false; result: HostResult } => ({ ok: false, result: failedResult(host, `${host}: ${DEPLOY}: ${msg}`, startedAt, transport.stats.channels) });
  o.emit({ type: 'host-start', host, recipes: [DEPLOY] });
  o.emit({ type: 'recipe-start', host, recipe: DEPLOY, title: `functions of ${o.stack.file}` });

  const names = [...new Set([...o.stack.functions.flatMap((f) => f.spec.secrets ?? []), ...o.secrets.map((s) => s.name)])];
  const facts = await transport.exec(factsScript(names, o.secretDir));
  if (facts.code !== 0) return fail(`reading the gateway credentials failed (exit ${facts.code}): ${facts.stderr.trim().split('\n').pop() ?? ''}`);
  const f = parseFacts(facts.stdout);
  if (f.user === undefined || f.password === undefined) {
    return fail(`no gateway credentials in ${o.secretDir ?? SECRET_MOUNT_PATH} (is faasd installed? run \`panel install\` first)`);
  }
  const gateway = new Gateway({ connect: () => transport.forward(GATEWAY_PORT), credentials: { user: f.user, password: f.password } });
  const current = await gateway.functions();
  if (!current.ok) return fail(`the gateway did not answer: ${current.error}`);
  const info = await gateway.providerName();
  const plan = planDeploy({
    stack: o.stack,
    current: current.value,
    secretsOnHost: f.secrets,
    secretsGiven: o.secrets.map((s) => ({ name: s.name, sha256: sha256(s.value.reveal()) })),
    prune: o.prune,
    // faasd CE's own limit; OpenFaaS Edge (faasd-pro) has none.
    ...(info !== 'faasd-pro' ? { maxFunctions: CE_MAX_FUNCTIONS } : {}),
  });
  if (plan.errors.length > 0) return fail(plan.errors.join('; '));
  return { ok: true, plan: { config, transport, gateway, plan, startedAt } };
}

function resultOf(p: HostDeployPlan, status: HostResult['status'], changed: number, error?: string): HostResult {
  const s = p.transport.stats;
  return {
    host: p.config.name,
    status,
    ok: p.plan.unchanged.length,
    changed,
    failed: status === 'failed' ? 1 : 0,
    failedChecks: 0,
    rebootRequired: false,
    durationMs: Date.now() - p.startedAt,
    roundTrips: s.channels,
    bytesSent: s.wireBytesSent,
    bytesReceived: s.wireBytesReceived,
    ...(error !== undefined ? { error: redact(error) } : {}),
  };
}

/** The last lines a function's task wrote: faasd logs each task to the journal as `<namespace>:<name>` (cmd/collect.go). */
async function taskLog(t: Transport, name: string): Promise<string> {
  const r = await t.exec(sh`journalctl --no-pager -o cat -n 5 --identifier=${`${DEFAULT_NAMESPACE}:${name}`} 2>/dev/null | tail -n 5`.text);
  const lines = r.stdout.trim().split('\n').filter((l) => l !== '');
  return lines.length > 0 ? `; its last log lines: ${lines.join(' | ')}` : '; it logged nothing';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Ready: the gateway reports an available replica on two polls a second
 * apart (a task that starts and exits at once is seen running once), then
 * the health path, when given, answers 2xx. A task that is not running for
 * three seconds after faasd accepted the deploy has exited.
 */
async function waitReady(p: HostDeployPlan, name: string, o: DeployOptions): Promise<string | undefined> {
  const poll = o.pollMs ?? 500;
  const started = Date.now();
  let readySince: number | undefined;
  let downSince: number | undefined = started;
  let last = 'no answer';
  while (Date.now() - started < o.waitSeconds * 1000) {
    const r = await p.gateway.function(name);
    if (!r.ok) last = r.error;
    else if (r.value === undefined) last = 'the gateway does not know it';
    else {
      const n = r.value.availableReplicas ?? 0;
      last = `availableReplicas ${n}`;
      const now = Date.now();
      if (n >= 1) {
        downSince = undefined;
        readySince ??= now;
        if (now - readySince >= 1000) break;
      } else {
        readySince = undefined;
        downSince ??= now;
        if (now - downSince >= 3000) return `function ${name} is not running (its container exited)${await taskLog(p.transport, name)}`;
      }
    }
    await sleep(poll);
  }
  if (readySince === undefined || Date.now() - readySince < 1000) return `function ${name} not ready after ${o.waitSeconds} s (${last})${await taskLog(p.transport, name)}`;
  if (o.healthPath) {
    const h = await p.gateway.invoke(name, o.healthPath);
    if (!h.ok) return `function ${name}: ${o.healthPath}: ${h.error}`;
    if (h.value < 200 || h.value >= 300) return `function ${name}: ${o.healthPath} answered HTTP ${h.value}${await taskLog(p.transport, name)}`;
  }
  return undefined;
}

/** Apply a planned host (dry run: report the plan only). */
export async function applyDeployHost(p: HostDeployPlan, o: DeployOptions, dryRun: boolean): Promise<HostResult> {
  const host = p.config.name;
  const changes = p.plan.changes;
  if (dryRun || changes.length === 0) {
    for (const c of changes) o.emit({ type: 'change', host, recipe: DEPLOY, status: 'planned', change: publicOf(c) });
    o.emit({ type: 'recipe-end', host, recipe: DEPLOY, status: changes.length > 0 ? 'changed' : 'ok', changes: changes.length });
    // As `panel plan`: `changed` with the count found (the recap words it "to change").
    return resultOf(p, changes.length > 0 ? 'changed' : 'ok', changes.length);
  }
  const took = await takeHostLock(p.transport, {
    holder: o.lockHolder,
    waitSeconds: o.lockWaitSeconds,
    ...(o.signal ? { signal: o.signal } : {}),
    onWait: (by) => o.emit({ type: 'lock-wait', host, holder: by, waitSeconds: o.lockWaitSeconds }),
  });
  if (!took.ok) return resultOf(p, took.interrupted ? 'interrupted' : 'failed', 0, `${host}: ${took.error}`);
  const lock: HostLock = took.lock;
  let applied = 0;
  try {
    const values = new Map(o.secrets.map((s) => [s.name, s.value]));
    for (const c of changes) {
      if (o.signal?.aborted) {
        o.emit({ type: 'recipe-end', host, recipe: DEPLOY, status: 'failed', changes: applied });
        return resultOf(p, 'interrupted', applied, `${host}: interrupted after ${applied} of ${changes.length} changes`);
      }
      let failure: string | undefined;
      if (c.kind === 'secret') {
        const value = values.get(c.name);
        const r = value ? await p.gateway.putSecret(c.name, value, c.action === 'update') : { ok: false as const, error: 'no value' };
        if (!r.ok) failure = `secret ${c.name}: ${r.error}`;
      } else if (c.action === 'delete') {
        const r = await p.gateway.remove(c.name);
        if (!r.ok) failure = `function ${c.name}: ${r.error}`;
      } else {
        const r = await p.gateway.deploy(c.request, c.action === 'update');
        failure = r.ok ? await waitReady(p, c.name, o) : `function ${c.name}: ${r.error}`;
      }
      if (failure !== undefined) {
        o.emit({ type: 'change', host, recipe: DEPLOY, status: 'failed', change: publicOf(c) });
        o.emit({ type: 'recipe-end', host, recipe: DEPLOY, status: 'failed', changes: applied, error: redact(failure) });
        return resultOf(p, 'failed', applied, `${host}: ${DEPLOY}: ${failure}`);
      }
      applied++;
      o.emit({ type: 'change', host, recipe: DEPLOY, status: 'applied', change: publicOf(c) });
    }
    // The status page lists what runs now (best effort; still under the lock, as an install writes it).
    // faasd's list sets only `replicas` (read.go); the per-function answer sets `availableReplicas`.
    const now = await p.gateway.functions();
    if (now.ok) {
      await writeDeployedFunctions(p.transport, p.config.progressDir, now.value.map((f) => ({ name: f.name, image: f.image, available: Math.max(f.availableReplicas ?? 0, f.replicas ?? 0) }))).catch(() => undefined);
    }
  } finally {
    await lock.release();
  }
  o.emit({ type: 'recipe-end', host, recipe: DEPLOY, status: 'changed', changes: applied });
  return resultOf(p, 'changed', applied);
}
