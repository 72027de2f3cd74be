/** plan() and parse() of every resource kind, without a host. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  apt,
  archive,
  bridge,
  command,
  directory,
  download,
  file,
  kernelModule,
  secretFile,
  service,
  sysctl,
  template,
  ufwAllowIn,
  unit,
  type Change,
  type FileFacts,
  type ServiceFacts,
} from '../../../src/resources/index.js';
import { Secret } from '../../../src/secret.js';
import { tempDir } from '../../support/temp.js';
import { sh } from '../../../src/shell.js';
import { HostState, type HostStateData } from '../../../src/engine/state.js';
import { removal } from '../../../src/resources/removal.js';

/** A host state record with the given entries (everything else empty). */
const stateWith = (d: Partial<Pick<HostStateData, 'records' | 'pending'>>): HostState =>
  new HostState({ schema: 'panel-state', version: 1, updated: '', records: d.records ?? {}, pending: d.pending ?? {}, artifacts: {} });

const sha = (b: string | Buffer): string => createHash('sha256').update(b).digest('hex');
const none = { planned: [] as Change[] };
const owned = (mode: number, owner = 'root', group = 'root') => ({ mode, owner, uid: owner === 'root' ? 0 : 65534, group, gid: group === 'root' ? 0 : 65534 });
const present = (content: string, mode = 0o644, owner = 'root', group = 'root'): FileFacts => ({
  exists: true,
  type: 'file',
  owned: owned(mode, owner, group),
  size: Buffer.byteLength(content),
  sha256: sha(content),
  content: Buffer.from(content),
});
const fileOut = (lines: string[]) => ({ stdout: lines.join('\n') + '\n', code: 0 });

describe('file', () => {
  const r = file({ path: '/etc/x.conf', content: 'a\nb\n', mode: 0o600 });
  const cases: { name: string; facts: FileFacts; want: [string, string][] }[] = [
    { name: 'converged', facts: present('a\nb\n', 0o600), want: [] },
    { name: 'absent', facts: { exists: false }, want: [['create', 'absent']] },
    { name: 'content', facts: present('a\nc\n', 0o600), want: [['update', 'content differs']] },
    { name: 'content+mode', facts: present('a\n', 0o644), want: [['update', 'content differs, mode 0644 → 0600']] },
    { name: 'mode', facts: present('a\nb\n', 0o644), want: [['update', 'mode 0644 → 0600']] },
    { name: 'owner', facts: present('a\nb\n', 0o600, 'nobody', 'nogroup'), want: [['update', 'owner nobody → root, group nogroup → root']] },
    { name: 'symlink', facts: { exists: true, type: 'symlink', owned: owned(0o777), size: 3 }, want: [['update', 'not a regular file (symlink)']] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = r.plan(c.facts, none);
      assert.deepEqual(plan.map((p) => [p.action, p.reason]), c.want);
      for (const p of plan) assert.equal(p.resource, 'file:/etc/x.conf');
    });
  }
  it('diff is labelled with the path; mode-only change has no diff and does not rewrite', () => {
    const [u] = r.plan(present('a\nc\n', 0o600), none);
    assert.match(u?.diff ?? '', /^--- \/etc\/x\.conf\n\+\+\+ \/etc\/x\.conf\n@@/);
    assert.match(u?.diff ?? '', /^-c$/m);
    const [m] = r.plan(present('a\nb\n', 0o644), none);
    assert.equal(m?.diff, undefined);
    assert.doesNotMatch(String(m?.script ?? ''), /base64/);
    const [c] = r.plan({ exists: false }, none);
    assert.match(c?.diff ?? '', /^--- \/dev\/null\n\+\+\+ \/etc\/x\.conf/);
  });
  it('large file without content: note instead of a diff', () => {
    const big: FileFacts = { exists: true, type: 'file', owned: owned(0o600), size: 999999, sha256: 'f'.repeat(64) };
    assert.match(r.plan(big, none)[0]?.diff ?? '', /previous content not shown: 999999 bytes/);
  });
  it('secret file content never appears outside the script', () => {
    const s = file({ path: '/etc/s', content: 'hunter2-secret', secret: true });
    assert.doesNotMatch(String(s.facts()), /panel_file_facts \S+ 1/);
    for (const f of [{ exists: false } as FileFacts, present('old-secret-value')]) {
      const [c] = s.plan(f, none);
      assert.equal(c?.diff, '(secret content changed; value masked)');
      const { script, ...rest } = c as Change & { script: string };
      assert.ok(!JSON.stringify(rest).includes('hunter2-secret'));
      assert.ok(!JSON.stringify(rest).includes('old-secret-value'));
      assert.ok(script.includes(Buffer.from('hunter2-secret').toString('base64')));
    }
  });
  it('parse: realistic output and garbage', () => {
    const f = r.parse(fileOut(['exists=1', 'type=file', 'mode=640', 'owner=root', 'uid=0', 'group=adm', 'gid=4', 'size=4', `sha256=${sha('a\nb\n')}`, `content=${Buffer.from('a\nb\n').toString('base64')}`]));
    assert.ok(f.exists && f.owned.mode === 0o640 && f.owned.group === 'adm' && f.content?.toString() === 'a\nb\n');
    assert.deepEqual(r.parse(fileOut(['exists=0'])), { exists: false });
    assert.throws(() => r.parse(fileOut(['bash: panel_file_facts: command not found'])), /file:\/etc\/x\.conf: unexpected fact output/);
    assert.throws(() => r.parse({ stdout: '', code: 127 }), /fact script failed \(exit 127\)/);
    assert.throws(() => r.parse(fileOut(['exists=1', 'type=file', 'mode=rw', 'owner=root', 'uid=0', 'group=root', 'gid=0', 'size=1'])), /mode is not octal/);
  });
  it('every value reaching the shell is quoted', () => {
    const evil = file({ path: "/etc/a'; touch /pwned; '", content: 'x', owner: "root'; reboot; '" });
    const [c] = evil.plan({ exists: false }, none);
    assert.ok(c?.script?.includes(`panel_write '/etc/a'\\''; touch /pwned; '\\''' 0644`));
    assert.ok(c?.script?.includes(`'root'\\''; reboot; '\\'''`));
    assert.throws(() => file({ path: 'relative', content: '' }), /absolute/);
  });
});

