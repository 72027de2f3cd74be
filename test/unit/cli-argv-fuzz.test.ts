/**
 * 1,000 seeded mutations of real `panel plan` command lines, run in-process
 * through `main` with stdout and stderr captured. Nothing is contacted: the
 * host connection is a stand-in that records the call and fails, and
 * `fetch` (artifact checksum prefetch) is a stand-in that fails too.
 *
 * Each run must end in one of two ways:
 *  - refused: exit 1 (or 0 for --help/--version), and every stderr line is
 *    `panel: <one problem>` — except commander's `(run with --help for usage)`
 *    and `(Did you mean --x?)` hints after a usage error — with at least one `panel:` line when exit is
 *    not 0, one line per problem (no line repeats the subject and quoted value of another) and no quoted
 *    value broken across lines; nothing was connected to;
 *  - accepted: the run reached the connection stand-in (a valid plan input).
 * Never: a stack trace (`    at ` lines), an `Error:` outside a `panel:` line,
 * an exit code other than 0/1/2.
 * Reproduce a failure with PANEL_FUZZ_SEED=<seed printed in the failure>.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMain as run, type MainOutcome as Outcome } from '../support/run-main.js';
import { prng } from '../support/prng.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-argv-fuzz-'));
const home = process.cwd();
writeFileSync(join(dir, 'fleet.yaml'), 'defaults:\n  recipes: [base, containerd, cni, bridge, faasd]\nhosts:\n  a:\n    address: 192.0.2.1\n');
writeFileSync(join(dir, 'pw'), 'from-a-file\n');
writeFileSync(join(dir, 'sums.txt'), '');

/** Real command lines users type (TEST-NET addresses only). */
const SEEDS: readonly (readonly string[])[] = [
  ['plan', '--host', 'root@192.0.2.1'],
  ['plan', '--host', 'deploy@192.0.2.1:2222', '-d', 'app.example.com', '-m', 'ops@mail.example.io', '-p', 'long-enough-pw'],
  ['plan', '--host', 'root@192.0.2.1', '--recipes', 'base,containerd', '--set', 'containerd.version=1.7.27'],
  ['plan', '--host', 'root@192.0.2.1', '--set', 'faasd.nameservers=1.1.1.1,8.8.8.8', '--proxy', 'http://proxy.example:3128', '--no-proxy', 'localhost,10.0.0.0/8'],
  ['plan', '-i', 'fleet.yaml', '--limit', 'a'],
  ['plan', '--host', 'root@192.0.2.1', '-d', 'a.example.com', '-d', 'b.example.com', '--staging', '--set', 'nginx.extraRoutes=[{"path":"/x/","port":5000}]'],
  ['plan', '--host', 'root@192.0.2.1', '--mirror', 'https://mirror.example', '--checksums', 'sums.txt', '--require-pinned', '--json'],
  ['plan', '--host', 'root@192.0.2.1', '--progress-dir', '/var/lib/panel', '--concurrency', '2', '--password-file', 'pw'],
];

/** Every flag addCommon declares that takes a value. */
const VALUE_FLAGS = ['-d', '--domain', '-m', '--mail', '-p', '--password', '--password-file', '--host', '-i', '--inventory', '--limit', '--concurrency', '--recipes', '--set', '--mirror', '--checksums', '--trust-artifact', '--proxy', '--no-proxy', '--registry-auth', '--openfaas-license', '--acme-directory', '--acme-profile', '--acme-ca', '--key', '--known-hosts', '--fingerprint', '--progress-dir'];
const BOOL_FLAGS = ['--require-pinned', '--staging', '--trust-new-host', '--retry-failed', '--json', '--allow-unsupported-os', '--deep', '-y'];

