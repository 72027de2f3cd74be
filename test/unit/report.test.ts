/**
 * The fleet recap (table), the NDJSON stream and the plain progress lines:
 * pure sinks of engine events, so they are tested on hand-made events.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { EngineEvent, HostResult } from '../../src/engine/events.js';
import { ndjsonSink } from '../../src/report/ndjson.js';
import { plainSink } from '../../src/report/plain.js';
import { planPrinter } from '../../src/report/plan-printer.js';
import { formatRecap, summaryLine } from '../../src/report/recap.js';
import { MASK, Secret } from '../../src/secret.js';

function result(host: string, over: Partial<HostResult> = {}): HostResult {
  return { host, status: 'ok', ok: 12, changed: 0, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1234, roundTrips: 3, ...over };
}

const fleet: HostResult[] = [
  result('web1', { status: 'changed', ok: 5, changed: 7, durationMs: 4321 }),
  result('web2-long-name', { status: 'ok' }),
  result('db1', { status: 'failed', ok: 0, failed: 1, error: 'db1: root@10.0.0.3:22: connect ECONNREFUSED' }),
  result('db2', { status: 'interrupted', ok: 0, error: 'db2: interrupted before connecting', durationMs: 0 }),
  result('cache1', { status: 'changed', changed: 2, rebootRequired: true, durationMs: 61_060 }),
];

/** Table rows as cell arrays: the lines between the dashes and the first blank line. */
function rows(table: string): string[][] {
  const lines = table.split('\n');
  const dash = lines.findIndex((l) => /^-+( +-+)+$/.test(l));
  assert.ok(dash > 0, 'table has a dashed rule under the header');
  const body: string[][] = [];
  for (const l of lines.slice(dash + 1)) {
    if (l.trim() === '') break;
    body.push(l.trim().split(/\s+/));
  }
  return body;
}

test('recap table: one row per host in input order with status, counts, reboot and duration', () => {
  const text = formatRecap('install', fleet);
  const header = text.split('\n')[0]!.trim().split(/\s+/);
  assert.deepEqual(header, ['host', 'status', 'ok', 'changed', 'failed', 'reboot-required', 'duration']);
  assert.deepEqual(rows(text), [
    ['web1', 'changed', '5', '7', '0', 'no', '4.3s'],
    ['web2-long-name', 'ok', '12', '0', '0', 'no', '1.2s'],
    ['db1', 'failed', '0', '0', '1', 'no', '1.2s'],
    ['db2', 'interrupted', '0', '0', '0', 'no', '0.0s'],
    ['cache1', 'changed', '12', '2', '0', 'yes', '61.1s'],
  ]);
});

test('recap table: columns line up whatever the lengths of host names', () => {
  const lines = formatRecap('install', fleet).split('\n');
  const tableLines = lines.slice(0, 2 + fleet.length);
  const width = tableLines[0]!.length;
  for (const l of tableLines) assert.equal(l.length, width, `every table line is ${width} wide: ${JSON.stringify(l)}`);
});

test('recap: a summary line and the cause of every failed or interrupted host, by name', () => {
  const text = formatRecap('install', fleet);
  assert.match(text, /^5 hosts: 1 ok, 2 changed, 1 failed, 1 interrupted$/m);
  assert.match(text, /^db1: root@10\.0\.0\.3:22: connect ECONNREFUSED$/m);
  assert.match(text, /^db2: interrupted before connecting$/m);
  // A converged host's error field (none) does not produce a line.
  assert.doesNotMatch(text, /^web1:/m);
});

test('recap: the change column is named for the mode; only check counts failed verifications as drift', () => {
  const r = [result('h', { status: 'failed', changed: 2, failed: 1, failedChecks: 3, error: 'h: verify failed' })];
  assert.match(formatRecap('plan', r).split('\n')[0]!, /\bto change\b/);
  assert.match(formatRecap('check', r).split('\n')[0]!, /\bdrift\b/);
  // install: two changes applied, then verification failed → changed 2, failed 1.
  assert.deepEqual(rows(formatRecap('install', r))[0]!.slice(2, 5), ['12', '2', '1']);
  // check: drift = 2 planned changes + 3 failed verifications.
  const checkRow = rows(formatRecap('check', [result('h', { status: 'drift', changed: 2, failedChecks: 3 })]))[0]!;
  assert.equal(checkRow[1], 'drift');
  assert.equal(checkRow[3], '5');
});