describe('template', () => {
  const dir = tempDir('tpl-');
  writeFileSync(join(dir, 'a.hbs'), 'listen {{port}};\nserver_name {{domain}};\n');
  it('renders with noEscape and converges like a file', () => {
    const t = template({ path: '/etc/nginx/x.conf', source: 'a.hbs', data: { port: 443, domain: 'a&b<c>' }, templatesDir: dir });
    assert.deepEqual(t.plan(present('listen 443;\nserver_name a&b<c>;\n'), none), []);
  });
  it('names the template and the missing variable', () => {
    assert.throws(() => template({ path: '/x', source: 'a.hbs', data: { port: 1 }, templatesDir: dir }), /template a\.hbs: missing variable "domain" at line 2: server_name \{\{domain\}\};/);
    assert.throws(() => template({ path: '/x', source: 'nope.hbs', data: {}, templatesDir: dir }), /nope\.hbs: cannot read/);
  });
});

describe('directory', () => {
  const d = directory({ path: '/var/lib/faasd', mode: 0o750 });
  const dir = (mode: number, owner = 'root'): FileFacts => ({ exists: true, type: 'directory', owned: owned(mode, owner), size: 4096 });
  it('table', () => {
    assert.deepEqual(d.plan(dir(0o750), none), []);
    assert.deepEqual(d.plan({ exists: false }, none).map((c) => [c.action, c.reason]), [['create', 'absent']]);
    assert.deepEqual(d.plan(dir(0o755, 'nobody'), none).map((c) => c.reason), ['mode 0755 → 0750, owner nobody → root']);
    assert.deepEqual(d.plan(present('x'), none).map((c) => c.reason), ['a file is in the way']);
  });
});

describe('apt', () => {
  const r = apt({ packages: ['curl', 'runc', 'iptables', 'curl'] });
  it('key is sorted and deduplicated', () => assert.equal(r.key, 'apt:curl,iptables,runc'));
  it('parse dpkg-query output (multi-arch, removed-with-config)', () => {
    const f = r.parse({
      stdout: 'pkg=curl install ok installed\npkg=libc6 install ok installed\npkg=libc6 install ok installed\npkg=runc deinstall ok config-files\n',
      code: 0,
    });
    assert.deepEqual([...f.installed].sort(), ['curl', 'libc6']);
    assert.deepEqual(r.plan(f, none).map((c) => [c.action, c.target, c.reason]), [['install', 'iptables runc', 'not installed']]);
    assert.throws(() => r.parse({ stdout: 'dpkg-query: error\n', code: 0 }), /unexpected dpkg-query output/);
  });
  it('converged', () => assert.deepEqual(r.plan({ installed: new Set(['curl', 'runc', 'iptables']), lockHolder: undefined, cloudInitRunning: false, interrupted: undefined }, none), []));
  it('a held dpkg lock and a running cloud-init are warnings, only when an install is planned', () => {
    const out = 'pkg=curl install ok installed\nlock=unattended-upgr (pid 812)\ncloudinit=running\n';
    const f = r.parse({ stdout: out, code: 0 });
    assert.equal(f.lockHolder, 'unattended-upgr (pid 812)');
    const warnings: string[] = [];
    assert.equal(r.plan(f, { planned: [], warn: (m) => warnings.push(m) }).length, 1);
    assert.deepEqual(warnings, [
      'cloud-init is still running (first boot): apt steps wait for it to finish (up to 10 min)',
      'the dpkg lock is held by unattended-upgr (pid 812): apt steps wait for it (up to 10 min)',
    ]);
    const quiet: string[] = [];
    r.plan({ ...f, installed: new Set(['curl', 'runc', 'iptables']) }, { planned: [], warn: (m) => quiet.push(m) });
    assert.deepEqual(quiet, []);
  });
  it('an interrupted dpkg is a warning naming the packages, only when an install is planned', () => {
    const f = r.parse({ stdout: 'pkg=curl install ok installed\ninterrupted=nginx-common, panel-fault-slow\n', code: 0 });
    assert.deepEqual(f.interrupted, ['nginx-common', 'panel-fault-slow']);
    const warnings: string[] = [];
    r.plan(f, { planned: [], warn: (m) => warnings.push(m) });
    assert.deepEqual(warnings, ['dpkg was interrupted (nginx-common, panel-fault-slow not configured): apt steps run "dpkg --configure -a" first']);
    const journalOnly = r.parse({ stdout: 'interrupted=the dpkg journal is not empty\n', code: 0 });
    assert.deepEqual(journalOnly.interrupted, []);
    const quiet: string[] = [];
    r.plan({ ...f, installed: new Set(['curl', 'runc', 'iptables']) }, { planned: [], warn: (m) => quiet.push(m) });
    assert.deepEqual(quiet, []);
  });
  it('rejects non-package names', () => assert.throws(() => apt({ packages: ['curl; reboot'] }), /not a package name/));
});