const HOSTILE = [
  '', ' ', '-', '--', '=', ';', '$(touch /tmp/pwned)', '`id`', "a'b", 'a"b', 'a\nb', 'a\rb', '{{x}}', '{{{x}}}', '}', '%', '%s',
  '../../etc/passwd', '/', '~', '~/', '0', '-1', '1e3', '99999999999999999999', 'NaN', 'null', '[]', '{}', '[{"path":"/"}]',
  'base.x', 'base.=1', '.x=1', 'nginx.extraRoutes=[{"path":"/a;}","port":1}]', 'faasd.nameservers=', 'x=y', '=x',
  'root@', '@192.0.2.1', 'root@192.0.2.1:0', 'root@192.0.2.1:99999', 'root@[::1]:22', 'root@192.0.2.1:22:22', 'a b@192.0.2.1',
  'http://', 'ftp://x', 'http://u:p@h:1', 'http://[::1', 'SHA256:', 'SHA256:!!!', 'ĀāĂ', 'é', '\u202e', '\ufeff', '\u0000'.slice(1), '😀', '\u{10FFFF}',
  '__proto__', 'constructor', '__proto__.x=1', 'toString', 'hasOwnProperty', 'base.__proto__=1', 'constructor.prototype=1',
];

function mutate(seed: number): string[] {
  const r = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const randomString = (): string => {
    const kind = r();
    if (kind < 0.5) return pick(HOSTILE);
    if (kind < 0.6) return 'x'.repeat(1 + Math.floor(r() * 20_000));
    // Binary-ish, NUL-free (argv cannot carry NUL).
    const len = 1 + Math.floor(r() * 64);
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCodePoint(1 + Math.floor(r() * (kind < 0.8 ? 255 : 0xd7ff)));
    return s;
  };
  const argv = [...pick(SEEDS)];
  const steps = 1 + Math.floor(r() * 3);
  for (let s = 0; s < steps; s++) {
    const at = 1 + Math.floor(r() * argv.length);
    const op = r();
    if (op < 0.3 && argv.length > 1) argv[Math.min(at, argv.length - 1)] = randomString();
    else if (op < 0.5) argv.splice(at, 0, pick(VALUE_FLAGS), randomString());
    else if (op < 0.6) argv.splice(at, 0, pick(VALUE_FLAGS)); // value missing, or the next flag taken as it
    else if (op < 0.7) argv.splice(at, 0, pick(BOOL_FLAGS));
    else if (op < 0.8) argv.splice(at, 0, `--${randomString().replace(/^-+/, '') || 'x'}`, randomString()); // unknown flag
    else if (op < 0.9 && argv.length > 2) argv.splice(at, 1); // drop a token
    else argv.push(`${pick(VALUE_FLAGS)}=${randomString()}`);
  }
  // The command stays `plan`: it changes nothing even if a stand-in were bypassed.
  argv[0] = 'plan';
  return argv;
}

const HINT = '(run with --help for usage)';

