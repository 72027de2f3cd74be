/**
 * One input path: every flag, given once with --host and once with -i, ends
 * in the same HostConfig field (or is refused with one line), and bad
 * recipe parameters fail before any connection.
 */
import assert from 'node:assert/strict';
import { passwordFrom } from '../../src/cli/options.js';
import { spawn } from 'node:child_process';
import { countingListener } from '../support/listener.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { recipes } from '../../recipes/index.js';
import { addCommon, type CommonFlags } from '../../src/cli/flags.js';
import { resolveTargets } from '../../src/cli/targets.js';
import type { HostConfig } from '../../src/config.js';
import { LETS_ENCRYPT_STAGING } from '../../src/config.js';
import type { Recipe } from '../../src/engine/recipe.js';
import { packageRoot } from '../../src/paths.js';
import { UsageError } from '../../src/cli/usage-error.js';

const registry: ReadonlyMap<string, Recipe> = new Map(recipes.map((r) => [r.id, r as Recipe]));
const dir = mkdtempSync(join(tmpdir(), 'panel-cli-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const f of ['id', 'kh', 'sums.txt', 'auth.json', 'licence', 'ca.pem']) writeFileSync(join(dir, f), 'x\n');
writeFileSync(join(dir, 'pw'), 'from-a-file\n');
writeFileSync(join(dir, 'fleet.yaml'), 'defaults:\n  recipes: [base, containerd, cni, bridge, faasd]\nhosts:\n  a:\n    address: 192.0.2.1\n');

/** The CLI from source in a child process (asynchronously, so this process can serve meanwhile). */
function runCli(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), join(packageRoot, 'test', 'support', 'run-cli.ts'), ...args], { cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

const FP = 'SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8';

function flagsOf(argv: readonly string[]): CommonFlags {
  const cmd = addCommon(new Command('plan')).exitOverride();
  cmd.parse([...argv], { from: 'user' });
  return cmd.opts<CommonFlags>();
}

/** The hosts, or the message of the UsageError the CLI prints; any other error (a TypeError, a bug) is thrown. */
async function resolveArgs(argv: readonly string[]): Promise<HostConfig[] | string> {
  try {
    return await resolveTargets(flagsOf(argv), registry, { cwd: dir, homeDir: dir, env: {} });
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
}

type Field = (c: HostConfig) => unknown;
const conn = (c: HostConfig): Record<string, unknown> => c.connection as unknown as Record<string, unknown>;

interface Row {
  readonly args: readonly string[];
  /** The HostConfig field the flag sets; absent for run options (they must leave HostConfig as it is). */
  readonly field?: Field;
  readonly expect?: unknown;
  /** The -i case is refused with this one line instead. */
  readonly refusedWithInventory?: RegExp;
}

/** Every option addCommon declares, keyed by its long name. */
const TABLE: Record<string, Row> = {
  '--domain': { args: ['-d', 'App.Example.com'], field: (c) => c.domains, expect: ['app.example.com'] },
  '--mail': { args: ['-m', 'ops@mail.example.io'], field: (c) => c.email, expect: 'ops@mail.example.io' },
  '--password': { args: ['-p', 'long-enough'], field: (c) => c.password?.reveal(), expect: 'long-enough' },
  '--password-file': { args: ['--password-file', join(dir, 'pw')], field: (c) => c.password?.reveal(), expect: 'from-a-file' },
  '--host': { args: [], refusedWithInventory: /^use either -i\/--inventory or --host, not both$/ },
  '--inventory': { args: [] },
  '--limit': { args: [] },
  '--concurrency': { args: ['--concurrency', '3'] },
  '--lock-wait': { args: ['--lock-wait', '30'] },
  '--recipes': { args: ['--recipes', 'base'], field: (c) => c.recipes, expect: ['base'] },
  '--set': { args: ['--set', 'faasd.nameservers=1.1.1.1,8.8.8.8', '--set', 'nginx.extraRoutes=[{"path":"/x/","port":5000}]'], field: (c) => c.params, expect: { faasd: { nameservers: ['1.1.1.1', '8.8.8.8'] }, nginx: { extraRoutes: [{ path: '/x/', port: 5000 }] } } },
  '--mirror': { args: ['--mirror', 'https://mirror.example/'], field: (c) => c.mirror, expect: 'https://mirror.example' },
  '--checksums': { args: ['--checksums', 'sums.txt'], field: (c) => c.checksumsFile, expect: join(dir, 'sums.txt') },
  '--require-pinned': { args: ['--require-pinned'], field: (c) => c.requirePinned, expect: true },
  '--trust-artifact': { args: ['--trust-artifact', 'code-server'], field: (c) => c.trustArtifacts, expect: ['code-server'] },
  '--proxy': { args: ['--proxy', 'http://proxy.example:3128'], field: (c) => c.proxy, expect: 'http://proxy.example:3128' },
  '--no-proxy': { args: ['--no-proxy', 'localhost, 10.0.0.0/8,.internal'], field: (c) => c.noProxy, expect: 'localhost,10.0.0.0/8,.internal' },
  '--registry-auth': { args: ['--registry-auth', 'auth.json'], field: (c) => c.registryAuth, expect: join(dir, 'auth.json') },
  '--openfaas-license': { args: ['--openfaas-license', 'licence'], field: (c) => c.openfaasLicense, expect: join(dir, 'licence') },
  '--acme-directory': { args: ['--acme-directory', 'https://acme.example/dir'], field: (c) => c.acme.directory, expect: 'https://acme.example/dir' },
  '--staging': { args: ['--staging'], field: (c) => c.acme.directory, expect: LETS_ENCRYPT_STAGING },
  '--acme-profile': { args: ['--acme-profile', 'shortlived'], field: (c) => c.acme.profile, expect: 'shortlived' },
  '--acme-resolver': { args: ['--acme-resolver', '10.0.0.53:8053'], field: (c) => c.acme.resolver, expect: '10.0.0.53:8053' },
  '--acme-ca': { args: ['--acme-ca', 'ca.pem'], field: (c) => c.acme.caFile, expect: join(dir, 'ca.pem') },
  '--key': { args: ['--key', '~/id'], field: (c) => conn(c)['keyFile'], expect: join(dir, 'id') },
  '--known-hosts': { args: ['--known-hosts', 'kh'], field: (c) => conn(c)['knownHosts'], expect: join(dir, 'kh') },
  '--trust-new-host': { args: ['--trust-new-host'], field: (c) => conn(c)['trustNewHost'], expect: true },
  '--fingerprint': { args: ['--fingerprint', FP], field: (c) => conn(c)['fingerprint'], expect: FP },
  '--progress-dir': { args: ['--progress-dir', '/srv/panel'], field: (c) => c.progressDir, expect: '/srv/panel' },
  '--retry-failed': { args: ['--retry-failed'] },
  '--json': { args: ['--json'] },
  '--allow-unsupported-os': { args: ['--allow-unsupported-os'], field: (c) => c.params['base'], expect: { allowUnsupportedOs: true } },
  '--open-firewall': { args: ['--open-firewall'], field: (c) => c.params['certificate'], expect: { openFirewall: true } },
};

const withHost = ['--host', 'root@192.0.2.1'];
const withInventory = ['-i', 'fleet.yaml'];

/** A HostConfig without its name: `--host` names it user@addr:port, the inventory by its key. */
function unnamed(c: HostConfig): Omit<HostConfig, 'name'> {
  const { name: _name, ...rest } = c;
  return rest;
}

describe('every flag means the same with --host and with -i', () => {
  it('the table covers every option the converging commands share', () => {
    const declared = addCommon(new Command('x')).options.map((o) => o.long ?? '');
    assert.deepEqual(Object.keys(TABLE).sort(), declared.sort());
  });

  it('no flags: the same host from both', async () => {
    const a = await resolveArgs(withHost);
    const b = await resolveArgs(withInventory);
    assert.ok(Array.isArray(a) && Array.isArray(b), `${String(a)} / ${String(b)}`);
    assert.deepEqual(unnamed(a[0]!), unnamed(b[0]!));
  });

  for (const [flag, row] of Object.entries(TABLE)) {
    if (row.args.length === 0 && row.refusedWithInventory === undefined) continue;
    it(flag, async () => {
      if (row.refusedWithInventory) {
        const refused = await resolveArgs([...withInventory, ...withHost]);
        assert.equal(typeof refused, 'string');
        assert.match(refused as string, row.refusedWithInventory);
        assert.ok(!(refused as string).includes('\n'), 'one line');
        return;
      }
      const a = await resolveArgs([...withHost, ...row.args]);
      const b = await resolveArgs([...withInventory, ...row.args]);
      assert.ok(Array.isArray(a), `--host case refused: ${String(a)}`);
      assert.ok(Array.isArray(b), `-i case refused: ${String(b)}`);
      if (row.field) {
        assert.deepEqual(row.field(a[0]!), row.expect);
        assert.deepEqual(row.field(b[0]!), row.expect);
      } else {
        // A run option: it leaves the hosts as they are.
        const baseA = await resolveArgs(withHost);
        assert.deepEqual(a, baseA);
      }
    });
  }

  it('--limit selects hosts of an inventory; with --host it is refused with one line', async () => {
    assert.equal(await resolveArgs([...withHost, '--limit', 'a']), '--limit selects hosts of an inventory: use it with -i fleet.yaml');
    const b = await resolveArgs([...withInventory, '--limit', 'a']);
    assert.ok(Array.isArray(b));
    assert.deepEqual(b.map((c) => c.name), ['a']);
  });

  it('a missing file is refused naming the flag, in both', async () => {
    for (const base of [withHost, withInventory]) {
      for (const flag of ['--key', '--checksums', '--registry-auth', '--openfaas-license', '--acme-ca']) {
        assert.equal(await resolveArgs([...base, flag, 'nope']), `${base === withInventory ? 'fleet.yaml: ' : ''}${flag} nope: no such file`);
      }
    }
  });

  it('no --host and no -i: this machine, as a first-class target', async () => {
    const local = await resolveArgs(['-d', 'a.example.com']);
    assert.ok(Array.isArray(local));
    assert.equal(local[0]?.name, 'local');
    assert.deepEqual(local[0]?.connection, { kind: 'local' });
    assert.deepEqual(local[0]?.recipes, ['base', 'containerd', 'cni', 'bridge', 'faasd', 'nginx', 'certificate', 'status']);
    assert.equal(await resolveArgs(['--key', 'id']), '--key is for SSH hosts: name one with --host user@addr (without --host or -i, panel acts on this machine)');
  });
});

describe('recipe parameters are checked before any connection', () => {
  const cases: Array<[readonly string[], string]> = [
    [['--set', 'containerd.versoin=1.7.27'], '--set containerd.versoin: unknown parameter "versoin" of recipe containerd (did you mean "version"?)'],
    [['--set', 'containrd.version=1.7.27'], '--set containrd.version: unknown recipe "containrd" (did you mean "containerd"?)'],
    [['--set', 'faasd.nameservers=1.1.1.1,not-an-ip'], '--set faasd.nameservers[1]: an IPv4 address'],
    [['--set', 'nginx.extraRoutes=[{"path":"/x/",'], '--set nginx.extraRoutes: not valid JSON'],
    [['--set', 'faasd.faasCli=maybe'], '--set faasd.faasCli: expected true or false, got "maybe"'],
    [['--set', 'nonsense'], '--set "nonsense": expected recipe.param=value (e.g. containerd.version=1.7.27)'],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), async () => {
      for (const base of [withHost, withInventory]) {
        const r = await resolveArgs([...base, ...args]);
        assert.equal(typeof r, 'string');
        // With -i, what the inventory loader reports is prefixed with the file's name.
        const got = (r as string).replace(/^fleet\.yaml: /, '');
        assert.ok(got.startsWith(message), `${String(r)}\n  should start with\n${message}`);
      }
    });
  }

  it('inventory params name the place, the recipe and the key, with a suggestion', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'defaults:\n  params:\n    nginx: { workerConnections: 2048 }\nhosts:\n  a:\n    address: 192.0.2.1\n    params:\n      containerd: { versoin: 1.7.0 }\n');
    const r = await resolveArgs(['-i', 'bad.yaml']);
    assert.equal(r, [
      'bad.yaml:3:14: defaults.params.nginx: unknown parameter "workerConnections" of recipe nginx (parameters: routes, extraRoutes, clientMaxBodySize, proxyReadTimeout, hsts, insecureHttp)',
      'bad.yaml:8:21: hosts.a.params.containerd: unknown parameter "versoin" of recipe containerd (did you mean "version"?)',
    ].join('\n'));
  });

  it('through the real CLI: refused before any connection, nothing contacted', async () => {
    // The host is a listener that counts connections: a refusal after connecting would show as one.
    const host = await countingListener();
    try {
      const run = await runCli(['plan', '--host', `root@${host.address}`, '--set', 'containerd.versoin=2.0.0']);
      assert.equal(run.status, 1);
      assert.equal(run.stderr, 'panel: --set containerd.versoin: unknown parameter "versoin" of recipe containerd (did you mean "version"?)\n');
      assert.equal(run.stdout, '');
      assert.equal(host.connections(), 0);
    } finally {
      await host.close();
    }
  });
});

