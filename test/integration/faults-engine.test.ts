/**
 * Issue 14 (engine faults) on one testbed host, through the CLI as users run
 * it (bin/panel.js over real sshd): two runs at once against the same host
 * (the host lock), Ctrl-C in the middle of a recipe, and a network cut
 * during apply.
 *
 * The demo recipe (artifacts off: local resources and the apt repository)
 * gives a real long step: a DPkg::Pre-Invoke hook on the host announces dpkg
 * with a marker file and then sleeps, so a test knows the apt step is running.
 * The tests share the bed and run in order; each resets what it needs.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageRoot } from '../../src/paths.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { panel, type CliRun } from '../support/panel-cli.js';
import { tempDir } from '../support/temp.js';

let bed: Testbed;
let h: TestHost;
let cwd: string;

/** Appears when dpkg starts on the host: the apt step of an apply round trip is running. */
const IN_APPLY = '/run/panel-test-in-apply';
const SLOW_DPKG = '/etc/apt/apt.conf.d/99panel-test-slow';
/** Every temp file panel's prelude makes (writes, extracts, state merges, downloads). */
const LEFTOVERS = `find / -xdev \\( -name '.panel-tmp.*' -o -name '.panel-validate.*' -o -name '.panel-extract.*' -o \\( -name '.state.*' ! -name .state.lock \\) -o -name '.statcache.*' -o -name '.fetch.*' -o -name '.record.*' \\) -print 2>/dev/null`;
/** The files the demo recipe writes (artifacts off). */
const DEMO_FILES = ['/opt/panel-demo/motd.txt', '/etc/panel-demo.conf', '/etc/systemd/system/panel-demo.service', '/etc/sysctl.d/90-panel-demo.conf', '/etc/panel-demo/token', '/var/lib/panel/state.json'];

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: false, ipv6: false });
  h = bed.hosts[0] as TestHost;
  cwd = tempDir('panel-faults-engine-');
});

after(async () => {
  await bed?.stop();
});

function args(cmd: string, ...more: string[]): string[] {
  return argsAs('root', cmd, ...more);
}

function argsAs(user: string, cmd: string, ...more: string[]): string[] {
  return [cmd, '--host', `${user}@${h.address}`, '--key', bed.keyFile, '--known-hosts', bed.knownHostsFile, '--recipes', 'base,demo', '--set', 'demo.artifacts=false', ...more];
}

interface Running {
  readonly child: ChildProcess;
  readonly out: () => { stdout: string; stderr: string };
  readonly closed: Promise<CliRun>;
}

/** `panel …` started in the background, as a user starts it in a terminal. */
function start(argv: readonly string[]): Running {
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'panel.js'), ...argv], { cwd, env: { ...process.env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 400_000);
  const closed = new Promise<CliRun>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    }),
  );
  return { child, out: () => ({ stdout, stderr }), closed };
}

