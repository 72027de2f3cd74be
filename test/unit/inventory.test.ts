/**
 * fleet.yaml: every broken inventory gives one exact `file:line:col: message`,
 * and valid inventories merge defaults → groups → host → CLI as documented.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { LETS_ENCRYPT } from '../../src/config.js';
import {
  formatInventoryError,
  inventoryJsonSchema,
  limitHosts,
  loadInventory,
  loadInventoryText,
  type CliOverrides,
  type InventoryHost,
  type LoadOptions,
} from '../../src/inventory/index.js';
import { Secret } from '../../src/secret.js';
import { packageRoot } from '../../src/paths.js';
import { tempDir } from '../support/temp.js';

const RECIPES = ['base', 'containerd', 'cni', 'bridge', 'faasd', 'nginx', 'certificate'];
const OPTS: LoadOptions = { knownRecipes: RECIPES, env: {}, homeDir: '/home/me', cwd: '/work' };

function errorsOf(text: string, overrides: CliOverrides = {}, opts: LoadOptions = OPTS): string[] {
  const r = loadInventoryText(text, 'fleet.yaml', overrides, opts);
  assert.equal(r.ok, false, 'expected the inventory to be rejected');
  return r.ok ? [] : r.error.map(formatInventoryError);
}

function hostsOf(text: string, overrides: CliOverrides = {}, opts: LoadOptions = OPTS): InventoryHost[] {
  const r = loadInventoryText(text, 'fleet.yaml', overrides, opts);
  if (!r.ok) assert.fail(`expected a valid inventory, got:\n${r.error.map(formatInventoryError).join('\n')}`);
  return r.value;
}

/** The SSH connection of a host (every host in these inventories connects over SSH). */
function ssh(h: InventoryHost | undefined): Extract<InventoryHost['connection'], { kind: 'ssh' }> {
  assert.equal(h?.connection.kind, 'ssh');
  return h!.connection as Extract<InventoryHost['connection'], { kind: 'ssh' }>;
}

const W1 = 'hosts:\n  web1: { address: 10.0.0.1 }\n';