describe('--trust-artifact and --acme-profile', () => {
  it('only an artifact without published sums can be trusted on first use; a bad profile name is refused; one line each', async () => {
    const cases: Array<[readonly string[], string]> = [
      [['--trust-artifact', 'faasd'], '--trust-artifact: "faasd" publishes its own sums (its release\'s checksum asset), which panel verifies against; only an artifact without published sums is trusted on first use (code-server)'],
      [['--trust-artifact', 'nginx'], '--trust-artifact: "nginx" is not an artifact panel installs without published sums (code-server)'],
      [['--acme-profile', 'short lived'], '--acme-profile: acme.profile is a profile name such as tlsserver or shortlived, got "short lived"'],
    ];
    for (const [args, message] of cases) {
      for (const base of [withHost, withInventory]) assert.equal(await resolveArgs([...base, ...args]), `${base === withInventory ? 'fleet.yaml: ' : ''}${message}`);
    }
  });
  it('the inventory takes both at every level', async () => {
    writeFileSync(join(dir, 'trust.yaml'), 'defaults:\n  trustArtifacts: [code-server]\n  acme: { profile: tlsserver }\nhosts:\n  a: { address: 192.0.2.1 }\n  b: { address: 192.0.2.2, trustArtifacts: [], acme: { profile: shortlived } }\n');
    const r = await resolveArgs(['-i', 'trust.yaml']);
    assert.ok(Array.isArray(r), String(r));
    assert.deepEqual(r.map((c) => [c.trustArtifacts, c.acme.profile]), [[['code-server'], 'tlsserver'], [[], 'shortlived']]);
    writeFileSync(join(dir, 'trust-bad.yaml'), 'hosts:\n  a: { address: 192.0.2.1, trustArtifacts: [faasd] }\n');
    assert.match(String(await resolveArgs(['-i', 'trust-bad.yaml'])), /^trust-bad\.yaml:2:\d+: hosts\.a\.trustArtifacts: "faasd" publishes its own sums/);
  });
});

