/**
 * Pure planning of a deploy: the stack, what the gateway reports and the
 * secrets' hashes on the host → the changes to make, each with its reason
 * and a diff a person reads. Nothing here talks to a host.
 *
 * What "unchanged" means. faasd reports a function's environment with the
 * image's own variables mixed in (it omits only PATH and fprocess), so the
 * reported environment cannot be compared whole. panel therefore stamps
 * what it deployed on the function itself, as two annotations: the sha256
 * of the request and the names of the variables it set. A function is
 * unchanged when that stamp matches the stack and what faasd reports agrees
 * with it (image, the stack's variables, secrets, labels, annotations,
 * memory limit): a change made behind panel's back is found as drift.
 */
import { createHash } from 'node:crypto';
import { CE_MAX_FUNCTIONS, DEFAULT_NAMESPACE, type FunctionDeployment, type FunctionStatus } from './api.js';
import { normalizeImage } from './image-ref.js';
import { sameQuantity } from './quantity.js';
import type { Stack, WantedFunction } from './stack.js';

/** Annotation keys panel owns on a function it deployed. */
export const STAMP = 'com.panel.spec-sha256';
export const STAMP_ENV = 'com.panel.env-keys';

export interface SecretWanted {
  readonly name: string;
  /** sha256 of the value, hex. */
  readonly sha256: string;
}

export type DeployChange =
  | { readonly kind: 'secret'; readonly action: 'create' | 'update'; readonly name: string; readonly reason: string }
  | { readonly kind: 'function'; readonly action: 'create' | 'update'; readonly name: string; readonly reason: string; readonly diff: string; readonly request: FunctionDeployment }
  | { readonly kind: 'function'; readonly action: 'delete'; readonly name: string; readonly reason: string; readonly diff: string };

export interface DeployPlan {
  readonly changes: readonly DeployChange[];
  /** Functions already as the stack says. */
  readonly unchanged: readonly string[];
  /** Problems that stop the host before anything is applied. */
  readonly errors: readonly string[];
}

export interface PlanInput {
  readonly stack: Stack;
  readonly current: readonly FunctionStatus[];
  /** sha256 of each secret file present on the host (name → hex); absent: not there. */
  readonly secretsOnHost: ReadonlyMap<string, string>;
  readonly secretsGiven: readonly SecretWanted[];
  readonly prune: boolean;
  /** Functions faasd counts against its limit (every namespace), before this deploy. */
  readonly maxFunctions?: number;
}