/** Why this outcome breaks the contract, or undefined. */
export function violation(o: Outcome): string | undefined {
  const all = o.out + o.err;
  if (/^\s+at /m.test(all)) return 'stack trace';
  if (![0, 1, 2].includes(o.code)) return `exit code ${o.code}`;
  for (const line of o.err.split('\n')) {
    if (/\bError:/.test(line) && !line.startsWith('panel: ')) return `"Error:" outside a panel: line: ${line.slice(0, 200)}`;
  }
  if (o.connected.length > 0) return undefined; // a valid plan input: reached the connection stand-in
  if (o.code === 2) return 'exit 2 without a run';
  const lines = o.err.split('\n').filter((l) => l !== '' && l !== HINT && !/^\(Did you mean .*\?\)$/.test(l));
  if (o.code === 0) {
    // --help / --version: output on stdout, nothing on stderr.
    return lines.length === 0 ? undefined : `exit 0 with stderr: ${lines[0]!.slice(0, 200)}`;
  }
  if (lines.length === 0) return 'refused without a panel: line';
  const bad = lines.find((l) => !/^panel: \S/.test(l));
  if (bad !== undefined) return `stderr line not "panel: …": ${JSON.stringify(bad.slice(0, 200))}`;
  // A value quoted in a message stays on its line: its quotes are balanced.
  // (commander quotes with ' instead: that span is left out.)
  const split = lines.find((l) => (l.replace(/\\./g, '').replace(/'.*'/, '').match(/"/g)?.length ?? 0) % 2 === 1);
  if (split !== undefined) return `a quoted value broken across lines: ${JSON.stringify(split.slice(0, 200))}`;
  // One line per problem: the same subject (text before the first ": ") quoting the same value twice is one problem said twice.
  const seen = new Set<string>();
  for (const l of lines) {
    const subject = l.slice('panel: '.length).split(': ')[0];
    const value = l.match(/"(?:[^"\\]|\\.)*"/g)?.at(-1) ?? l;
    const key = `${subject}\0${value}`;
    if (seen.has(key)) return `one problem on two lines: ${JSON.stringify(l.slice(0, 200))}`;
    seen.add(key);
  }
  return undefined;
}

describe('argv fuzz: 1,000 seeded mutations of panel plan command lines', () => {
  before(() => {
    process.chdir(dir);
    // main guards stdout once per call; 1,000 calls in one process are a test artefact.
    process.stdout.setMaxListeners(0);
  });
  after(() => {
    process.chdir(home);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the seed command lines are valid: each reaches the connection stand-in', async () => {
    for (const argv of SEEDS) {
      const o = await run(argv);
      assert.deepEqual(o.connected.length > 0, true, `${JSON.stringify(argv)} did not reach the stand-in: ${o.err}`);
      assert.equal(violation(o), undefined);
    }
  });

  it('the contract catches what it must', () => {
    const base = { code: 1, out: '', connected: [], fetched: [] };
    assert.match(violation({ ...base, err: 'panel: TypeError: x\n    at f (a.js:1:1)\n' }) ?? '', /stack trace/);
    assert.match(violation({ ...base, err: 'panel: a\nsecond line\n' }) ?? '', /not "panel: …"/);
    assert.match(violation({ ...base, err: '' }) ?? '', /without a panel: line/);
    assert.match(violation({ ...base, code: 7, err: 'panel: x\n' }) ?? '', /exit code 7/);
    assert.equal(violation({ ...base, err: `panel: unknown option '--x'\n${HINT}\n` }), undefined);
    assert.match(violation({ ...base, err: 'panel: --limit: no host named "a\npanel: b"\n' }) ?? '', /broken across lines/);
    assert.match(violation({ ...base, err: 'panel: --proxy: must be a URL, got "x"\npanel: --proxy: must be plain, got "x"\n' }) ?? '', /one problem on two lines/);
    assert.equal(violation({ ...base, err: 'panel: --domain: "a" is bad\npanel: --domain: "b" is bad\n' }), undefined);
  });

  it('never a stack trace: one panel: line per problem, or a valid plan', async () => {
    const first = Number(process.env['PANEL_FUZZ_SEED'] ?? 1);
    const count = process.env['PANEL_FUZZ_SEED'] ? 1 : 1000;
    const failures: string[] = [];
    let accepted = 0;
    for (let seed = first; seed < first + count; seed++) {
      const argv = mutate(seed);
      const o = await run(argv);
      if (o.connected.length > 0) accepted++;
      const why = violation(o);
      if (why) failures.push(`seed ${seed}: ${why}\n  argv ${JSON.stringify(argv).slice(0, 400)}\n  stderr ${JSON.stringify(o.err.slice(0, 400))}`);
    }
    if (process.env["FUZZ_DUMP"]) writeFileSync(process.env["FUZZ_DUMP"], failures.join("\n"));
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${count} cases broke the contract`);
    // Both outcomes are exercised: the fuzz is neither all refusals nor all accepted.
    if (count > 1) assert.ok(accepted >= 20 && accepted <= count - 100, `accepted ${accepted} of ${count}`);
  });
});