describe('--no-proxy', () => {
  it('is a list whatever the flag order, and leaves --proxy alone', async () => {
    for (const args of [['--proxy', 'http://p.example:3128', '--no-proxy', 'localhost,.corp'], ['--no-proxy', 'localhost,.corp', '--proxy', 'http://p.example:3128']]) {
      const r = await resolveArgs([...withHost, ...args]);
      assert.ok(Array.isArray(r), String(r));
      assert.equal(r[0]?.proxy, 'http://p.example:3128');
      assert.equal(r[0]?.noProxy, 'localhost,.corp');
    }
  });
  it('refuses a bad entry with one line', async () => {
    const cases: Array<[string, string]> = [
      ['localhost,a b', '--no-proxy: entry "a b" contains a space, quote, backslash or line break'],
      ['x\ny', '--no-proxy: entry "x\\ny" contains a space, quote, backslash or line break'],
      ['"x"', '--no-proxy: entry "\\"x\\"" contains a space, quote, backslash or line break'],
      ['10.0.0.0/40', '--no-proxy: entry "10.0.0.0/40" is not a valid CIDR (address/prefix)'],
      ['a;b', '--no-proxy: entry "a;b" is not a host name, IP address, CIDR or .domain'],
      ['a,,b', '--no-proxy: an empty entry (two commas in a row?)'],
    ];
    for (const [value, message] of cases) {
      for (const base of [withHost, withInventory]) assert.equal(await resolveArgs([...base, '--no-proxy', value]), `${base === withInventory ? 'fleet.yaml: ' : ''}${message}`);
    }
  });
  it('the inventory field takes a YAML list or a comma string', async () => {
    writeFileSync(join(dir, 'np.yaml'), 'defaults:\n  noProxy: [localhost, 10.0.0.0/8]\nhosts:\n  a: { address: 192.0.2.1, noProxy: "::1,.corp" }\n  b: { address: 192.0.2.2 }\n');
    const r = await resolveArgs(['-i', 'np.yaml']);
    assert.ok(Array.isArray(r), String(r));
    assert.deepEqual(r.map((c) => c.noProxy), ['::1,.corp', 'localhost,10.0.0.0/8']);
    writeFileSync(join(dir, 'np-bad.yaml'), 'hosts:\n  a: { address: 192.0.2.1, noProxy: [localhost, "a\\nb"] }\n');
    assert.equal(await resolveArgs(['-i', 'np-bad.yaml']), 'np-bad.yaml:2:37: hosts.a.noProxy: entry "a\\nb" contains a space, quote, backslash or line break');
  });
});