describe('download', () => {
  const s = 'a'.repeat(64);
  const r = download({ url: 'https://example.org/faasd', sha256: s, dest: '/usr/local/bin/faasd', mode: 0o755 });
  const bin = (hash: string, mode = 0o755): FileFacts => ({ exists: true, type: 'file', owned: owned(mode), size: 10, sha256: hash });
  it('table', () => {
    assert.deepEqual(r.plan(bin(s), none), []);
    assert.deepEqual(r.plan({ exists: false }, none).map((c) => [c.action, c.target, c.reason]), [['install', '/usr/local/bin/faasd', 'absent']]);
    assert.deepEqual(r.plan(bin('b'.repeat(64)), none).map((c) => c.reason), ['checksum differs']);
    assert.deepEqual(r.plan(bin(s, 0o644), none).map((c) => [c.action, c.reason]), [['update', 'mode 0644 → 0755']]);
  });
  it('validates url and sha', () => {
    assert.throws(() => download({ url: 'ftp://x', sha256: s, dest: '/x' }), /not an http/);
    assert.throws(() => download({ url: 'https://x/y', sha256: 'ABC', dest: '/x' }), /64 lowercase hex/);
  });
});

describe('archive', () => {
  const s = 'd'.repeat(64);
  const r = archive({ url: 'https://m/containerd-1.7.27-linux-amd64.tar.gz', sha256: s, into: '/usr/local', members: ['bin/containerd', 'bin/ctr'] });
  const h1 = '1'.repeat(64);
  const h2 = '2'.repeat(64);
  const out = (lines: string[]) => r.parse({ stdout: lines.join('\n') + '\n', code: 0 });
  const at = '2026-11-22T00:00:00Z';
  const member = (path: string, sha256: string) => ({ kind: 'binary' as const, recipe: 'containerd', resource: r.key, at, path, sha256, size: 1, mtime: '1.0', existed: false, backup: null });
  const recorded = (archiveSum: string) => ({
    planned: [] as Change[],
    state: stateWith({
      records: {
        'archive:/usr/local:containerd-1.7.27-linux-amd64.tar.gz': { kind: 'archive', recipe: 'containerd', resource: r.key, at, url: 'https://m/x', sha256: archiveSum, into: '/usr/local', members: ['/usr/local/bin/containerd', '/usr/local/bin/ctr'] },
        '/usr/local/bin/containerd': member('/usr/local/bin/containerd', h1),
        '/usr/local/bin/ctr': member('/usr/local/bin/ctr', h2),
      },
    }),
  });
  it('key', () => assert.equal(r.key, 'archive:/usr/local:containerd-1.7.27-linux-amd64.tar.gz'));
  it('table: facts against the state record', () => {
    const t: [string[], ReturnType<typeof recorded> | typeof none, string | undefined][] = [
      [[`cur=${h1} 755 bin/containerd`, `cur=${h2} 755 bin/ctr`], recorded(s), undefined],
      [[`cur=- - bin/containerd`, `cur=- - bin/ctr`], none, 'not extracted'],
      [[`cur=${h2} 755 bin/containerd`, `cur=${h2} 755 bin/ctr`], recorded(s), 'bin/containerd: checksum differs'],
      [[`cur=- - bin/containerd`, `cur=${h2} 755 bin/ctr`], recorded(s), 'bin/containerd: absent'],
      [[`cur=${h1} 755 bin/containerd`, `cur=${h2} 755 bin/ctr`], recorded('e'.repeat(64)), 'archive changed'],
    ];
    for (const [lines, ctx, reason] of t) {
      const plan = r.plan(out(lines), ctx);
      assert.deepEqual(plan.map((c) => c.reason), reason === undefined ? [] : [reason], lines.join(' | '));
    }
  });
  it('records the archive and (when given) the artifact sum', () => {
    const a = archive({ url: 'https://m/x/c.tar.gz', sha256: s, into: '/usr/local', members: ['bin/c'], artifact: { path: 'x/c.tar.gz', source: 'pinned' } });
    const [c] = a.plan(a.parse({ stdout: 'cur=- - bin/c\n', code: 0 }), none);
    assert.deepEqual(c?.records, [
      { kind: 'archive', url: 'https://m/x/c.tar.gz', sha256: s, into: '/usr/local', members: ['/usr/local/bin/c'] },
      { kind: 'artifact', path: 'x/c.tar.gz', sha256: s, source: 'pinned' },
    ]);
    assert.match(String(c?.script), /panel_put "\$__tmpd\/\$__f" "\$__d" - root root first[\s\S]*panel_record_path binary "\$__d"/);
  });
  describe('a directory of its own (ownDir): one tree record', () => {
    const t = archive({ url: 'https://m/code-server-4.96.4-linux-amd64.tar.gz', sha256: s, into: '/usr/local/lib/cs', strip: 1, ownDir: true, members: ['bin/code-server', 'lib/node'], artifact: { path: 'x/cs.tgz', source: 'checksums-file' } });
    const d1 = 'a'.repeat(64);
    const facts = (tree: string, run: string[]) => t.parse({ stdout: [`tree=${tree}`, ...run.map((m) => `run=${m}`)].join('\n') + '\n', code: 0 });
    const ctx = (rec: Record<string, unknown> | undefined, extra: Record<string, unknown> = {}) => ({
      planned: [] as Change[],
      state: stateWith({
        records: {
          ...(rec ? { [t.key]: { kind: 'archive', recipe: 'code-server', resource: t.key, at, url: 'https://m/x', sha256: s, into: '/usr/local/lib/cs', members: [], ...rec } } : {}),
          ...extra,
        } as HostStateData['records'],
      }),
    });
    const tree = { digest: d1, entries: 25000, backup: null };
    const both = ['bin/code-server', 'lib/node'];
    it('table: the digest and the runnable members against the record', () => {
      const cases: [ReturnType<typeof facts>, ReturnType<typeof ctx>, string | undefined][] = [
        [facts(`${d1} 25000`, both), ctx({ tree }), undefined],
        [facts('-', []), ctx(undefined), 'not extracted'],
        [facts(`${d1} 25000`, both), ctx({ tree, sha256: 'e'.repeat(64) }), 'archive changed'],
        [facts(`${d1} 25000`, both), ctx({}), 'recorded file by file by an earlier panel'],
        [facts(`${'b'.repeat(64)} 24999`, both), ctx({ tree }), 'tree differs from the extraction (24999 entries now, 25000 extracted)'],
        [facts(`${d1} 25000`, ['bin/code-server']), ctx({ tree }), 'lib/node: missing or not executable'],
        [facts('-', []), ctx({ tree }), '/usr/local/lib/cs: absent, bin/code-server: missing or not executable, +1 more'],
      ];
      for (const [f, c, reason] of cases) assert.deepEqual(t.plan(f, c).map((x) => x.reason), reason === undefined ? [] : [reason]);
    });
    it('the script records the tree itself; per-file records of an earlier panel are forgotten', () => {
      const old = member('/usr/local/lib/cs/bin/code-server', h1);
      const [c] = t.plan(facts(`${d1} 1`, both), ctx({}, { '/usr/local/lib/cs/bin/code-server': { ...old, resource: t.key } }));
      assert.deepEqual(c?.records, [
        { kind: 'artifact', path: 'x/cs.tgz', sha256: s, source: 'checksums-file' },
        { kind: 'forget', id: '/usr/local/lib/cs/bin/code-server' },
      ]);
      const script = String(c?.script);
      assert.match(script, /tar -xzpf "\$__c" -C "\$__new" --no-same-owner --strip-components=1/);
      assert.match(script, /__tree=\$\(panel_tree_digest "\$__new"\)/);
      assert.match(script, /panel_record_tree archive:\/usr\/local\/lib\/cs:code-server-4\.96\.4-linux-amd64\.tar\.gz /);
      assert.doesNotMatch(script, /panel_record_path/);
      // Panel's own earlier extraction is deleted on the swap; a directory panel never recorded is kept.
      assert.match(script, /rm -rf --one-file-system -- "\$__old"/);
      assert.match(String(t.plan(facts('-', []), ctx(undefined))[0]?.script), /__bk="\$__into\.panel-before"/);
    });
    it('garbage facts are refused', () => assert.throws(() => t.parse({ stdout: 'tree=zz 1\n', code: 0 }), /unexpected fact output/));
    it('uninstall removes the tree whole and puts back what was there before panel', () => {
      for (const backup of [null, '/usr/local/lib/cs.panel-before']) {
        const state = ctx({ tree: { ...tree, backup } }).state;
        const changes = removal({ recipe: 'code-server', purge: false }).plan({ present: new Set([t.key]), sha256: new Map(), configOnly: new Set(), neededBy: new Map(), userFiles: new Map() }, { planned: [], state });
        assert.deepEqual(changes.map((c) => [c.action, c.target, c.records]), [['delete', '/usr/local/lib/cs', [{ kind: 'forget', id: t.key }]]]);
        const script = String(changes[0]?.script);
        assert.match(script, /^rm -rf --one-file-system -- \/usr\/local\/lib\/cs \|\| exit 1$/m);
        if (backup === null) assert.doesNotMatch(script, /mv/);
        else assert.match(script, /mv -- \/usr\/local\/lib\/cs\.panel-before \/usr\/local\/lib\/cs/);
      }
    });
  });
  it('rejects escaping members and garbage facts', () => {
    assert.throws(() => archive({ url: 'https://m/a.tgz', sha256: s, into: '/opt', members: ['../etc/passwd'] }), /relative path/);
    assert.throws(() => out(['hello']), /unexpected fact output/);
  });
});