async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 90_000, why: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    assert.ok(Date.now() < deadline, `${what}\n${why()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const inDpkg = async (): Promise<boolean> => (await bed.exec(h, `test -e ${IN_APPLY}`)).code === 0;

/** dpkg announces itself and then takes `seconds`: the apt step is long and observable. */
async function slowDpkg(seconds: number): Promise<void> {
  await bed.exec(h, `rm -f ${IN_APPLY}; echo 'DPkg::Pre-Invoke { "touch ${IN_APPLY}; sleep ${seconds}"; };' > ${SLOW_DPKG}`);
}

async function fastDpkg(): Promise<void> {
  await bed.exec(h, `rm -f ${SLOW_DPKG} ${IN_APPLY}`);
}

/** Take the demo recipe's work back off the host, so the next install has real work again (base stays). */
async function undoDemo(): Promise<void> {
  const r = await bed.exec(
    h,
    'systemctl disable --now panel-demo.service >/dev/null 2>&1; apt-get -q -y remove hello >/dev/null; rm -rf /opt/panel-demo /etc/panel-demo.conf /etc/panel-demo /etc/systemd/system/panel-demo.service /etc/sysctl.d/90-panel-demo.conf; systemctl daemon-reload',
  );
  assert.equal(r.code, 0, r.stderr);
}

/** sha256 of each demo file, `-` when absent. */
async function demoFiles(): Promise<Map<string, string>> {
  const r = await bed.exec(h, DEMO_FILES.map((f) => `if [ -f ${f} ]; then sha256sum < ${f} | cut -c1-64; else echo -; fi`).join('\n'));
  const sums = r.stdout.trim().split('\n');
  return new Map(DEMO_FILES.map((f, i) => [f, sums[i] ?? '?']));
}

/** How the CLI names a --host target: user@addr:port. */
function hostName(user = 'root'): string {
  return `${user}@${h.address}:22`;
}

function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The host error lines of a recap (after the table). */
function recapLine(stdout: string, hostName: string): string {
  return stdout.split('\n').find((l) => l.startsWith(`${hostName}: `)) ?? '';
}

test('two runs at once on one host: the second waits for the host lock naming the holder, a third (a sudo user) with --lock-wait 1 refuses in one line; both end, panel check passes', async () => {
  await slowDpkg(6);
  let first: Running | undefined;
  try {
    first = start(args('install'));
    await until('the first run reached dpkg', inDpkg, 120_000, () => first!.out().stderr);
    const second = start(args('install'));
    // As a sudo user: the lock is the same through `sudo -n`.
    const third = await panel(argsAs('deploy', 'install', '--lock-wait', '1'), { cwd });
    const [one, two] = await Promise.all([first.closed, second.closed]);

    assert.equal(one.code, 0, one.stdout + one.stderr);
    assert.equal(two.code, 0, two.stdout + two.stderr);
    const holder = new RegExp(`\\[${re(hostName())}\\] waiting for the host lock, held by panel install \\(pid ${first.child.pid}, [^ ]+@[^ ,]+, started \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\) \\(up to 600 s, --lock-wait\\)`);
    assert.match(two.stderr, holder, 'the waiting run names the holder and how long it waits');
    // Planned again after the wait: the first run did the work, the second found nothing to change.
    assert.match(two.stdout, new RegExp(`^${re(hostName())}\\s+ok\\s`, 'm'), two.stdout);

    assert.equal(third.code, 1, third.stdout + third.stderr);
    assert.equal(
      recapLine(third.stdout, hostName('deploy')).replace(/\(pid \d+, [^)]*\)/, '(pid N, …)'),
      `${hostName('deploy')}: another panel run holds the host lock (panel install (pid N, …)); gave up after 1 s (--lock-wait)`,
    );
    const check = await panel(args('check'), { cwd });
    assert.equal(check.code, 0, check.stdout + check.stderr);
  } finally {
    first?.child.kill('SIGKILL');
    await fastDpkg();
  }
});

test('Ctrl-C in the middle of a recipe: the running step finishes, the next ones never start, the recap says interrupted; the next run converges', async () => {
  await undoDemo();
  await slowDpkg(4);
  let run: Running | undefined;
  let ended: CliRun;
  try {
    run = start(args('install'));
    await until('the run reached dpkg', inDpkg, 120_000, () => run!.out().stderr);
    run.child.kill('SIGINT');
    ended = await run.closed;
  } finally {
    run?.child.kill('SIGKILL');
    await fastDpkg();
  }
  assert.equal(ended.code, 1, ended.stdout + ended.stderr);
  assert.match(ended.stderr, /interrupted — finishing the current step/);
  assert.match(ended.stdout, new RegExp(`^${re(hostName())}\\s+interrupted\\s`, 'm'), ended.stdout);
  assert.match(ended.stdout, /^1 host: 1 interrupted$/m);
  // Named: the step it stopped after (apt, hello) and the first one it did not start.
  assert.match(recapLine(ended.stdout, hostName()), new RegExp(`^${re(hostName())}: interrupted in recipe demo after install [^(]*hello[^(]* \\(not installed\\) \\(not started: .+\\)$`), ended.stdout);

  const state = await bed.exec(h, 'dpkg --audit && hello >/dev/null && test -s /opt/panel-demo/motd.txt && test ! -e /etc/systemd/system/panel-demo.service && ! systemctl is-active panel-demo.service');
  assert.equal(state.code, 0, `apt step complete, dpkg consistent, later steps not started: ${state.stdout}${state.stderr}`);
  assert.equal((await bed.exec(h, LEFTOVERS)).stdout, '', 'no temporary files left');
  assert.equal((await bed.exec(h, 'ls /run/panel')).stdout.includes('interrupt.'), false, 'the interrupt file went with the run');

  const again = await panel(args('install'), { cwd });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const check = await panel(args('check'), { cwd });
  assert.equal(check.code, 0, check.stdout + check.stderr);
});

test('a network cut during apply: the host fails at the exact step, no file is half-written, the next run converges and the one after changes nothing', async () => {
  await undoDemo();
  const before = await demoFiles();
  await slowDpkg(20);
  let run: Running | undefined;
  let ended: CliRun;
  try {
    run = start(args('install'));
    await until('the run reached dpkg', inDpkg, 120_000, () => run!.out().stderr);
    // Longer than the SSH keepalive gives up (15 s × 3 unanswered): panel sees the connection die.
    const cut = bed.cut(h, 80_000);
    ended = await run.closed;
    await cut;
  } finally {
    run?.child.kill('SIGKILL');
  }
  assert.equal(ended.code, 1, ended.stdout + ended.stderr);
  assert.match(ended.stdout, new RegExp(`^${re(hostName())}\\s+failed\\s`, 'm'), ended.stdout);
  assert.match(
    recapLine(ended.stdout, hostName()),
    new RegExp(`^${re(hostName())}: connection lost during demo: apt:[^ ]*: install [^(]*hello[^(]* \\(not installed\\) \\(its outcome on the host is unknown; .*connection lost.*\\); done before it: .*motd\\.txt.*; the next run picks up from the host as it is$`),
    ended.stdout,
  );

  // The host went on without panel (or was stopped by the cut); wait for its apply script to end.
  await until('the cut run ended on the host', async () => (await bed.exec(h, 'pgrep -x "apt-get|dpkg" >/dev/null')).code !== 0, 60_000);
  await fastDpkg();
  const afterCut = await demoFiles();

  const again = await panel(args('install'), { cwd });
  assert.equal(again.code, 0, again.stdout + again.stderr);
  const converged = await demoFiles();
  for (const f of DEMO_FILES) {
    if (f.endsWith('state.json')) continue; // the record of the run itself changes every run
    const cut = afterCut.get(f);
    assert.ok(cut === before.get(f) || cut === converged.get(f), `${f} is whole after the cut: old or new content, never in between`);
  }
  assert.equal((await bed.exec(h, LEFTOVERS)).stdout, '', 'no temporary files left');

  const third = await panel(args('install', '--json'), { cwd });
  assert.equal(third.code, 0, third.stdout + third.stderr);
  const applied = third.stdout.split('\n').filter((l) => l.includes('"type":"change"') && l.includes('"status":"applied"'));
  assert.deepEqual(applied, [], 'a further run changes nothing');
  const check = await panel(args('check'), { cwd });
  assert.equal(check.code, 0, check.stdout + check.stderr);
});