function sortedRecord(r: Readonly<Record<string, string>> | undefined | null): Record<string, string> {
  return Object.fromEntries(Object.entries(r ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The request panel sends for one function (faas-cli's deploy maps the same keys). */
export function deploymentOf(fn: WantedFunction): FunctionDeployment {
  const s = fn.spec;
  const env = sortedRecord(fn.env);
  const base: FunctionDeployment = {
    service: fn.name,
    image: s.image,
    ...(s.namespace ? { namespace: s.namespace } : {}),
    ...(s.fprocess ? { envProcess: s.fprocess } : {}),
    envVars: env,
    secrets: [...(s.secrets ?? [])].sort(),
    labels: sortedRecord(s.labels),
    ...(s.limits ? { limits: s.limits } : {}),
    ...(s.requests ? { requests: s.requests } : {}),
    ...(s.readonly_root_filesystem ? { readOnlyRootFilesystem: true } : {}),
    ...(s.constraints?.length ? { constraints: s.constraints } : {}),
  };
  const stamp = createHash('sha256').update(JSON.stringify({ ...base, annotations: sortedRecord(s.annotations) })).digest('hex');
  return { ...base, annotations: { ...sortedRecord(s.annotations), [STAMP]: stamp, [STAMP_ENV]: Object.keys(env).join(',') } };
}

function line(sign: '-' | '+', key: string, value: string): string {
  return `${sign} ${key}: ${value}`;
}

function mapDiff(
  what: string,
  want: Readonly<Record<string, string>>,
  have: Readonly<Record<string, string>>,
  removable: ReadonlySet<string>,
  reported: (wanted: string) => string = (v) => v,
): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want)) {
    if (have[k] === reported(v)) continue;
    if (k in have) out.push(line('-', `${what}.${k}`, JSON.stringify(have[k])));
    out.push(line('+', `${what}.${k}`, JSON.stringify(v)));
  }
  for (const [k, v] of Object.entries(have)) {
    if (!(k in want) && removable.has(k)) out.push(line('-', `${what}.${k}`, JSON.stringify(v)));
  }
  return out;
}

/** The differences between a request and what faasd reports for it, as diff lines (empty: the same). */
export function functionDiff(want: FunctionDeployment, have: FunctionStatus): string[] {
  const out: string[] = [];
  const haveAnn = { ...(have.annotations ?? {}) };
  if (normalizeImage(want.image) !== normalizeImage(have.image)) out.push(line('-', 'image', have.image), line('+', 'image', want.image));
  const previousEnv = new Set((haveAnn[STAMP_ENV] ?? '').split(',').filter((k) => k !== ''));
  // faasd reads a variable back cut at its second "=" (readEnvFromProcessEnv keeps strings.Split(e, "=")[1]):
  // `A=x=y` is reported as `x`. A change after that "=" still shows, as the deployed spec's sha256.
  out.push(...mapDiff('environment', want.envVars ?? {}, have.envVars ?? {}, previousEnv, (v) => v.split('=')[0] ?? ''));
  const ws = [...(want.secrets ?? [])].sort().join(', ');
  const hs = [...(have.secrets ?? [])].sort().join(', ');
  if (ws !== hs) out.push(line('-', 'secrets', `[${hs}]`), line('+', 'secrets', `[${ws}]`));
  const wantLabels = want.labels ?? {};
  out.push(...mapDiff('labels', wantLabels, have.labels ?? {}, new Set(Object.keys(have.labels ?? {}))));
  const wantAnn = Object.fromEntries(Object.entries(want.annotations ?? {}).filter(([k]) => k !== STAMP && k !== STAMP_ENV));
  const haveUser = Object.fromEntries(Object.entries(haveAnn).filter(([k]) => k !== STAMP && k !== STAMP_ENV));
  out.push(...mapDiff('annotations', wantAnn, haveUser, new Set(Object.keys(haveUser))));
  if (!sameQuantity(want.limits?.memory, have.limits?.memory ?? undefined)) {
    out.push(line('-', 'limits.memory', have.limits?.memory ?? '(none)'), line('+', 'limits.memory', want.limits?.memory ?? '(none)'));
  }
  if (out.length === 0 && want.annotations?.[STAMP] !== haveAnn[STAMP]) {
    // What faasd reports agrees, but the request differs in a field it does not report (fprocess, cpu, requests, …).
    out.push(line('-', 'deployed spec', haveAnn[STAMP] ? `sha256 ${haveAnn[STAMP].slice(0, 12)}` : 'not deployed by panel'), line('+', 'deployed spec', `sha256 ${want.annotations?.[STAMP]?.slice(0, 12) ?? ''}`));
  }
  return out;
}

export function planDeploy(input: PlanInput): DeployPlan {
  const changes: DeployChange[] = [];
  const unchanged: string[] = [];
  const errors: string[] = [];

  const given = new Map(input.secretsGiven.map((s) => [s.name, s.sha256]));
  for (const [name, sha] of given) {
    const onHost = input.secretsOnHost.get(name);
    if (onHost === sha) continue;
    changes.push({ kind: 'secret', action: onHost === undefined ? 'create' : 'update', name, reason: onHost === undefined ? 'absent' : 'value differs (by sha256)' });
  }

  const byName = new Map(input.current.map((f) => [f.name, f]));
  const wanted = new Set<string>();
  for (const fn of input.stack.functions) {
    wanted.add(fn.name);
    for (const s of fn.spec.secrets ?? []) {
      if (!given.has(s) && !input.secretsOnHost.has(s)) errors.push(`function ${fn.name}: secret ${JSON.stringify(s)} is neither on the host nor given (--secret ${s}=@FILE)`);
    }
    if (fn.spec.namespace && fn.spec.namespace !== DEFAULT_NAMESPACE) {
      errors.push(`function ${fn.name}: namespace ${JSON.stringify(fn.spec.namespace)}: panel deploys to ${DEFAULT_NAMESPACE} only`);
    }
    const request = deploymentOf(fn);
    const have = byName.get(fn.name);
    if (have === undefined) {
      const diff = [line('+', 'image', request.image), ...Object.entries(request.envVars ?? {}).map(([k, v]) => line('+', `environment.${k}`, JSON.stringify(v))), ...(request.secrets?.length ? [line('+', 'secrets', `[${request.secrets.join(', ')}]`)] : [])];
      changes.push({ kind: 'function', action: 'create', name: fn.name, reason: 'absent', diff: diff.join('\n'), request });
      continue;
    }
    const diff = functionDiff(request, have);
    // faasd CE cannot scale to zero (scale.go refuses 0 replicas), so 0 means the task is not running (it exited):
    // deploying it again, and waiting for it, is the only way the user learns why. faasd omits a 0
    // (faas-provider's FunctionStatus: `replicas,omitempty`), so absent is 0.
    const stopped = (have.replicas ?? 0) === 0;
    if (diff.length === 0 && !stopped) {
      unchanged.push(fn.name);
      continue;
    }
    if (diff.length === 0) {
      changes.push({ kind: 'function', action: 'update', name: fn.name, reason: 'not running', diff: [line('-', 'replicas', '0'), line('+', 'replicas', '1')].join('\n'), request });
      continue;
    }
    changes.push({ kind: 'function', action: 'update', name: fn.name, reason: 'differs from the stack', diff: diff.join('\n'), request });
  }
  if (input.prune) {
    for (const f of input.current) {
      if (!wanted.has(f.name)) changes.push({ kind: 'function', action: 'delete', name: f.name, reason: 'not in the stack (--prune)', diff: line('-', 'image', f.image) });
    }
  }
  if (input.maxFunctions !== undefined) {
    const after = new Set([...input.current.map((f) => f.name).filter((n) => !(input.prune && !wanted.has(n))), ...wanted]);
    if (after.size > input.maxFunctions) {
      errors.push(`${after.size} functions after this deploy: faasd CE refuses more than ${input.maxFunctions} (EULA; OpenFaaS Edge lifts the limit); nothing was deployed`);
    }
  }
  return { changes, unchanged, errors };
}

export { CE_MAX_FUNCTIONS };
