/**
 * 1,000 seeded random mutations of a valid fleet.yaml: the loader must
 * never throw, and must answer either valid HostConfigs or errors that all
 * read `fleet.yaml:LINE:COL: message` (or `fleet.yaml: message` for the
 * documented whole-file problems). Reproduce a failure with
 * PANEL_FUZZ_SEED=<seed printed in the failure>.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDocument, stringify } from 'yaml';
import { formatInventoryError, loadInventoryText, type InventoryHost } from '../../src/inventory/index.js';
import { prng } from '../support/prng.js';

const VALID = `# fleet
defaults:
  user: deploy
  port: 22
  key: ~/.ssh/id_ed25519
  email: ops@mail.example.io
  recipes: [base, containerd, cni, nginx]
  mirror: https://mirror.example.com
  checksums: ./checksums.txt
  proxy: http://proxy.example.com:3128
  noProxy: localhost,127.0.0.1
  params:
    containerd: { version: 1.7.27, opts: { a: 1 } }
  acme:
    directory: https://acme.example.com/dir
    caFile: ./pebble.pem
groups:
  web:
    hosts: [web1, web2]
    vars:
      email: web@mail.example.io
      params:
        nginx: { workers: 4 }
  canary:
    hosts:
      - web2
    vars: { recipes: [base] }
hosts:
  web1:
    address: 10.0.0.5
    fingerprint: SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8
    domains: [a.example.com, "b.example.com"]
  web2:
    address: web2.example.com
    port: 2222
    user: root
    sudo: false
    domains:
      - c.example.com
  db1:
    address: "2001:db8::1"
    password: { env: DB_PW }
    params:
      containerd: { version: 2.0.0 }
`;

const RECIPES = ['base', 'containerd', 'cni', 'bridge', 'faasd', 'nginx', 'certificate'];

type Rand = () => number;
const int = (r: Rand, n: number): number => Math.floor(r() * n);
const pickOf = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)] as T;

const GARBAGE = [':', '{', '}', '[', ']', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '#', ',', '-', '?', '\t', '\n', ' ', '\0', 'ü', '\u202e', '$(', ';', '\\', '<<: ', '---\n', '&a ', '*a', '!!binary ', '~'];
const VALUES = ['0', '-1', '70000', '3.5', 'true', 'null', '~', '[]', '{}', '[a, b]', '{ a: 1 }', '""', "'x'", '"$(reboot)"', '*.example.com', '10.0.0.5', 'SHA256:abc', 'ftp://x', 'yes', '0x1F', '1e9', '!!str 22', '&anc 5', '*anc', 'web1', 'a'.repeat(300), '__proto__', 'hunter2'];
const KEYS = ['address', 'port', 'user', 'hosts', 'vars', 'defaults', 'groups', 'domains', 'password', 'params', '__proto__', 'constructor', 'x', 'web1', '<<'];

function lines(t: string): string[] {
  return t.split('\n');
}

/** Mutations of the text itself: what a slip of the keyboard or a bad merge does. */
const TEXT_MUTATIONS: ReadonlyArray<(t: string, r: Rand) => string> = [
  (t, r) => { const l = lines(t); l.splice(int(r, l.length), 1); return l.join('\n'); },
  (t, r) => { const l = lines(t); const i = int(r, l.length); l.splice(i, 0, l[i] ?? ''); return l.join('\n'); },
  (t, r) => { const l = lines(t); const i = int(r, l.length); const j = int(r, l.length); [l[i], l[j]] = [l[j] ?? '', l[i] ?? '']; return l.join('\n'); },
  (t, r) => { const i = int(r, t.length + 1); return t.slice(0, i) + pickOf(r, GARBAGE) + t.slice(i); },
  (t, r) => t.slice(0, int(r, t.length + 1)),
  (t, r) => { const l = lines(t); const i = int(r, l.length); const d = int(r, 9) - 4; l[i] = d >= 0 ? ' '.repeat(d) + (l[i] ?? '') : (l[i] ?? '').replace(new RegExp(`^ {0,${-d}}`), ''); return l.join('\n'); },
  (t, r) => { const l = lines(t); const i = int(r, l.length); l[i] = (l[i] ?? '').replace(/:\s+.*$/, `: ${pickOf(r, VALUES)}`); return l.join('\n'); },
  (t, r) => { const l = lines(t); const i = int(r, l.length); l[i] = (l[i] ?? '').replace(/^(\s*)[^:\s]+:/, `$1${pickOf(r, KEYS)}:`); return l.join('\n'); },
  (t, r) => {
    const l = lines(t); const i = int(r, l.length); const j = int(r, l.length);
    const vi = /:\s+(.*)$/.exec(l[i] ?? '')?.[1]; const vj = /:\s+(.*)$/.exec(l[j] ?? '')?.[1];
    if (vi === undefined || vj === undefined) return t;
    l[i] = (l[i] ?? '').replace(/:\s+.*$/, `: ${vj}`); l[j] = (l[j] ?? '').replace(/:\s+.*$/, `: ${vi}`);
    return l.join('\n');
  },
  (t, r) => { const i = int(r, t.length); const n = 1 + int(r, 20); return t.slice(0, i) + t.slice(i + n); },
];