/** [name, YAML text, every expected error in order]. */
const BROKEN: ReadonlyArray<readonly [string, string, readonly (string | RegExp)[]]> = [
  ['YAML syntax: unclosed flow map', 'hosts:\n  web1: {address: 10.0.0.1\n',
    [/^fleet\.yaml:3:1: YAML syntax error: Flow map .*must .*end with a \}$/]],
  ['YAML syntax: bad indentation', 'hosts:\n  web1:\n    address: 10.0.0.1\n   port: 22\n',
    [/^fleet\.yaml:4:1: YAML syntax error: /]],
  ['YAML syntax: tab indentation', 'hosts:\n\tweb1: {}\n',
    ['fleet.yaml:2:1: YAML syntax error: tabs cannot be used for indentation']],
  ['two YAML documents', `${W1}---\nhosts: {}\n`,
    ['fleet.yaml:3:1: only one YAML document is allowed (remove the extra "---")']],
  ['duplicate key', 'hosts:\n  web1:\n    address: 10.0.0.1\n    address: 10.0.0.2\n',
    ['fleet.yaml:4:5: duplicate key "address" (each key may appear once per mapping)']],
  ['duplicate host name (duplicate key)', 'hosts:\n  web1: { address: 10.0.0.1 }\n  web1: { address: 10.0.0.2 }\n',
    ['fleet.yaml:3:3: duplicate key "web1" (each key may appear once per mapping)']],
  ['empty file', '', ['fleet.yaml:1:1: the inventory must be a mapping, got an empty value']],
  ['top level is a list', '- a\n- b\n', ['fleet.yaml:1:1: the inventory must be a mapping, got a list']],
  ['unknown top-level key', `hots:\n  a: {}\n${W1}`, ['fleet.yaml:1:1: unknown key "hots" (did you mean "hosts"?)']],
  ['unknown key in defaults', `defaults:\n  emial: a@b.co\n${W1}`,
    ['fleet.yaml:2:3: defaults: unknown key "emial" (did you mean "email"?)']],
  ['unknown key in a group', `groups:\n  web:\n    hosts: [web1]\n    var: {}\n${W1}`,
    ['fleet.yaml:4:5: groups.web: unknown key "var" (did you mean "vars"?)']],
  ['unknown key in a host', 'hosts:\n  web1:\n    address: 10.0.0.1\n    colour: blue\n',
    [/^fleet\.yaml:4:5: hosts\.web1: unknown key "colour" \(allowed: address, fingerprint, domains, user, port, /]],
  ['unknown key in acme', `defaults:\n  acme: { dir: https://x.example }\n${W1}`,
    ['fleet.yaml:2:11: defaults.acme: unknown key "dir" (allowed: directory, caFile, accountKeyFile, profile, resolver)']],
  ['host-only key in defaults', `defaults:\n  domains: [a.example.com]\n${W1}`,
    ['fleet.yaml:2:3: defaults: "domains" is only allowed on a host (under hosts.<name>)']],
  ['vars: level under a host', 'hosts:\n  web1:\n    address: 10.0.0.1\n    vars: {email: a@b.co}\n',
    ['fleet.yaml:4:5: hosts.web1: unknown key "vars": host settings are written directly under the host (no vars: level)']],
  ['misspelt required key', 'hosts:\n  web1:\n    adress: 10.0.0.1\n', [
    'fleet.yaml:2:3: hosts.web1: missing required key "address"',
    'fleet.yaml:3:5: hosts.web1: unknown key "adress" (did you mean "address"?)',
  ]],
  ['missing address', 'hosts:\n  web1:\n    port: 22\n', ['fleet.yaml:2:3: hosts.web1: missing required key "address"']],
  ['host without settings', 'hosts:\n  web1:\n', ['fleet.yaml:2:3: hosts.web1: a host must be a mapping, got an empty value']],
  ['no hosts key', 'defaults:\n  user: root\n', ['fleet.yaml:1:1: missing required key "hosts"']],
  ['empty hosts', 'hosts: {}\n', ['fleet.yaml:1:8: hosts: must name at least one host']],
  ['host name with a space', 'hosts:\n  "web 1": { address: 10.0.0.1 }\n',
    [/^fleet\.yaml:2:3: hosts: a host name must be .*, got "web 1"$/]],
  ['sudo: yes (YAML 1.2 string)', 'hosts:\n  web1:\n    address: 10.0.0.1\n    sudo: yes\n',
    ['fleet.yaml:4:11: hosts.web1.sudo: must be true or false, got "yes"']],
  ['port as a string', 'hosts:\n  web1:\n    address: 10.0.0.1\n    port: "22"\n',
    ['fleet.yaml:4:11: hosts.web1.port: must be an integer from 1 to 65535, got "22"']],
  ['port out of range', 'hosts:\n  web1:\n    address: 10.0.0.1\n    port: 70000\n',
    ['fleet.yaml:4:11: hosts.web1.port: must be an integer from 1 to 65535, got 70000']],
  ['port zero in defaults', `defaults:\n  port: 0\n${W1}`,
    ['fleet.yaml:2:9: defaults.port: must be an integer from 1 to 65535, got 0']],
  ['empty port', 'hosts:\n  web1:\n    address: 10.0.0.1\n    port:\n',
    ['fleet.yaml:4:5: hosts.web1.port: must be an integer from 1 to 65535, got an empty value']],
  ['shell metacharacters in address', 'hosts:\n  web1:\n    address: 10.0.0.1;reboot\n',
    ['fleet.yaml:3:14: hosts.web1.address: must be an IPv4/IPv6 address or a host name, got "10.0.0.1;reboot"']],
  ['address with a space', 'hosts:\n  web1:\n    address: "web 1.example.com"\n',
    ['fleet.yaml:3:14: hosts.web1.address: must be an IPv4/IPv6 address or a host name, got "web 1.example.com"']],
  ['short fingerprint', 'hosts:\n  web1:\n    address: 10.0.0.1\n    fingerprint: SHA256:abc\n',
    [/^fleet\.yaml:4:18: hosts\.web1\.fingerprint: must be "SHA256:" followed by 43 base64 characters .*, got "SHA256:abc"$/]],
  ['MD5 fingerprint', 'hosts:\n  web1:\n    address: 10.0.0.1\n    fingerprint: "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"\n',
    [/^fleet\.yaml:4:18: hosts\.web1\.fingerprint: must be "SHA256:"/]],
  ['bad email', `defaults:\n  email: not-an-email\n${W1}`,
    ['fleet.yaml:2:10: defaults.email: email address "not-an-email" needs the form name@domain']],
  ['IP as a domain', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains: [ok.example.com, 10.0.0.1]\n',
    ['fleet.yaml:4:31: hosts.web1.domains[1]: domain "10.0.0.1" is an IP address; certificates here are issued for DNS names only']],
  ['wildcard domain', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains:\n      - "*.example.com"\n',
    ['fleet.yaml:5:9: hosts.web1.domains[0]: domain "*.example.com": wildcard names need a DNS-01 challenge; panel uses HTTP-01, list each name instead']],
  ['shell metacharacters in a domain', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains: ["a.example.com;rm -rf /"]\n',
    ['fleet.yaml:4:15: hosts.web1.domains[0]: domain "a.example.com;rm -rf /" contains whitespace or a control character']],
  ['single-label domain', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains: [localhost]\n',
    ['fleet.yaml:4:15: hosts.web1.domains[0]: domain "localhost" has a single label; a publicly trusted certificate needs a name like example.com']],
  ['shell metacharacters in a user', 'hosts:\n  web1:\n    address: 10.0.0.1\n    user: "root$(id)"\n',
    ['fleet.yaml:4:11: hosts.web1.user: must be a POSIX user name (lower case letters, digits, "_", "-"), got "root$(id)"']],
  ['mirror is not http(s)', `defaults:\n  mirror: ftp://mirror.example.com\n${W1}`,
    ['fleet.yaml:2:11: defaults.mirror: must be an http:// or https:// URL, got "ftp://mirror.example.com"']],
  ['plain-text password', `defaults:\n  password: hunter2\n${W1}`,
    ['fleet.yaml:2:13: defaults.password: a plain-text password is not allowed in the inventory; use password: { env: VAR } or password: { file: ./path }']],
  ['password with env and file', `defaults:\n  password: { env: A, file: b }\n${W1}`,
    ['fleet.yaml:2:13: defaults.password: needs exactly one of env or file']],
  ['password env not set', `defaults:\n  password: { env: PANEL_NOT_SET }\n${W1}`,
    ['fleet.yaml:2:20: defaults.password: environment variable PANEL_NOT_SET is not set or empty']],
  ['params of a recipe not a mapping', `defaults:\n  params:\n    containerd: 1.7\n${W1}`,
    ['fleet.yaml:3:17: defaults.params.containerd: recipe parameters must be a mapping of name: value, got 1.7']],
  ['recipe id not a slug', `defaults:\n  recipes: [Base]\n${W1}`,
    ['fleet.yaml:2:13: defaults.recipes[0]: a recipe id must be a lower-case slug like "containerd", got "Base"']],
  ['unknown recipe id', `defaults:\n  recipes: [base, containred]\n${W1}`,
    ['fleet.yaml:2:19: defaults.recipes[1]: unknown recipe "containred" (did you mean "containerd"?)']],
  ['params for an unknown recipe', `groups:\n  g:\n    hosts: [web1]\n    vars:\n      params:\n        containred: { version: 1 }\n${W1}`,
    ['fleet.yaml:6:9: groups.g.vars.params: unknown recipe "containred" (did you mean "containerd"?)']],
  ['duplicate host (same address and port)', 'hosts:\n  web1:\n    address: 10.0.0.1\n  web2:\n    address: 10.0.0.1\n',
    ['fleet.yaml:4:3: hosts.web2: same address and port as host "web1" (10.0.0.1:22): one machine must be listed once']],
  ['duplicate host via group port', 'groups:\n  g:\n    hosts: [web2]\n    vars: { port: 22 }\nhosts:\n  web1: { address: h.example.com }\n  web2: { address: H.example.com }\n',
    ['fleet.yaml:7:3: hosts.web2: same address and port as host "web1" (h.example.com:22): one machine must be listed once']],
  ['duplicate host (IPv6 spelt differently)', 'hosts:\n  a: { address: "2001:db8::1" }\n  b: { address: "2001:0DB8:0::1" }\n',
    ['fleet.yaml:3:3: hosts.b: same address and port as host "a" ([2001:db8::1]:22): one machine must be listed once']],
  ['domain on two hosts (case-insensitive)', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains: [a.example.com]\n  web2:\n    address: 10.0.0.2\n    domains: [b.example.com, A.Example.com]\n',
    ['fleet.yaml:7:30: hosts.web2.domains[1]: domain "a.example.com" is already on host "web1" (a domain can be served by one host only)']],
  ['domain twice on one host', 'hosts:\n  web1:\n    address: 10.0.0.1\n    domains: [a.example.com, a.example.com]\n',
    ['fleet.yaml:4:30: hosts.web1.domains[1]: domain "a.example.com" is listed twice']],
  ['group names an undefined host', `groups:\n  web:\n    hosts: [web1, web3]\n${W1}`,
    ['fleet.yaml:3:19: groups.web.hosts[1]: no host named "web3" under hosts: (did you mean "web1"?)']],
  ['group named like a host', `groups:\n  web1:\n    hosts: [web1]\n${W1}`,
    ['fleet.yaml:2:3: groups.web1: a group cannot have the same name as host "web1" (--limit would be ambiguous)']],
  ['cyclic alias', `defaults:\n  params: &p\n    containerd: { self: *p }\n${W1}`,
    ['fleet.yaml:3:25: alias *p refers to a node that contains it (a cycle)']],
  ['alias without anchor', `defaults:\n  user: *nope\n${W1}`,
    ['fleet.yaml:2:9: alias *nope has no anchor &nope before it']],
  ['unknown key reached through an alias', `defaults: &d\n  user: root\n  x: 1\ngroups:\n  g:\n    vars: *d\n    hosts: [web1]\n${W1}`, [
    /^fleet\.yaml:3:3: defaults: unknown key "x"/,
    /^fleet\.yaml:3:3: groups\.g\.vars: unknown key "x"/,
  ]],
];