describe('unit', () => {
  it('paths, keys, and systemd marked to reload', () => {
    const u = unit({ name: 'containerd.service', content: '[Unit]\n' });
    assert.equal(u.key, 'unit:containerd.service');
    const [c] = u.plan({ exists: false }, none);
    assert.equal(c?.target, '/etc/systemd/system/containerd.service');
    assert.match(String(c?.script ?? ''), /panel_units_stale units/);
    const d = unit({ name: 'faasd.service', dropIn: 'proxy', content: '' });
    assert.equal(d.plan({ exists: false }, none)[0]?.target, '/etc/systemd/system/faasd.service.d/proxy.conf');
    assert.throws(() => unit({ name: 'containerd', content: '' }), /type suffix/);
  });
});

describe('service', () => {
  const containerdUnit = unit({ name: 'containerd.service', content: '[Unit]\n' });
  const tarball = archive({ url: 'https://m/c.tgz', sha256: 'd'.repeat(64), into: '/usr/local', members: ['bin/containerd'] });
  const toml = file({ path: '/etc/c.toml', content: '' });
  const s = service({ name: 'containerd', enabled: true, running: true, restartOn: [containerdUnit, tarball], reloadOn: [toml] });
  const f = (enabled: string, active: string): ServiceFacts => ({ enabled, active, since: '' });
  const pendingCtx = (action: 'restart' | 'reload') => ({ planned: [] as Change[], state: stateWith({ pending: { 'containerd.service': { action, at: '' } } }) });
  const unitChange: Change = { resource: 'unit:containerd.service', action: 'update', target: '/etc/systemd/system/containerd.service', reason: 'content differs', script: sh`:` };
  const other: Change = { resource: 'file:/etc/other', action: 'update', target: '/etc/other', reason: 'content differs', script: sh`:` };
  const conf: Change = { resource: 'file:/etc/c.toml', action: 'update', target: '/etc/c.toml', reason: 'content differs', script: sh`:` };
  const acts = (cs: Change[]) => cs.map((c) => `${c.action}:${c.reason}`);

  it('converged: nothing, even when unrelated things change', () => {
    assert.deepEqual(s.plan(f('enabled', 'active'), { planned: [other] }), []);
    assert.deepEqual(s.plan(f('static', 'active'), none), []);
  });
  it('enable and start; a start is not followed by a restart', () => {
    assert.deepEqual(acts(s.plan(f('disabled', 'inactive'), { planned: [unitChange] })), ['enable:disabled', 'start:inactive']);
    const [, start] = s.plan(f('disabled', 'failed'), { planned: [unitChange] });
    assert.deepEqual(start?.after, ['update /etc/systemd/system/containerd.service (content differs)']);
    assert.deepEqual(acts(s.plan(f('not-found', ''), none)), ['enable:not-found', 'start:not found']);
    assert.match(String(s.plan(f('masked', 'inactive'), none)[0]?.script ?? ''), /systemctl unmask/);
  });
  it('restart when a restartOn resource changed: prepare records it, script clears it', () => {
    const [r] = s.plan(f('enabled', 'active'), { planned: [other, unitChange] });
    assert.equal(r?.action, 'restart');
    assert.deepEqual(r?.after, ['update /etc/systemd/system/containerd.service (content differs)']);
    assert.equal(String(r?.prepare), 'panel_pending_set containerd.service restart');
    assert.match(String(r?.script ?? ''), /systemctl restart containerd\.service[\s\S]*panel_pending_clear containerd\.service/);
  });
  it('a start after a dependency changed restarts instead when the unit came up meanwhile (postinst)', () => {
    const [, start] = s.plan(f('disabled', 'inactive'), { planned: [unitChange] });
    assert.match(String(start?.script ?? ''), /if systemctl is-active --quiet containerd\.service; then systemctl restart containerd\.service/);
    const [plain] = s.plan(f('enabled', 'inactive'), none);
    assert.doesNotMatch(String(plain?.script ?? ''), /is-active/);
  });
  it('restart pending from an interrupted run, with nothing planned now', () => {
    const [r] = s.plan(f('enabled', 'active'), pendingCtx('restart'));
    assert.equal(r?.action, 'restart');
    assert.equal(r?.reason, 'restart pending from an earlier run');
    assert.equal(r?.after, undefined);
  });
  it('reload only for reloadOn; restart wins over reload', () => {
    assert.deepEqual(acts(s.plan(f('enabled', 'active'), { planned: [conf] })), ['reload:configuration changed']);
    assert.deepEqual(acts(s.plan(f('enabled', 'active'), { planned: [conf, unitChange] })), ['restart:dependency changed']);
    assert.deepEqual(acts(s.plan(f('enabled', 'active'), pendingCtx('reload'))), ['reload:reload pending from an earlier run']);
  });
  it('stop and disable', () => {
    const off = service({ name: 'nginx.service', enabled: false, running: false });
    assert.deepEqual(acts(off.plan(f('enabled', 'active'), none)), ['disable:enabled', 'stop:active']);
    assert.deepEqual(off.plan(f('disabled', 'inactive'), none), []);
  });
  it('parse', () => {
    const p = s.parse({ stdout: 'enabled=enabled\nactive=active\nsince=Sat 2026-11-21 23:56:41 UTC\n', code: 0 });
    assert.deepEqual(p, { enabled: 'enabled', active: 'active', since: 'Sat 2026-11-21 23:56:41 UTC' });
    assert.deepEqual(s.references, [
      { field: 'restartOn', key: 'unit:containerd.service' },
      { field: 'restartOn', key: 'archive:/usr/local:c.tgz' },
      { field: 'reloadOn', key: 'file:/etc/c.toml' },
    ]);
  });
});