describe('the faasd admin password', () => {
  it('is one line of at least 8 characters, from -p, --password-file or PANEL_PASSWORD, and never echoed', async () => {
    const secret = 'one-line\nsecond-line';
    for (const base of [withHost, withInventory]) {
      assert.equal(await resolveArgs([...base, '-p', secret]), '-p/--password: the password must be one line (no line break or NUL character)');
      assert.equal(await resolveArgs([...base, '-p', 'short']), '-p/--password: the password must have at least 8 characters');
    }
    writeFileSync(join(dir, 'pw-two-lines'), `${secret}\n`);
    assert.equal(await resolveArgs([...withHost, '--password-file', join(dir, 'pw-two-lines')]), '--password-file: the password must be one line (no line break or NUL character)');
    // One trailing newline, as `echo … > file` writes it, is not part of the password.
    writeFileSync(join(dir, 'pw-one-line'), 'long-enough\n');
    assert.equal(passwordFrom({ passwordFile: join(dir, 'pw-one-line') })?.reveal(), 'long-enough');
    assert.throws(() => passwordFrom({}, { PANEL_PASSWORD: secret }), /^UsageError: PANEL_PASSWORD: the password must be one line/);
    assert.equal(passwordFrom({}, { PANEL_PASSWORD: 'from-the-env' })?.reveal(), 'from-the-env');
  });
});

