/**
 * A minimal stand-in for the engine, for testing resource scripts on real
 * roots: facts batch → parse → plan → apply → facts again. Deliberately
 * independent of src/engine so a resource bug is not masked by (or blamed
 * on) the engine.
 */
import { spawn } from 'node:child_process';
import { PRELUDE } from '../../../src/resources/prelude.js';
import type { Change, Resource } from '../../../src/resources/types.js';
import { type HostState, ownerScript, parseHostState, recordScript, STATE_FILE } from '../../../src/engine/state.js';

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
export type Exec = (script: string) => Promise<Ran>;

export function runProcess(cmd: string, args: readonly string[], input: string, env?: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env ?? process.env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    p.stdin.end(input);
  });
}

/** Run scripts inside a (not booted) root with systemd-nspawn, in its own network namespace. */
export function nspawnExec(root: string): Exec {
  return (script) =>
    runProcess(
      'systemd-nspawn',
      ['-q', '--register=no', '--keep-unit', '--private-network', '--capability=all', '-D', root, '--pipe', 'bash', '-s'],
      script,
      { ...process.env, SYSTEMD_NSPAWN_API_VFS_WRITABLE: '1' },
    ).then((r) => ({ ...r, stderr: r.stderr.replace(/^Attempted to remove disk file system.*\n?/gm, '') }));
}

/** The host state record as it is now. */
export async function readState(exec: Exec): Promise<HostState> {
  const r = await exec(`cat ${STATE_FILE} 2>/dev/null || true\n`);
  const s = parseHostState(r.stdout);
  if (!s.ok) throw new Error(s.error);
  return s.value;
}

export async function gather(exec: Exec, resources: readonly Resource<unknown>[], deep = false): Promise<unknown[]> {
  const parts = [`export PANEL_MODE=facts${deep ? ' PANEL_DEEP=1' : ''}`, 'set -u', PRELUDE];
  resources.forEach((r, i) => parts.push(`echo "@@panel-fact-begin ${i}"`, `(\n${r.facts()}\n) </dev/null`, `echo "@@panel-fact-end ${i} $?"`));
  const res = await exec(parts.join('\n') + '\n');
  const outs: unknown[] = [];
  const re = /^@@panel-fact-begin (\d+)\n([\s\S]*?)^@@panel-fact-end \1 (\d+)$/gm;
  for (const m of res.stdout.matchAll(re)) {
    const i = Number(m[1]);
    const r = resources[i];
    if (!r) throw new Error(`bad index ${i}`);
    outs[i] = r.parse({ stdout: m[2] ?? '', code: Number(m[3]) });
  }
  if (outs.length !== resources.length) throw new Error(`facts incomplete (${outs.length}/${resources.length}): ${res.stdout}\n${res.stderr}`);
  return outs;
}

export async function planAll(exec: Exec, resources: readonly Resource<unknown>[], deep = false): Promise<Change[]> {
  const facts = await gather(exec, resources, deep);
  const state = await readState(exec);
  const planned: Change[] = [];
  resources.forEach((r, i) => planned.push(...r.plan(facts[i], { planned: [...planned], state })));
  return planned;
}

export interface Applied {
  readonly ok: boolean;
  readonly done: number;
  readonly stderr: string;
}

/** Apply in one round trip; each step's exit status is checked outside any `||` list so errexit is honoured. */
export async function apply(exec: Exec, changes: readonly Change[]): Promise<Applied> {
  const parts = ['export PANEL_MODE=apply', PRELUDE];
  for (const c of changes) if (c.prepare) parts.push(c.prepare);
  changes.forEach((c, i) => {
    if (c.script === undefined) throw new Error('local effects are not supported by the harness');
    const owner = { recipe: 'test', resource: c.resource };
    const records = (c.records ?? []).map((r) => recordScript(r, owner)).join('\n');
    parts.push(`(\nset -euo pipefail\n${ownerScript(owner)}\n${c.script}\n${records}\n) </dev/null`, `__rc=$?; if [ $__rc -ne 0 ]; then echo "step-fail ${i} $__rc"; exit $__rc; fi`, `echo "step-ok ${i}"`);
  });
  const r = await exec(parts.join('\n') + '\n');
  const done = r.stdout.split('\n').filter((l) => l.startsWith('step-ok ')).length;
  return { ok: r.code === 0 && done === changes.length, done, stderr: r.stderr };
}

/** facts → plan → apply → plan again; returns both plans. Throws when apply fails. */
export async function converge(exec: Exec, resources: readonly Resource<unknown>[]): Promise<{ first: Change[]; second: Change[] }> {
  const first = await planAll(exec, resources);
  if (first.length > 0) {
    const a = await apply(exec, first);
    if (!a.ok) throw new Error(`apply failed after ${a.done} step(s): ${a.stderr}`);
  }
  const second = await planAll(exec, resources);
  return { first, second };
}
