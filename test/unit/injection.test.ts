/**
 * Injection attempts through flags, `--set` and fleet.yaml, run through
 * `main` (`panel install`) with the connection stand-in of
 * test/support/run-main.ts. Each attempt is either refused before any
 * connection with `panel:` lines that name where the value came from (the
 * flag, `--set recipe.param`, or fleet.yaml:LINE:COL), or accepted because
 * the value is rendered inert where it lands; the accepted ones are listed in
 * INERT and run on a real host by test/integration/hostile-input.test.ts
 * (which also runs, through each channel, the other values that are legal
 * where they come from and land in a unit, the nginx site or a JSON file).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runMain, type MainOutcome } from '../support/run-main.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-injection-'));
const home = process.cwd();
const PWN = '$(touch /tmp/pwned)';
const TICK = '`touch /tmp/pwned`';

/** A valid install command line, the hostile part added to it. */
const BASE = ['install', '--host', 'root@192.0.2.1', '-d', 'app.example.com', '-m', 'ops@mail.example.io', '-p', 'long-enough-pw', '--recipes', 'faasd,nginx,status,code-server'];

interface Attempt {
  readonly name: string;
  /** Flags added to BASE (a later flag replaces BASE's value), or a fleet.yaml's text (run with -i). */
  readonly argv?: readonly string[];
  readonly yaml?: string;
  /** Refused: every stderr line matches this (names the flag / --set / fleet.yaml:LINE:COL). */
  readonly refused?: RegExp;
}

const fleet = (hostLines: string): string => `defaults:\n  user: root\n  email: ops@mail.example.io\n  recipes: [faasd, nginx]\nhosts:\n  a:\n    address: 192.0.2.1\n${hostLines}`;