/** Mutations of the structure, re-serialised: keys deleted, duplicated, retyped. */
function structural(t: string, r: Rand): string {
  const doc = parseDocument(t);
  if (doc.errors.length > 0) return t;
  let root: unknown;
  try {
    root = doc.toJS();
  } catch {
    return t; // unresolvable aliases: leave such text to the text mutations
  }
  const containers: Array<Record<string, unknown> | unknown[]> = [];
  const seen = new Set<unknown>();
  const collect = (v: unknown): void => {
    if (seen.has(v)) return;
    seen.add(v);
    if (Array.isArray(v)) { containers.push(v); v.forEach(collect); }
    else if (typeof v === 'object' && v !== null) { containers.push(v as Record<string, unknown>); Object.values(v).forEach(collect); }
  };
  collect(root);
  if (containers.length === 0) return t;
  const c = pickOf(r, containers);
  const replacements: unknown[] = [null, 0, -5, 1.5, 65536, true, 'x', '', [], {}, ['a'], { k: 1 }, 'a b', '../../etc/passwd', 'é.example.com'];
  if (Array.isArray(c)) {
    const i = int(r, c.length + 1);
    const op = int(r, 3);
    if (op === 0) c.splice(i, 1);
    else if (op === 1) c.splice(i, 0, c[i] ?? pickOf(r, replacements));
    else c[i] = pickOf(r, replacements);
  } else {
    const keys = Object.keys(c);
    const k = keys.length > 0 ? pickOf(r, keys) : pickOf(r, KEYS);
    const op = int(r, 4);
    if (op === 0) delete c[k];
    else if (op === 1) c[pickOf(r, KEYS)] = c[k];
    else if (op === 2) c[k] = pickOf(r, replacements);
    else { const other = pickOf(r, containers); if (!Array.isArray(other)) other[k] = c[k]; }
  }
  try {
    return stringify(root, { aliasDuplicateObjects: r() < 0.5 });
  } catch {
    return t; // a cycle made by the mutation itself; not the loader's concern
  }
}

function mutate(seed: number): string {
  const r = prng(seed);
  let t = VALID;
  const n = 1 + int(r, 3);
  for (let i = 0; i < n; i++) t = r() < 0.25 ? structural(t, r) : pickOf(r, TEXT_MUTATIONS)(t, r);
  return t;
}

const POSITIONED = /^fleet\.yaml:\d+:\d+: .+$/;
/** Whole-file problems without a position (documented in load.ts): alias bombs only, for this file. */
const WHOLE_FILE = /^fleet\.yaml: cannot expand YAML aliases: .+$/;

function checkHost(h: InventoryHost): void {
  assert.equal(typeof h.name, 'string');
  assert.equal(h.connection.kind, 'ssh');
  assert.ok(Number.isInteger(h.connection.port) && h.connection.port >= 1 && h.connection.port <= 65535);
  assert.ok(h.domains.every((d) => /^[a-z0-9.-]+$/.test(d)), `domains ${h.domains.join(',')}`);
  assert.ok(/^[a-z_][a-z0-9_-]*$/.test(h.connection.user));
  assert.ok(!/[\s;$`|&<>]/.test(h.connection.address));
}

describe('fuzz: 1,000 mutations of a valid inventory', () => {
  const master = Number(process.env['PANEL_FUZZ_SEED'] ?? 20240601);
  const cases = process.env['PANEL_FUZZ_SEED'] !== undefined ? 1 : 1000;

  it('the unmutated inventory is valid', () => {
    const r = loadInventoryText(VALID, 'fleet.yaml', {}, { knownRecipes: RECIPES, env: { DB_PW: 'pw-db-1' } });
    assert.ok(r.ok, r.ok ? '' : r.error.map(formatInventoryError).join('\n'));
    assert.equal(r.value.length, 3);
  });

  it('never throws; always valid hosts or well-formed errors', () => {
    let valid = 0;
    let invalid = 0;
    for (let i = 0; i < cases; i++) {
      const seed = master + i;
      const text = mutate(seed);
      const where = `seed ${seed} (rerun with PANEL_FUZZ_SEED=${seed}); input:\n${text}`;
      let r: ReturnType<typeof loadInventoryText>;
      try {
        r = loadInventoryText(text, 'fleet.yaml', {}, { knownRecipes: RECIPES, env: { DB_PW: 'pw-db-1' }, homeDir: '/home/me', cwd: '/work' });
      } catch (e) {
        assert.fail(`threw ${e instanceof Error ? e.stack : String(e)}\n${where}`);
      }
      if (r.ok) {
        valid++;
        assert.ok(r.value.length > 0, where);
        for (const h of r.value) checkHost(h);
      } else {
        invalid++;
        assert.ok(r.error.length > 0, `no errors given\n${where}`);
        for (const e of r.error) {
          const line = formatInventoryError(e);
          assert.ok(POSITIONED.test(line) || WHOLE_FILE.test(line), `malformed error ${JSON.stringify(line)}\n${where}`);
          if (e.line !== undefined) {
            assert.ok(e.line >= 1 && e.line <= text.split('\n').length + 1, `line out of range: ${line}\n${where}`);
          }
        }
      }
    }
    // Both outcomes must be exercised, or the mutations are not testing much.
    if (cases === 1000) {
      assert.ok(valid > 50, `only ${valid} mutations stayed valid`);
      assert.ok(invalid > 300, `only ${invalid} mutations were rejected`);
    }
  });
});