test('summary line: singular, empty fleet', () => {
  assert.equal(summaryLine([result('a')]), '1 host: 1 ok');
  assert.equal(summaryLine([]), '0 hosts');
});

test('NDJSON: one parseable line per event, in order, the event fields unchanged plus a timestamp', () => {
  const lines: string[] = [];
  const sink = ndjsonSink((l) => lines.push(l));
  const evs: EngineEvent[] = [
    { type: 'host-start', host: 'web1', recipes: ['demo'] },
    { type: 'recipe-end', host: 'web1', recipe: 'demo', status: 'failed', changes: 0, error: 'web1: demo: apt:hello: install failed (exit 100): E: Unable to locate package hello\nsecond line' },
    { type: 'host-end', host: 'web1', result: fleet[0]! },
    { type: 'recap', mode: 'install', hosts: fleet },
  ];
  evs.forEach(sink);
  assert.equal(lines.length, evs.length);
  for (const [i, l] of lines.entries()) {
    assert.ok(l.endsWith('\n') && !l.slice(0, -1).includes('\n'), `line ${i} is exactly one line`);
    const parsed = JSON.parse(l) as Record<string, unknown>;
    assert.match(String(parsed['ts']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const { ts: _ts, ...rest } = parsed;
    assert.deepEqual(rest, JSON.parse(JSON.stringify(evs[i])));
  }
});

test('NDJSON: a secret inside any event is masked', () => {
  const s = new Secret('hunter2-very-secret');
  const lines: string[] = [];
  ndjsonSink((l) => lines.push(l))({ type: 'recipe-end', host: 'h', recipe: 'r', status: 'failed', changes: 0, error: `bad password ${s.reveal()}` });
  assert.ok(!lines.join('').includes(s.reveal()));
  assert.ok(lines.join('').includes(MASK));
});

test('plain lines: every line is prefixed with its host; failures carry their cause', () => {
  const out: string[] = [];
  const sink = plainSink((l) => out.push(l));
  sink({ type: 'host-start', host: 'web1', recipes: ['base', 'demo'] });
  sink({ type: 'change', host: 'web1', recipe: 'demo', status: 'planned', change: { resource: 'file:/x', action: 'create', target: '/x', reason: 'absent', summary: 'create /x (absent)' } });
  sink({ type: 'change', host: 'web1', recipe: 'demo', status: 'applied', change: { resource: 'file:/x', action: 'create', target: '/x', reason: 'absent', summary: 'create /x (absent)' } });
  sink({ type: 'host-end', host: 'db1', result: fleet[2]! });
  assert.deepEqual(out, [
    '[web1] recipes: base, demo\n',
    '[web1] demo: changed: create /x (absent)\n',
    '[db1] failed in 1.2s: db1: root@10.0.0.3:22: connect ECONNREFUSED\n',
  ]);
});

test('warnings: plain lines, the plan printer, NDJSON and the recap each show them with host and recipe', () => {
  const w: EngineEvent = { type: 'warning', host: 'web1', recipe: 'base', message: '/etc/sysctl.conf sets net.ipv4.ip_forward = 0' };
  const plain: string[] = [];
  plainSink((l) => plain.push(l))(w);
  assert.deepEqual(plain, ['[web1] base: warning: /etc/sysctl.conf sets net.ipv4.ip_forward = 0\n']);
  const printed: string[] = [];
  planPrinter((t) => printed.push(t), { diffs: true, color: false })(w);
  assert.deepEqual(printed, ['web1  base  warning: /etc/sysctl.conf sets net.ipv4.ip_forward = 0\n']);
  const json: string[] = [];
  ndjsonSink((l) => json.push(l))(w);
  assert.deepEqual({ ...JSON.parse(json[0]!), ts: undefined }, { ...w, ts: undefined });
  const recap = formatRecap('install', [result('web1', { warnings: [w.message] }), result('web2')]);
  assert.match(recap, /^web1: warning: \/etc\/sysctl\.conf sets net\.ipv4\.ip_forward = 0$/m);
  assert.doesNotMatch(recap, /web2: warning/);
});
