/**
 * What a new user sees (issue 10, section 7): dry-run wording, a reader
 * that leaves early, NO_COLOR, a terminal with 0 columns, --version,
 * commander's errors, doubled words, the hidden test recipe, and the
 * shipped example inventory.
 */
import assert from 'node:assert/strict';
import { sh } from '../../src/shell.js';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { z } from 'zod';
import { recipes } from '../../recipes/index.js';
import { LOCAL_NEEDS_ROOT } from '../../src/cli/converge.js';
import { addCommon, type CommonFlags } from '../../src/cli/flags.js';
import { resolveTargets } from '../../src/cli/targets.js';
import type { HostConfig } from '../../src/config.js';
import type { EngineEvent, HostResult } from '../../src/engine/events.js';
import { runFleet } from '../../src/engine/fleet.js';
import { defineRecipe, type Recipe } from '../../src/engine/recipe.js';
import { packageRoot } from '../../src/paths.js';
import { listrSink, usableColumns } from '../../src/report/listr.js';
import { plainSink } from '../../src/report/plain.js';
import { planPrinter, wantColor } from '../../src/report/plan-printer.js';
import { formatRecap } from '../../src/report/recap.js';
import type { Change, Resource } from '../../src/resources/types.js';
import { BashTransport } from '../support/bash-transport.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-cli-output-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const RUN_CLI = join(packageRoot, 'test', 'support', 'run-cli.ts');
function cli(args: readonly string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), RUN_CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, PANEL_STATE_DIR: join(dir, 'state'), ...env },
    timeout: 60_000,
  });
}

function result(host: string, status: HostResult['status'], changed = 0): HostResult {
  return { host, status, ok: 3, changed, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1200, roundTrips: 2 };
}

describe('a dry run never says "changed"', () => {
  const hosts = [result('a', 'changed', 4), result('b', 'ok')];
  it('recap', () => {
    const plan = formatRecap('plan', hosts);
    assert.doesNotMatch(plan, /\bchanged\b/);
    assert.match(plan, /^a +to change /m);
    assert.match(plan, /2 hosts: 1 ok, 1 to change$/m);
    const check = formatRecap('check', [result('a', 'changed', 1)]);
    assert.doesNotMatch(check, /\bchanged\b/);
    assert.match(formatRecap('install', hosts), /1 changed/);
  });
  it('plain progress lines', () => {
    const out: string[] = [];
    const sink = plainSink((l) => out.push(l), 'plan');
    sink({ type: 'recipe-end', host: 'a', recipe: 'nginx', status: 'changed', changes: 2 });
    sink({ type: 'host-end', host: 'a', result: result('a', 'changed', 2) });
    assert.deepEqual(out, ['[a] nginx: to change (2)\n', '[a] to change in 1.2s\n']);
  });
});

describe('terminal output', () => {
  it('NO_COLOR turns colour off in the diff printer', () => {
    assert.equal(wantColor({ isTTY: true }, {}), true);
    assert.equal(wantColor({ isTTY: true }, { NO_COLOR: '1' }), false);
    assert.equal(wantColor({ isTTY: true }, { NO_COLOR: '' }), true, 'an empty NO_COLOR does not count (no-color.org)');
    assert.equal(wantColor({ isTTY: false }, {}), false);
    const out: string[] = [];
    const print = planPrinter((t) => out.push(t), { diffs: true, color: wantColor({ isTTY: true }, { NO_COLOR: '1' }) });
    print({ type: 'change', host: 'a', recipe: 'nginx', status: 'planned', change: { resource: 'file:/x', action: 'update', target: '/x', reason: 'content differs', summary: 'update /x (content differs)', diff: '--- /x\n+++ /x\n-old\n+new\n' } });
    assert.doesNotMatch(out.join(''), /\x1b\[/);
  });

  it('a terminal that reports 0 columns still gets whole lines', async () => {
    assert.equal(usableColumns(0), 80);
    assert.equal(usableColumns(undefined), 80);
    assert.equal(usableColumns(132), 132);
    const stream = Object.assign(new PassThrough(), { columns: 0, isTTY: true, rows: 0 }) as unknown as NodeJS.WriteStream;
    let text = '';
    (stream as unknown as PassThrough).on('data', (d: Buffer) => (text += d.toString()));
    const stdout = process.stdout as { columns?: number };
    const saved = Object.getOwnPropertyDescriptor(stdout, 'columns');
    stdout.columns = 0;
    try {
      const sink = listrSink(['host-with-a-long-name'], stream, 'install');
      sink.emit({ type: 'host-start', host: 'host-with-a-long-name', recipes: ['containerd'] });
      sink.emit({ type: 'recipe-end', host: 'host-with-a-long-name', recipe: 'containerd', status: 'changed', changes: 3 });
      sink.emit({ type: 'host-end', host: 'host-with-a-long-name', result: result('host-with-a-long-name', 'changed', 3) });
      await sink.done;
    } finally {
      if (saved) Object.defineProperty(stdout, 'columns', saved);
      else delete stdout.columns;
    }
    // eslint-disable-next-line no-control-regex
    const plain = text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
    assert.match(plain, /host-with-a-long-name/);
    assert.match(plain, /containerd: changed \(3\)/);
  });
});

describe('the command line', () => {
  it('--version prints the package version', () => {
    const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
    const r = cli(['--version']);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `${version}\n`);
  });
  it('commander\'s errors start with panel: like panel\'s own', () => {
    const r = cli(['install', '--bogus']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^panel: unknown option '--bogus'\n/);
    assert.doesNotMatch(r.stderr, /^error:/m);
  });
  it('the test-only demo recipe is hidden from `panel recipes`, listed with --all', () => {
    const r = cli(['recipes']);
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stdout, /^demo /m);
    assert.match(r.stdout, /^nginx /m);
    assert.match(cli(['recipes', '--all']).stdout, /^demo /m);
    assert.match(cli(['recipes', '--help']).stdout, /test-only recipes: demo/);
  });
});

