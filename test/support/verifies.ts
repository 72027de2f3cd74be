/**
 * Verify checks of a `--json` run. "No verify failed" passes over nothing when
 * no verify ran (an install that stopped verifying), so every use names checks
 * that must have run and passed, per host. The guard in
 * test/unit/test-guards.test.ts refuses a bare `deepEqual(<verifies>, [])`.
 */
import assert from 'node:assert/strict';
import { type CliRun, events } from './panel-cli.js';

export interface VerifyEvent {
  readonly host: string;
  readonly recipe: string;
  readonly check: string;
  readonly ok: boolean;
  readonly detail?: string;
}

export function verifyEvents(run: CliRun): VerifyEvent[] {
  return events(run)
    .filter((e) => e.type === 'verify')
    .map((e) => ({ host: String(e['host']), recipe: String(e['recipe']), check: String(e['check']), ok: e['ok'] === true, ...(e['detail'] === undefined ? {} : { detail: String(e['detail']) }) }));
}

/**
 * No verify failed, and on every host of the run (or `hosts`) each of `checks` ran and
 * passed. Returns how many verifies ran.
 */
export function assertVerified(run: CliRun, checks: readonly string[], opts: { hosts?: readonly string[]; explain?: string } = {}): number {
  const vs = verifyEvents(run);
  const why = opts.explain === undefined ? '' : `\n${opts.explain}`;
  assert.deepEqual(vs.filter((v) => !v.ok).map((v) => `${v.host}: ${v.check}: ${v.detail ?? ''}`), [], `verifies failed${why}`);
  assert.ok(checks.length > 0, 'name the checks that must run');
  const hosts = opts.hosts ?? [...new Set(vs.map((v) => v.host))];
  assert.ok(hosts.length > 0, `no verify ran${why}`);
  for (const host of hosts) {
    const ran = vs.filter((v) => v.host === host).map((v) => v.check);
    for (const c of checks) assert.ok(ran.includes(c), `${host}: verify "${c}" did not run (ran: ${ran.join(', ') || 'none'})${why}`);
  }
  return vs.length;
}