describe('connection: local in an inventory', () => {
  it('is this machine; SSH settings on it are refused, not ignored', async () => {
    writeFileSync(join(dir, 'local.yaml'), 'hosts:\n  me: { connection: local, recipes: [base] }\n');
    const r = await resolveArgs(['-i', 'local.yaml']);
    assert.ok(Array.isArray(r), String(r));
    assert.deepEqual(r[0]?.connection, { kind: 'local' });
    writeFileSync(join(dir, 'local-bad.yaml'), 'hosts:\n  me: { connection: local, port: 2222 }\n');
    assert.equal(await resolveArgs(['-i', 'local-bad.yaml']), 'local-bad.yaml:2:34: hosts.me.port: has no meaning with connection: local (this machine, without SSH)');
  });
});

describe('messages say each word once', () => {
  it('no "x: x" in what bad flags and bad inventory values produce', async () => {
    writeFileSync(join(dir, 'words.yaml'), 'defaults:\n  port: 0\n  sudo: "yes"\n  password: { env: A, file: b }\nhosts:\n  a: { address: "x;y", fingerprint: "MD5:1", connection: local, user: "r$" }\n');
    const bad: string[][] = [
      ['-i', 'words.yaml'],
      ...[['--mirror', 'ftp://x'], ['--proxy', 'x'], ['--no-proxy', 'a b'], ['-m', 'x'], ['-d', '*.x.com'], ['--fingerprint', 'MD5:1'], ['--progress-dir', 'rel'], ['--acme-directory', 'nope'], ['--set', 'faasd.nameservers=x']].flatMap((f) => [[...withHost, ...f], [...withInventory, ...f]]),
    ];
    for (const args of bad) {
      const r = await resolveArgs(args);
      assert.equal(typeof r, 'string', args.join(' '));
      assert.doesNotMatch(r as string, /(?:^|[\s.])([A-Za-z]+): \1\b/m, args.join(' '));
    }
  });
});