describe('broken inventories: exact file:line:col messages', () => {
  for (const [name, text, expected] of BROKEN) {
    it(name, () => {
      const got = errorsOf(text);
      assert.equal(got.length, expected.length, `got:\n${got.join('\n')}`);
      expected.forEach((want, i) => {
        const line = got[i] ?? '';
        if (typeof want === 'string') assert.equal(line, want);
        else assert.match(line, want);
      });
    });
  }
});

describe('errors without a position', () => {
  it('reports an unreadable file with the path as given', () => {
    const r = loadInventory('no/such/fleet.yaml', {}, OPTS);
    assert.deepEqual(r.ok ? [] : r.error.map(formatInventoryError), ['no/such/fleet.yaml: cannot read the inventory: no such file']);
  });
  it('reports --limit naming nothing', () => {
    assert.deepEqual(errorsOf(W1, {}, { ...OPTS, limit: ['web2'] }), ['fleet.yaml: --limit: no host or group named "web2" (did you mean "web1"?)']);
  });
  it('checks CLI flags like file values', () => {
    assert.deepEqual(errorsOf(W1, { email: 'x', domains: ['*.example.com'] }), [
      'fleet.yaml: --domain: domain "*.example.com": wildcard names need a DNS-01 challenge; panel uses HTTP-01, list each name instead',
      'fleet.yaml: --mail: email address "x" needs the form name@domain',
    ]);
    assert.deepEqual(errorsOf(W1, { recipes: ['nope'] }), [`fleet.yaml: --recipes: unknown recipe "nope" (known: ${RECIPES.join(', ')})`]);
  });
  it('refuses --domain for more than one host', () => {
    const two = 'hosts:\n  a: { address: 10.0.0.1 }\n  b: { address: 10.0.0.2 }\n';
    assert.deepEqual(errorsOf(two, { domains: ['x.example.com'] }), ['fleet.yaml: --domain applies to one host, but 2 hosts are selected (use --limit <host>)']);
    assert.deepEqual(hostsOf(two, { domains: ['x.example.com'] }, { ...OPTS, limit: ['b'] }).map((h) => h.domains), [['x.example.com']]);
  });
  it('refuses a billion-laughs alias bomb without hanging', () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
    const got = errorsOf(`${lines.join('\n')}\n`);
    assert.equal(got.length, 1);
    assert.match(got[0] ?? '', /^fleet\.yaml: cannot expand YAML aliases: /);
  });
});