export const ATTEMPTS: readonly Attempt[] = [
  // flags
  { name: 'domain with ;', argv: ['-d', 'app.example.com;touch /tmp/pwned'], refused: /^panel: --domain: / },
  { name: 'domain with $()', argv: ['-d', `${PWN}.example.com`], refused: /^panel: --domain: / },
  { name: 'domain with } for nginx', argv: ['-d', 'app.example.com}'], refused: /^panel: --domain: / },
  { name: 'domain with {{…}}', argv: ['-d', '{{password}}.example.com'], refused: /^panel: --domain: / },
  { name: 'domain with a newline', argv: ['-d', 'app.example.com\nserver_name evil.example'], refused: /^panel: --domain: / },
  { name: 'domain with NUL', argv: ['-d', 'app.example.com\0x'], refused: /^panel: --domain: / },
  { name: 'e-mail with ;', argv: ['-m', 'ops@mail.example.io;touch /tmp/pwned'], refused: /^panel: --mail: / },
  { name: 'e-mail with backticks', argv: ['-m', `${TICK}@example.com`], refused: /^panel: --mail: / },
  { name: 'e-mail with a quote', argv: ['-m', 'o"ps@example.com'], refused: /^panel: --mail: / },
  { name: 'proxy URL with $()', argv: ['--proxy', `http://proxy.example:3128/${PWN}`], refused: /^panel: --proxy: / },
  { name: 'proxy URL with a newline (systemd drop-in)', argv: ['--proxy', 'http://proxy.example:3128\nExecStartPre=/bin/touch /tmp/pwned'], refused: /^panel: --proxy: / },
  { name: 'no-proxy with ;', argv: ['--no-proxy', 'localhost;touch /tmp/pwned'], refused: /^panel: --no-proxy: / },
  { name: 'no-proxy with a quote and newline', argv: ['--no-proxy', 'localhost"\nExecStartPre=/bin/touch /tmp/pwned'], refused: /^panel: --no-proxy: / },
  { name: 'mirror with backticks', argv: ['--mirror', `https://mirror.example/${TICK}`], refused: /^panel: --mirror: / },
  { name: 'acme directory with ;', argv: ['--acme-directory', 'https://acme.example/dir;touch'], refused: /^panel: --acme-directory: / },
  { name: 'acme profile with $()', argv: ['--acme-profile', PWN], refused: /^panel: --acme-profile: / },
  { name: 'progress dir with ;', argv: ['--progress-dir', '/var/lib/panel;touch /tmp/pwned'], refused: /^panel: --progress-dir: / },
  { name: 'progress dir with $()', argv: ['--progress-dir', `/var/lib/${PWN}`], refused: /^panel: --progress-dir: / },
  { name: 'host user with ;', argv: ['--host', 'root;touch /tmp/pwned@192.0.2.1'], refused: /^panel: --host / },
  { name: 'host address with $()', argv: ['--host', `root@${PWN}`], refused: /^panel: --host / },
  { name: 'fingerprint with backticks', argv: ['--fingerprint', `SHA256:${TICK}`], refused: /^panel: --fingerprint: / },
  // --set: every recipe parameter that is text
  { name: 'containerd.version with ;', argv: ['--set', 'containerd.version=1.7.27;touch /tmp/pwned'], refused: /^panel: --set containerd\.version\b/ },
  { name: 'containerd.version with $()', argv: ['--set', `containerd.version=${PWN}`], refused: /^panel: --set containerd\.version\b/ },
  { name: 'cni.version with backticks', argv: ['--set', `cni.version=0.9.1${TICK}`], refused: /^panel: --set cni\.version\b/ },
  { name: 'faasd.version with {{…}}', argv: ['--set', 'faasd.version={{password}}'], refused: /^panel: --set faasd\.version\b/ },
  { name: 'faasd.faasCliVersion with &&', argv: ['--set', 'faasd.faasCliVersion=0.17.8 && touch /tmp/pwned'], refused: /^panel: --set faasd\.faasCliVersion\b/ },
  { name: 'faasd.nameservers with ;', argv: ['--set', 'faasd.nameservers=1.1.1.1;touch /tmp/pwned'], refused: /^panel: --set faasd\.nameservers\b/ },
  { name: 'faasd.nameservers with a newline (resolv.conf)', argv: ['--set', 'faasd.nameservers=["1.1.1.1\\nnameserver 203.0.113.66"]'], refused: /^panel: --set faasd\.nameservers\b/ },
  { name: 'nginx.clientMaxBodySize with } (nginx)', argv: ['--set', 'nginx.clientMaxBodySize=64m; } server { listen 81; }'], refused: /^panel: --set nginx\.clientMaxBodySize\b/ },
  { name: 'nginx.proxyReadTimeout with ;', argv: ['--set', 'nginx.proxyReadTimeout=300s; return 200'], refused: /^panel: --set nginx\.proxyReadTimeout\b/ },
  { name: 'nginx.extraRoutes path with ;}', argv: ['--set', 'nginx.extraRoutes=[{"path":"/x/;}","port":5000}]'], refused: /^panel: --set nginx\.extraRoutes\b/ },
  { name: 'nginx.extraRoutes path with {{…}}', argv: ['--set', 'nginx.extraRoutes=[{"path":"/{{password}}/","port":5000}]'], refused: /^panel: --set nginx\.extraRoutes\b/ },
  { name: 'nginx.routes upstream with } server {', argv: ['--set', 'nginx.routes=[{"path":"/","upstream":"http://127.0.0.1:8080/;} server {"}]'], refused: /^panel: --set nginx\.routes\b/ },
  { name: 'code-server.version with ;', argv: ['--set', 'code-server.version=4.96.4;touch /tmp/pwned'], refused: /^panel: --set code-server\.version\b/ },
  { name: 'code-server.port with ;', argv: ['--set', 'code-server.port=5000;touch'], refused: /^panel: --set code-server\.port\b/ },
  { name: 'base.kernelModules with ;', argv: ['--set', 'base.kernelModules=overlay;touch /tmp/pwned'], refused: /^panel: --set base\.kernelModules\b/ },
  { name: 'a recipe named constructor', argv: ['--set', 'constructor.prototype=1'], refused: /^panel: --set constructor\.prototype\b/ },
  // fleet.yaml
  { name: 'fleet address with ;', yaml: 'defaults:\n  recipes: [faasd]\nhosts:\n  a:\n    address: "192.0.2.1;touch /tmp/pwned"\n', refused: /^panel: fleet\.yaml:5:14: / },
  { name: 'fleet user with $()', yaml: fleet(`    user: "root${PWN}"\n`), refused: /^panel: fleet\.yaml:8:11: / },
  { name: 'fleet email with a newline', yaml: fleet('    email: "ops@mail.example.io\\ntouch /tmp/pwned"\n'), refused: /^panel: fleet\.yaml:8:12: / },
  { name: 'fleet domain with }', yaml: fleet('    domains: ["app.example.com}"]\n'), refused: /^panel: fleet\.yaml:8:15: / },
  { name: 'fleet progressDir with NUL', yaml: fleet('    progressDir: "/var/lib/panel\\0x"\n'), refused: /^panel: fleet\.yaml:8:18: / },
  { name: 'fleet noProxy with ;', yaml: fleet('    noProxy: "localhost;touch /tmp/pwned"\n'), refused: /^panel: fleet\.yaml:8:14: / },
  { name: 'fleet proxy with backticks', yaml: fleet(`    proxy: "http://proxy.example/${TICK}"\n`), refused: /^panel: fleet\.yaml:8:12: / },
  { name: 'fleet nginx.clientMaxBodySize with ;}', yaml: fleet('    params:\n      nginx: { clientMaxBodySize: "1m;}" }\n'), refused: /^panel: fleet\.yaml:9:35: / },
  { name: 'fleet faasd.nameservers with a space', yaml: fleet('    params:\n      faasd: { nameservers: ["1.1.1.1 ; touch /tmp/pwned"] }\n'), refused: /^panel: fleet\.yaml:9:/ },
  { name: 'fleet port with ;', yaml: fleet('    port: "22;touch"\n'), refused: /^panel: fleet\.yaml:8:11: / },
  { name: 'fleet host name with ;', yaml: 'hosts:\n  "a;touch /tmp/pwned":\n    address: 192.0.2.1\n', refused: /^panel: fleet\.yaml:2:3: / },
  { name: 'fleet group name with ;', yaml: 'groups:\n  "g;touch /tmp/pwned":\n    hosts: [a]\nhosts:\n  a:\n    address: 192.0.2.1\n', refused: /^panel: fleet\.yaml:2:3: / },
  { name: 'fleet fingerprint with backticks', yaml: fleet(`    fingerprint: "SHA256:${TICK}"\n`), refused: /^panel: fleet\.yaml:8:18: / },
  { name: 'fleet mirror with $()', yaml: fleet(`    mirror: "https://mirror.example/${PWN}"\n`), refused: /^panel: fleet\.yaml:8:13: / },
  { name: 'fleet acme.directory with ;', yaml: fleet('    acme: { directory: "https://acme.example/dir;touch /tmp/pwned" }\n'), refused: /^panel: fleet\.yaml:8:24: / },
  { name: 'fleet acme.profile with $()', yaml: fleet(`    acme: { profile: "${PWN}" }\n`), refused: /^panel: fleet\.yaml:8:22: / },
  { name: 'fleet password.env with $()', yaml: fleet(`    password: { env: "PW${PWN}" }\n`), refused: /^panel: fleet\.yaml:8:22: / },
  { name: 'fleet recipe id with $()', yaml: fleet(`    recipes: ["faasd${PWN}"]\n`), refused: /^panel: fleet\.yaml:8:15: / },
  { name: 'fleet trustArtifacts with ;', yaml: fleet('    trustArtifacts: "code-server;touch /tmp/pwned"\n'), refused: /^panel: fleet\.yaml:8:21: / },
  { name: 'fleet code-server.version with ;', yaml: fleet('    params:\n      code-server: { version: "4.96.4;touch /tmp/pwned" }\n'), refused: /^panel: fleet\.yaml:9:31: / },
  { name: 'fleet defaults.progressDir with a newline', yaml: 'defaults:\n  progressDir: "/var/lib/panel\\n/tmp"\nhosts:\n  a:\n    address: 192.0.2.1\n', refused: /^panel: fleet\.yaml:2:16: / },
];

