/**
 * The ufw facts read ufw's files with bash alone. They must say what the
 * grep and sed they replaced said, on ufw's real files (the fixtures, written
 * by ufw 0.36.2) and on edits of them a user could make: a last line with no
 * newline, CRLF line ends, ENABLED quoted or not, several policy lines. Each
 * script runs with PATH emptied, so a program it started would fail it; the
 * old commands run beside it as the reference.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { packageRoot } from '../../../src/paths.js';
import { ufwAllowIn, ufwExpectOpen } from '../../../src/resources/index.js';
import { quote } from '../../../src/shell.js';
import { tempDir } from '../../support/temp.js';
import { runProcess } from './harness.js';

const FIXTURES = join(packageRoot, 'test', 'unit', 'resources', 'fixtures', 'ufw');
const allow = ufwAllowIn({ iface: 'openfaas0', port: 8081, proto: 'tcp' });
const open = ufwExpectOpen({ service: 'nginx', proto: 'tcp', ports: [{ port: 443, for: 'https' }] });

interface Files {
  readonly rules?: string;
  readonly conf?: string;
  readonly defaults?: string;
}

/** A root with these files (an absent one is not written), and the two scripts' paths moved into it. */
function host(f: Files): { root: string; moved: (script: string) => string } {
  const root = tempDir('panel-ufw-sh-');
  mkdirSync(join(root, 'etc/ufw'), { recursive: true });
  mkdirSync(join(root, 'etc/default'), { recursive: true });
  if (f.rules !== undefined) writeFileSync(join(root, 'etc/ufw/user.rules'), f.rules);
  if (f.conf !== undefined) writeFileSync(join(root, 'etc/ufw/ufw.conf'), f.conf);
  if (f.defaults !== undefined) writeFileSync(join(root, 'etc/default/ufw'), f.defaults);
  return { root, moved: (s) => s.replaceAll('/etc/', `${root}/etc/`) };
}

/** The fact lines a script prints, ufw's own `installed=` left out (it looks at PATH). */
async function bashFacts(script: string): Promise<string[]> {
  const r = await runProcess('/bin/bash', ['-u'], `PATH=/nonexistent\n${script}`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return r.stdout.split('\n').filter((l) => l !== '' && !l.startsWith('installed='));
}

/** What the grep and sed the facts replaced print on the same files. */
async function referenceFacts(root: string, tuple: string): Promise<{ allow: string[]; open: string[] }> {
  const conf = `${root}/etc/ufw/ufw.conf`;
  const rules = `${root}/etc/ufw/user.rules`;
  const enabled = `grep -qE '^[[:space:]]*ENABLED[[:space:]]*=[[:space:]]*"?yes"?[[:space:]]*$' ${conf} 2>/dev/null && echo enabled=1 || echo enabled=0`;
  const r = await runProcess(
    '/bin/bash',
    [],
    [
      enabled,
      `grep -qxF ${quote(tuple)} ${rules} 2>/dev/null && echo present=1 || echo present=0`,
      'echo ---',
      enabled,
      // Each sed's output as lines: on a last line with no newline sed printed none either, and the next
      // fact line was glued to it (policy=ACCEPTtuple=…), a defect of the old facts the bash ones do not have.
      `x=$(sed -nE 's/^[[:space:]]*DEFAULT_INPUT_POLICY[[:space:]]*=[[:space:]]*"?([A-Za-z]+)"?[[:space:]]*$/policy=\\1/p' ${root}/etc/default/ufw 2>/dev/null); [ -z "$x" ] || printf '%s\\n' "$x"`,
      `x=$(sed -n 's/^### tuple ### /tuple=/p' ${rules} 2>/dev/null); [ -z "$x" ] || printf '%s\\n' "$x"`,
    ].join('\n'),
  );
  const [a, o] = r.stdout.split('---\n');
  const ls = (x: string | undefined): string[] => (x ?? '').split('\n').filter(Boolean);
  return { allow: ls(a), open: ls(o) };
}

const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');
const TUPLE = '### tuple ### allow tcp 8081 0.0.0.0/0 any 0.0.0.0/0 in_openfaas0';

/** Every fixture, and edits of them. */
function cases(): Array<[string, Files]> {
  const rules = readdirSync(FIXTURES).filter((f) => f.startsWith('user.rules.'));
  const out: Array<[string, Files]> = [];
  for (const r of rules) {
    for (const conf of ['ufw.conf', 'ufw.conf.disabled']) out.push([`${r}, ${conf}`, { rules: fixture(r), conf: fixture(conf), defaults: fixture('default-ufw') }]);
  }
  const web = fixture('user.rules.web');
  const withRule = web.replace('### END RULES ###', `${TUPLE}\n-A ufw-user-input -i openfaas0 -p tcp --dport 8081 -j ACCEPT\n\n### END RULES ###`);
  const defaults = fixture('default-ufw');
  out.push(
    ['panel\'s rule present', { rules: withRule, conf: fixture('ufw.conf'), defaults }],
    ['panel\'s rule as the last line, no newline', { rules: `${web.trimEnd()}\n${TUPLE}`, conf: 'ENABLED=yes', defaults }],
    ['the rule with a trailing space (not the line)', { rules: `${TUPLE} \n`, conf: 'ENABLED="yes"\n', defaults }],
    ['CRLF line ends', { rules: withRule.replaceAll('\n', '\r\n'), conf: 'ENABLED=yes\r\n', defaults: defaults.replaceAll('\n', '\r\n') }],
    ['ENABLED spaced and quoted', { rules: web, conf: '  ENABLED = "yes"  \n', defaults }],
    ['ENABLED=no, then yes', { rules: web, conf: 'ENABLED=no\nENABLED=yes\n', defaults }],
    ['ENABLED=yesno', { rules: web, conf: 'ENABLED=yesno\n', defaults }],
    ['two policy lines, the second unquoted', { rules: web, conf: fixture('ufw.conf'), defaults: `${defaults}\nDEFAULT_INPUT_POLICY=ACCEPT` }],
    ['no files at all', {}],
    ['empty files', { rules: '', conf: '', defaults: '' }],
  );
  return out;
}

describe('ufw facts in bash', () => {
  for (const [name, files] of cases()) {
    it(`say what grep and sed said: ${name}`, async () => {
      const h = host(files);
      const want = await referenceFacts(h.root, TUPLE);
      assert.deepEqual(await bashFacts(h.moved(allow.facts().text)), want.allow);
      assert.deepEqual(await bashFacts(h.moved(open.facts().text)), want.open);
    });
  }

  it('find panel\'s rule and ufw enabled where they are (not only agree on absence)', async () => {
    const withRule = fixture('user.rules.web').replace('### END RULES ###', `${TUPLE}\n### END RULES ###`);
    const h = host({ rules: withRule, conf: fixture('ufw.conf'), defaults: fixture('default-ufw') });
    const got = await bashFacts(h.moved(allow.facts().text));
    assert.deepEqual(got, ['enabled=1', 'present=1']);
  });

});