const FLEET = `
defaults:
  user: deploy
  key: ./keys/id
  email: ops@mail.example.io
  recipes: [base, containerd]
  params:
    containerd: { version: 1.7.27, opts: { a: 1, b: 2 } }
  acme: { directory: https://acme.example/dir, caFile: ~/pebble.pem }
  checksums: checksums.txt
groups:
  web:
    hosts: [web1, web2]
    vars:
      email: web@mail.example.io
      recipes: [base, nginx]
      params:
        containerd: { opts: { b: 3 } }
  canary:
    hosts: [web2]
    vars:
      email: canary@mail.example.io
      params:
        nginx: { workers: 4 }
hosts:
  web1:
    address: 10.0.0.1
    domains: [a.example.com, bücher.example]
  web2:
    address: 10.0.0.2
    port: 2222
    user: root
    params:
      containerd: { version: 2.0.0, opts: { c: 9 } }
  db1:
    address: db1.example.com
    sudo: false
    recipes: [base]
    mirror: https://mirror.example.com/
`;

describe('resolution: defaults → groups → host → CLI', () => {
  const [web1, web2, db1] = hostsOf(FLEET, {}, { ...OPTS, cwd: '/work', limit: [] });
  const base = '/work';

  it('produces HostConfig in declaration order with groups', () => {
    assert.deepEqual([web1?.name, web2?.name, db1?.name], ['web1', 'web2', 'db1']);
    assert.deepEqual([web1?.groups, web2?.groups, db1?.groups], [['web'], ['web', 'canary'], []]);
  });

  it('builds an ssh connection with resolved paths and sudo for non-root', () => {
    assert.deepEqual(web1?.connection, { kind: 'ssh', address: '10.0.0.1', port: 22, user: 'deploy', keyFile: `${base}/keys/id`, sudo: true });
    assert.deepEqual(web2?.connection, { kind: 'ssh', address: '10.0.0.2', port: 2222, user: 'root', keyFile: `${base}/keys/id`, sudo: false });
    assert.equal(ssh(db1).sudo, false);
    assert.equal(web1?.checksumsFile, `${base}/checksums.txt`);
    assert.deepEqual(web1?.acme, { directory: 'https://acme.example/dir', caFile: '/home/me/pebble.pem' });
  });

  it('later group wins over earlier group, host over group, group over defaults', () => {
    assert.equal(web1?.email, 'web@mail.example.io');
    assert.equal(web2?.email, 'canary@mail.example.io');
    assert.equal(db1?.email, 'ops@mail.example.io');
    assert.deepEqual(web1?.recipes, ['base', 'nginx']);
    assert.deepEqual(db1?.recipes, ['base']);
  });

  it('deep-merges params per recipe', () => {
    assert.deepEqual(web1?.params, { containerd: { version: '1.7.27', opts: { a: 1, b: 3 } } });
    assert.deepEqual(web2?.params, { containerd: { version: '2.0.0', opts: { a: 1, b: 3, c: 9 } }, nginx: { workers: 4 } });
  });

  it('normalises domains (IDN → punycode) and mirror (no trailing slash), fills defaults', () => {
    assert.deepEqual(web1?.domains, ['a.example.com', 'xn--bcher-kva.example']);
    assert.deepEqual(web2?.domains, []);
    assert.equal(db1?.mirror, 'https://mirror.example.com');
    assert.equal(db1?.acme.directory, 'https://acme.example/dir');
    assert.equal(web1?.progressDir, '/var/lib/panel');
  });

  it('lets CLI flags override every level', () => {
    const secret = new Secret('s3cret-value');
    const hosts = hostsOf(FLEET, {
      email: 'cli@mail.example.io',
      recipes: ['faasd'],
      mirror: 'https://m.example',
      checksums: 'sums.txt',
      acmeDirectory: 'https://pebble.example/dir',
      acmeCaFile: '/ca.pem',
      password: secret,
      trustNewHost: true,
      knownHosts: '~/kh',
      progressDir: '/srv/panel',
      params: { containerd: { opts: { a: 0 } } },
      domains: ['Cli.Example.com'],
    }, { ...OPTS, limit: ['web2'] });
    assert.equal(hosts.length, 1);
    const h = hosts[0];
    assert.equal(h?.email, 'cli@mail.example.io');
    assert.deepEqual(h?.recipes, ['faasd']);
    assert.equal(h?.mirror, 'https://m.example');
    assert.equal(h?.checksumsFile, '/work/sums.txt');
    assert.deepEqual(h?.acme, { directory: 'https://pebble.example/dir', caFile: '/ca.pem' });
    assert.equal(h?.password, secret);
    assert.equal(ssh(h).trustNewHost, true);
    assert.equal(ssh(h).knownHosts, '/home/me/kh');
    assert.equal(h?.progressDir, '/srv/panel');
    assert.deepEqual(h?.params.containerd, { version: '2.0.0', opts: { a: 0, b: 3, c: 9 } });
    assert.deepEqual(h?.domains, ['cli.example.com']);
  });

  it('reads passwords from the environment or a file, as Secrets', () => {
    const dir = tempDir('panel-inv-');
    writeFileSync(join(dir, 'pw'), 'from-file-pw\nignored\n');
    writeFileSync(join(dir, 'fleet.yaml'), 'hosts:\n  a:\n    address: 10.0.0.1\n    password: { file: pw }\n  b:\n    address: 10.0.0.2\n    password: { env: PANEL_PW }\n');
    const r = loadInventory(join(dir, 'fleet.yaml'), {}, { env: { PANEL_PW: 'from-env-pw' } });
    assert.ok(r.ok);
    assert.deepEqual(r.value.map((h) => h.password?.reveal()), ['from-file-pw', 'from-env-pw']);
    assert.equal(JSON.stringify(r.value).includes('from-'), false, 'secrets must not serialise');
  });

  it('reports an unreadable password file at its position', () => {
    assert.deepEqual(errorsOf('hosts:\n  a:\n    address: 10.0.0.1\n    password: { file: nope }\n', {}, {
      ...OPTS,
      readSecretFile: () => ({ ok: false, error: 'ENOENT' }),
    }), ['fleet.yaml:4:23: hosts.a.password: cannot read password file /work/nope: ENOENT']);
  });
});