/** Accepted, because where each lands it is data: the integration test proves it on a host. */
export const INERT: readonly Attempt[] = [
  { name: 'password with $(), backticks, quotes, ; and {{…}}', argv: ['-p', `pw${PWN}${TICK}'";{{password}}}`] },
];

function argvOf(a: Attempt): string[] {
  if (a.yaml === undefined) return [...BASE, ...(a.argv ?? [])];
  writeFileSync(join(dir, 'fleet.yaml'), a.yaml);
  return ['install', '-i', 'fleet.yaml', '-p', 'long-enough-pw'];
}

describe('injection attempts: refused before any connection with a located line, or inert', () => {
  // All runs happen here, before the test reporter writes: runMain captures stdout while it runs.
  const outcomes = new Map<Attempt, MainOutcome>();
  before(async () => {
    process.chdir(dir);
    process.stdout.setMaxListeners(0);
    for (const a of [...ATTEMPTS, ...INERT]) outcomes.set(a, await runMain(argvOf(a)));
  });
  after(() => {
    process.chdir(home);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const a of ATTEMPTS) {
    it(`refused: ${a.name}`, () => {
      const o = outcomes.get(a)!;
      assert.deepEqual(o.connected, [], `accepted; stderr: ${o.err}`);
      assert.equal(o.code, 1, o.err);
      const lines = o.err.split('\n').filter(Boolean);
      assert.ok(lines.length > 0);
      for (const l of lines) assert.match(l, a.refused!);
      assert.ok(!o.err.includes('long-enough-pw'), 'the password is not echoed');
    });
  }
  for (const a of INERT) {
    it(`accepted (inert, see the integration test): ${a.name}`, () => {
      const o = outcomes.get(a)!;
      assert.deepEqual(o.connected, ['root@192.0.2.1:22'], o.err);
    });
  }
});