describe('no doubled words', () => {
  it('the local machine without root', () => {
    assert.equal(`panel: ${LOCAL_NEEDS_ROOT}`.match(/panel: panel/), null);
    assert.match(LOCAL_NEEDS_ROOT, /^must run as root/);
  });
  it('a failed change of a resource named after its recipe', async () => {
    const res: Resource<null> = {
      key: 'stamp:x',
      facts: () => sh`true`,
      parse: () => null,
      plan: (): Change[] => [{ resource: 'stamp:x', action: 'create', target: 'x', reason: 'absent', script: sh`echo broken >&2; exit 3` }],
    };
    const registry = new Map<string, Recipe>([['stamp', defineRecipe({ id: 'stamp', title: 'stamp', params: z.object({}), resources: () => [res] }) as Recipe]]);
    const config: HostConfig = { name: 'a', connection: { kind: 'ssh', address: '192.0.2.1', port: 22, user: 'root' }, groups: [], recipes: ['stamp'], params: {}, domains: [], acme: { directory: 'https://acme.invalid/dir' }, progressDir: join(dir, 'progress') };
    const events: EngineEvent[] = [];
    const [r] = await runFleet([config], { mode: 'install', registry, emit: (e) => events.push(e), concurrency: 1, connect: async () => new BashTransport('a'), verifyWaitSeconds: 1 });
    assert.equal(r?.status, 'failed');
    assert.match(r?.error ?? '', /^a: stamp:x: /);
    assert.doesNotMatch(r?.error ?? '', /stamp: stamp/);
  });
});

describe('examples/fleet.yaml', () => {
  it('resolves through the CLI\'s own path (recipes and their parameters checked)', async () => {
    const home = join(dir, 'home');
    mkdirSync(join(home, '.ssh'), { recursive: true });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'key\n');
    const cmd = addCommon(new Command('install')).exitOverride();
    cmd.parse(['-i', join(packageRoot, 'examples', 'fleet.yaml')], { from: 'user' });
    const registry = new Map(recipes.map((r) => [r.id, r as Recipe]));
    const hosts = await resolveTargets(cmd.opts<CommonFlags>(), registry, { cwd: dir, homeDir: home, env: {} });
    assert.deepEqual(hosts.map((h) => h.name), ['web1', 'web2', 'db1']);
    assert.deepEqual(hosts[0]?.params['nginx'], { clientMaxBodySize: '256m' });
    // `key: ~/.ssh/id_ed25519` is the home directory's key, for every host that does not name its own.
    assert.deepEqual(hosts.map((h) => (h.connection.kind === 'ssh' ? h.connection.keyFile : undefined)), hosts.map(() => join(home, '.ssh', 'id_ed25519')));
    const text = readFileSync(join(packageRoot, 'examples', 'fleet.yaml'), 'utf8');
    assert.doesNotMatch(text, /panel apply/);
  });
});

describe('a reader that leaves early', () => {
  it('`panel install --json | head -3` completes the run and records it', () => {
    const work = join(dir, 'epipe');
    mkdirSync(work, { recursive: true });
    const child = join(packageRoot, 'test', 'support', 'epipe-child.ts');
    const script = `${JSON.stringify(process.execPath)} --import ${JSON.stringify(import.meta.resolve('tsx'))} ${JSON.stringify(child)} ${JSON.stringify(work)} | head -3; echo "exit=\${PIPESTATUS[0]}" >&2`;
    const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, PANEL_STATE_DIR: join(work, 'state') }, timeout: 120_000 });
    assert.equal(r.stdout.split('\n').filter(Boolean).length, 3);
    assert.match(r.stderr, /finished with 0\nexit=0\n$/);
    assert.ok(existsSync(join(work, 'stamp-199')), 'the last change was applied');
    const last = JSON.parse(readFileSync(join(work, 'state', 'last-run.json'), 'utf8')) as { hosts: HostResult[] };
    assert.deepEqual(last.hosts.map((h) => [h.host, h.status, h.changed]), [['h', 'changed', 200]]);
  });
});