describe('paths and file names', () => {
  it('resolves relative paths against the inventory directory, expands ~/, names the file as given', () => {
    const text = 'defaults:\n  key: keys/id\n  knownHosts: ~/kh\n  checksums: /abs/sums\nhosts:\n  a: { address: 10.0.0.1, registryAuth: ../auth.json }\n';
    const [a] = hostsOf(text.replace('fleet.yaml', ''), {}, { ...OPTS, cwd: '/work' });
    assert.equal(ssh(a).keyFile, '/work/keys/id');
    const r = loadInventoryText(text, 'conf/fleet.yaml', {}, { ...OPTS, cwd: '/work' });
    assert.ok(r.ok);
    const h = r.value[0];
    assert.equal(ssh(h).keyFile, '/work/conf/keys/id');
    assert.equal(ssh(h).knownHosts, '/home/me/kh');
    assert.equal(h?.checksumsFile, '/abs/sums');
    assert.equal(h?.registryAuth, '/work/auth.json');
    const bad = loadInventoryText('hosts: {}\n', 'conf/fleet.yaml', {}, OPTS);
    assert.deepEqual(bad.ok ? [] : bad.error.map(formatInventoryError), ['conf/fleet.yaml:1:8: hosts: must name at least one host']);
  });
});

describe('limitHosts', () => {
  const hosts = hostsOf(FLEET);
  const names = (limit: string[]): string[] | string[][] => {
    const r = limitHosts(hosts, limit);
    return r.ok ? r.value.map((h) => h.name) : [r.error];
  };
  it('selects by host and group name, in inventory order', () => {
    assert.deepEqual(names([]), ['web1', 'web2', 'db1']);
    assert.deepEqual(names(['canary']), ['web2']);
    assert.deepEqual(names(['db1', 'web']), ['web1', 'web2', 'db1']);
    assert.deepEqual(names(['db1,canary']), ['web2', 'db1']);
  });
  it('rejects unknown names', () => {
    assert.deepEqual(names(['wbe']), [['--limit: no host or group named "wbe" (did you mean "web"?)']]);
  });
});