describe('sysctl', () => {
  const r = sysctl({ key: 'net.ipv4.conf.all.forwarding', value: '1' });
  const mine = r.dropIn.spec.content.toString();
  const fileLines = (content: string | undefined): string[] =>
    content === undefined
      ? ['exists=0']
      : ['exists=1', 'type=file', 'mode=644', 'owner=root', 'uid=0', 'group=root', 'gid=0', `size=${Buffer.byteLength(content)}`, `sha256=${sha(content)}`, `content=${Buffer.from(content).toString('base64')}`];
  const out = (runtime: string, content: string | undefined, overrides: string[] = []) =>
    r.parse({ stdout: [`runtime=${runtime}`, ...overrides.map((o) => `override=${o}`), ...fileLines(content)].join('\n') + '\n', code: 0 });
  const run = (f: ReturnType<typeof out>) => {
    const warnings: string[] = [];
    const changes = r.plan(f, { planned: [], warn: (m) => warnings.push(m) }).map((c) => `${c.action} ${c.target}: ${c.reason}`);
    return { changes, warnings };
  };
  it('the drop-in is the whole file: the one line and its header', () => {
    assert.match(mine, /^# .*panel/);
    assert.ok(mine.endsWith('\nnet.ipv4.conf.all.forwarding = 1\n'));
    assert.deepEqual(run(out('1', mine)), { changes: [], warnings: [] });
    assert.deepEqual(run(out('0', mine)).changes, ['set net.ipv4.conf.all.forwarding: runtime 0 → 1']);
    assert.deepEqual(run(out('1', undefined)).changes, ['create /etc/sysctl.d/99-panel.conf: absent']);
  });
  it('any other line in the drop-in is drift, shown in the diff', () => {
    const appended = run(out('1', mine + 'net.ipv4.ip_forward=0\n'));
    assert.deepEqual(appended.changes, ['update /etc/sysctl.d/99-panel.conf: content differs']);
    const diff = r.plan(out('1', mine + 'net.ipv4.ip_forward=0\n'), none)[0]?.diff ?? '';
    assert.match(diff, /^-net\.ipv4\.ip_forward=0$/m);
    // The old format (the key line alone, no header) is rewritten once.
    assert.deepEqual(run(out('1', 'net.ipv4.conf.all.forwarding = 1\n')).changes, ['update /etc/sysctl.d/99-panel.conf: content differs']);
  });
  it('a later file that sets another value is a warning naming it; the same value is not', () => {
    const w = run(out('1', mine, ['0\t/etc/sysctl.d/99-sysctl.conf\t/etc/sysctl.conf\tnet.ipv4.ip_forward', '1\t/etc/sysctl.d/99-zz.conf\t\tnet.ipv4.conf.all.forwarding']));
    assert.deepEqual(w.changes, []);
    assert.equal(w.warnings.length, 1);
    assert.match(w.warnings[0]!, /^\/etc\/sysctl\.conf \(read as \/etc\/sysctl\.d\/99-sysctl\.conf\) sets net\.ipv4\.ip_forward = 0, .*after a reboot net\.ipv4\.conf\.all\.forwarding will be 0, not 1/);
    const plain = run(out('1', mine, ['0\t/etc/sysctl.d/zz-local.conf\t\tnet.ipv4.conf.all.forwarding']));
    assert.match(plain.warnings[0]!, /^\/etc\/sysctl\.d\/zz-local\.conf sets/);
  });
  it('whitespace-normalised values', () => {
    const p = sysctl({ key: 'net.ipv4.ip_local_port_range', value: '1024  65000' });
    assert.ok(p.dropIn.spec.content.toString().endsWith('\nnet.ipv4.ip_local_port_range = 1024 65000\n'));
    const content = p.dropIn.spec.content.toString();
    assert.deepEqual(p.plan(p.parse({ stdout: ['runtime=1024 65000', 'override=1024 65000\t/etc/sysctl.d/zz.conf\t\tnet.ipv4.ip_local_port_range', ...fileLines(content)].join('\n'), code: 0 }), none), []);
  });
});

describe('kernelModule', () => {
  const k = kernelModule({ name: 'br_netfilter' });
  const conf = ['exists=1', 'type=file', 'mode=644', 'owner=root', 'uid=0', 'group=root', 'gid=0', 'size=13', `sha256=${sha('br_netfilter\n')}`];
  const facts = (o: { loadable?: 0 | 1; listed?: 0 | 1; builtin?: 0 | 1; container?: string; modprobe?: 0 | 1; conf?: string[] }) =>
    k.parse({
      stdout: [`loadable=${o.loadable ?? 1}`, `listed=${o.listed ?? 0}`, `builtin=${o.builtin ?? 0}`, `container=${o.container ?? 'none'}`, `modprobe=${o.modprobe ?? 1}`, ...(o.conf ?? ['exists=0'])].join('\n'),
      code: 0,
    });
  const plan = (f: ReturnType<typeof facts>, planned: Change[] = []) => {
    const warnings: string[] = [];
    const changes = k.plan(f, { planned, warn: (m) => warnings.push(m) }).map((c) => `${c.action} ${c.target}: ${c.reason}`);
    return { changes, warnings };
  };
  it('built in (this machine: no /proc/modules, /proc/sys/net/bridge present): nothing, not even a modules-load.d entry', () => {
    assert.deepEqual(plan(facts({ loadable: 0, builtin: 1, container: 'systemd-nspawn' })), { changes: [], warnings: [] });
    assert.deepEqual(plan(facts({ builtin: 1 })), { changes: [], warnings: [] });
  });
  it('loaded as a module: the modules-load.d entry keeps it after a reboot', () => {
    assert.deepEqual(plan(facts({ listed: 1, builtin: 1 })).changes, ['create /etc/modules-load.d/panel-br_netfilter.conf: absent']);
    assert.deepEqual(plan(facts({ listed: 1, builtin: 1, conf })).changes, []);
  });
  it('missing: entry, then load; kmod installed first when modprobe is missing (once per host)', () => {
    const p = k.plan(facts({}), none);
    assert.deepEqual(p.map((c) => [c.action, c.target, c.reason]), [
      ['create', '/etc/modules-load.d/panel-br_netfilter.conf', 'absent'],
      ['load', 'br_netfilter', 'not loaded'],
    ]);
    assert.ok(p.every((c) => c.resource === 'kmod:br_netfilter'));
    assert.deepEqual(plan(facts({ modprobe: 0, conf })).changes, ['install kmod: modprobe missing', 'load br_netfilter: not loaded']);
    const kmodFirst = { resource: 'kmod:overlay', action: 'install', target: 'kmod', reason: 'modprobe missing', script: sh`` } as Change;
    assert.deepEqual(plan(facts({ modprobe: 0, conf }), [kmodFirst]).changes, ['load br_netfilter: not loaded']);
  });
  it('in a container: loaded by the machine outside is one warning; missing is one clear failure', () => {
    const w = plan(facts({ listed: 1, container: 'lxc' }));
    assert.deepEqual(w.changes, []);
    assert.equal(w.warnings.length, 1);
    assert.match(w.warnings[0]!, /^kernel module br_netfilter is loaded by the machine this container \(lxc\) runs on; .*\/etc\/modules-load\.d\/ there$/);
    assert.throws(() => plan(facts({ container: 'openvz' })), /^Error: kernel module br_netfilter is missing and this host is a container \(openvz\), which cannot load kernel modules: load it on the machine the container runs on/);
    assert.throws(() => plan(facts({ loadable: 0 })), /this kernel cannot load modules/);
  });
});

describe('bridge', () => {
  const b = bridge({ name: 'openfaas0', address: '10.62.0.1/16' });
  // As `ip -d -j addr show dev openfaas0` prints it: flags, kind and addresses in one object.
  const link = (flags: string[], kind = 'bridge', local?: string) =>
    JSON.stringify([{ ifname: 'openfaas0', flags, linkinfo: { info_kind: kind }, addr_info: local ? [{ family: 'inet6', local: 'fe80::1', prefixlen: 64 }, { family: 'inet', local, prefixlen: 16 }] : [] }]);
  const p = (lines: string[]) => b.plan(b.parse({ stdout: lines.join('\n') + '\n', code: 0 }), none).map((c) => `${c.action}:${c.reason}`);
  it('table', () => {
    assert.deepEqual(p(['exists=1', `link=${link(['BROADCAST', 'UP'], 'bridge', '10.62.0.1')}`]), []);
    assert.deepEqual(p(['exists=0']), ['create:absent']);
    assert.deepEqual(p(['exists=1', `link=${link(['BROADCAST'])}`]), ['update:address 10.62.0.1/16 missing', 'update:down']);
    assert.deepEqual(p(['exists=1', `link=${link(['UP'], 'bridge', '10.62.0.2')}`]), ['update:address 10.62.0.1/16 missing']);
    assert.deepEqual(p(['exists=1', `link=${link(['UP'], 'veth')}`]), ['create:a veth link is in the way']);
  });
  it('garbage', () => assert.throws(() => b.parse({ stdout: 'exists=1\nlink=[{\n', code: 0 }), /cannot parse `ip -j` output/));
  it('validates', () => assert.throws(() => bridge({ name: 'x', address: '10.0.0.300/8' }), /not an IPv4 CIDR/));
});

describe('command', () => {
  const c = command({ name: 'faasd-login', check: sh`test -f /x`, run: sh`touch /x` });
  it('table', () => {
    assert.deepEqual(c.plan(c.parse({ stdout: 'check=0\n', code: 0 }), none), []);
    assert.deepEqual(c.plan(c.parse({ stdout: 'check=1\n', code: 0 }), none).map((x) => [x.action, x.target, x.reason, String(x.script)]), [['run', 'faasd-login', 'check failed', 'touch /x']]);
  });
});

describe('secretFile', () => {
  const value = 'super-secret-password-42';
  const s = secretFile({ path: '/var/lib/faasd/secrets/basic-auth-password', value: new Secret(value), generate: sh`false` });
  const g = secretFile({ path: '/var/lib/faasd/secrets/basic-auth-password', generate: sh`head -c 32 /dev/urandom | base64` });
  const visible = (cs: Change[]) => JSON.stringify(cs.map(({ script: _s, ...rest }) => rest));
  it('facts never read the content', () => {
    assert.match(String(g.facts()), /panel_file_facts \S+ 0/);
    const parsed = g.parse({ stdout: ['exists=1', 'type=file', 'mode=600', 'owner=root', 'uid=0', 'group=root', 'gid=0', 'size=3', `sha256=${sha('abc')}`, 'content=YWJj'].join('\n'), code: 0 });
    assert.ok(parsed.exists && parsed.content === undefined);
  });
  it('table', () => {
    const have = (v: string, mode = 0o600): FileFacts => ({ exists: true, type: 'file', owned: owned(mode), size: v.length, sha256: sha(v) });
    assert.deepEqual(g.plan(have('anything'), none), [], 'never overwritten without a value');
    assert.deepEqual(s.plan(have(value), none), []);
    const absentGen = g.plan({ exists: false }, none);
    assert.deepEqual(absentGen.map((c) => [c.action, c.reason]), [['create', 'absent']]);
    assert.match(String(absentGen[0]?.script ?? ''), /head -c 32/);
    const differ = s.plan(have('old-value-here'), none);
    assert.deepEqual(differ.map((c) => [c.action, c.reason, c.diff]), [['update', 'value differs', '(secret content changed; value masked)']]);
    assert.ok(!visible(differ).includes(value) && !visible(differ).includes('old-value-here'));
    assert.ok(differ[0]?.script?.includes(Buffer.from(value).toString('base64')));
    assert.ok(!visible(s.plan({ exists: false }, none)).includes(value));
    assert.deepEqual(g.plan(have('x', 0o644), none).map((c) => c.reason), ['mode 0644 → 0600']);
  });
});

describe('ufwAllowIn', () => {
  const u = ufwAllowIn({ iface: 'openfaas0', port: 8081, proto: 'tcp' });
  const p = (installed: 0 | 1, enabled: 0 | 1, present: 0 | 1) =>
    u.plan(u.parse({ stdout: `installed=${installed}\nenabled=${enabled}\npresent=${present}\n`, code: 0 }), none);
  it('only where ufw is active, only that rule, only once', () => {
    assert.deepEqual(p(0, 0, 0), []);
    assert.deepEqual(p(1, 0, 0), []);
    assert.deepEqual(p(1, 1, 1), []);
    const [c] = p(1, 1, 0);
    assert.equal(c?.target, 'ufw allow in on openfaas0 to any port 8081 proto tcp');
    assert.match(c?.script?.text ?? '', /^__out=\$\(ufw allow in on openfaas0 to any port 8081 proto tcp 2>&1\)/);
    assert.equal(u.tuple, '### tuple ### allow tcp 8081 0.0.0.0/0 any 0.0.0.0/0 in_openfaas0');
  });
  it('refuses what is not an interface or a port', () => {
    assert.throws(() => ufwAllowIn({ iface: 'eth0; reboot', port: 1, proto: 'tcp' }), /not an interface name/);
    assert.throws(() => ufwAllowIn({ iface: 'eth0', port: 70000, proto: 'tcp' }), /not a port/);
  });
});