describe('JSON Schema', () => {
  it('describes the file for editors', () => {
    const s = inventoryJsonSchema() as { type?: string; required?: string[]; properties?: Record<string, unknown>; additionalProperties?: boolean };
    assert.equal(s.type, 'object');
    assert.deepEqual(s.required, ['hosts']);
    assert.deepEqual(Object.keys(s.properties ?? {}), ['defaults', 'groups', 'hosts']);
    assert.equal(s.additionalProperties, false);
    assert.match(JSON.stringify(s), /SHA256:\[A-Za-z0-9\+\/\]\{43\}/);
  });
  it('lists the registry\'s recipe ids for completion', () => {
    const text = JSON.stringify(inventoryJsonSchema(['base', 'nginx']));
    assert.ok(text.includes('"enum":["base","nginx"]'));
    assert.ok(!JSON.stringify(inventoryJsonSchema()).includes('"enum"'));
  });
});

describe('examples/fleet.yaml', () => {
  it('loads cleanly', () => {
    const r = loadInventory(join(packageRoot, 'examples', 'fleet.yaml'), {}, { knownRecipes: RECIPES });
    if (!r.ok) assert.fail(r.error.map(formatInventoryError).join('\n'));
    assert.deepEqual(r.value.map((h) => h.name), ['web1', 'web2', 'db1']);
    assert.equal(r.value[0]?.acme.directory, LETS_ENCRYPT);
  });
});
