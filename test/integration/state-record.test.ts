/**
 * The host state record on a real (nspawn) testbed host, through the CLI as a
 * user runs it: the container stack, nginx and a Pebble certificate, default
 * parameters. NOTE: the faasd served by the mirror is the testbed's STAND-IN
 * (test/testbed/faasd-standin/main.ts); containerd and the CNI plugins are Debian's.
 *
 * Issue 10 "done when":
 *  - after an install, /var/lib/panel/state.json accounts for everything new or
 *    changed under /etc, /usr/local, /opt, /lib/systemd and /var/lib compared
 *    with a snapshot (paths + sha256) of the fresh host; what is not in it is
 *    on PACKAGES_AND_SERVICES_CREATE below, each entry with its reason;
 *  - a broken nginx site never becomes the live file, not even briefly.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { nginxParams, SITE_PATH, SiteResource, siteSpec } from '../../src/nginx/site.js';
import { applyScript, factBatchScript, parseApply, parseFactBatch } from '../../src/engine/batch.js';
import { type HostState, parseHostState } from '../../src/engine/state.js';
import { templatesDir } from '../../src/paths.js';
import type { Change } from '../../src/resources/types.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { panel, type CliRun } from '../support/panel-cli.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { domainNames } from '../../src/validate/domain.js';

let bed: Testbed;
let host: TestHost;
const NAME = 'state.panel.test';
const work = mkdtempSync(join(tmpdir(), 'panel-state-it-'));

before(async () => {
  bed = await startTestbed({ hosts: 1, pebble: true });
  host = bed.hosts[0]!;
  await bed.dns.add(NAME, host.address);
});

after(async () => {
  await bed?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function sh(cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${cmd}: ${r.stderr}`);
  return r.stdout;
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

const ROOTS = '/etc /usr/local /opt /lib/systemd /var/lib';

/** `<type> <path> <sha256 or link target or ->` for everything under ROOTS (one file system, no logs). */
const SNAPSHOT =
  `{ find ${ROOTS} -xdev -type f -exec sha256sum -- {} + | sed -E 's/^([0-9a-f]{64})  (.*)$/f \\2 \\1/'; ` +
  `find ${ROOTS} -xdev \\( -type l -printf 'l %p -> %l\\n' -o -type d -printf 'd %p\\n' \\); } 2>/dev/null | LC_ALL=C sort`;

function parseSnapshot(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const kind = line[0];
    const rest = line.slice(2);
    if (kind === 'f') m.set(rest.slice(0, -65), `f ${rest.slice(-64)}`);
    else if (kind === 'l') m.set(rest.slice(0, rest.indexOf(' -> ')), `l ${rest.slice(rest.indexOf(' -> ') + 4)}`);
    else m.set(rest, 'd');
  }
  return m;
}

/**
 * What packages, their maintainer scripts and services create themselves —
 * the only things under ROOTS that may be new or changed without a record.
 * Files that dpkg lists for a package panel installed are covered by that
 * package's record (checked below with dpkg-query -L), so they are not here.
 */
const PACKAGES_AND_SERVICES_CREATE: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/var\/lib\/panel(\/|$)/, "panel's own record, journal and backups"],
  [/^\/var\/lib\/dpkg(\/|$)/, "dpkg's database (status, file lists, alternatives, triggers)"],
  [/^\/var\/lib\/apt(\/|$)/, "apt's lists and extended_states"],
  [/^\/var\/lib\/ucf(\/|$)/, 'ucf: conffile registry used by maintainer scripts'],
  [/^\/var\/lib\/systemd(\/|$)/, 'systemd: deb-systemd-helper state, timers, random seed'],
  [/^\/etc\/(passwd|group|shadow|gshadow|subuid|subgid)-?$/, 'system users/groups added by maintainer scripts (and their "-" backups)'],
  [/^\/etc\/ld\.so\.cache$/, 'ldconfig trigger after package installs'],
  [/^\/etc\/alternatives(\/|$)/, 'update-alternatives (iptables, nft variants)'],
  [/^\/etc\/ssl\/certs(\/|$)/, 'update-ca-certificates (ca-certificates postinst)'],
  [/^\/etc\/ca-certificates\.conf$/, 'ca-certificates postinst'],
  [/^\/etc\/systemd\/system\/[^/]+\.(wants|requires)(\/|$)/, "`systemctl enable` symlinks: the service's enabled state is what panel manages (and disables)"],
  [/^\/etc\/nginx\/(modules-enabled|sites-enabled)(\/|$)/, 'nginx postinst: enabled module and site symlinks (panel replaces sites-enabled/default, which is recorded)'],
  [/^\/etc\/rc[0-6S]\.d\/[SK][0-9]{2}nginx$/, "nginx postinst: update-rc.d's SysV links for its init script"],
  [/^\/etc\/networks$/, "netbase postinst writes it (it is not in netbase's file list)"],
  [/^\/opt\/containerd(\/(bin|lib))?$/, "containerd's opt plugin creates /opt/containerd/{bin,lib} when it starts"],
  [/^\/var\/lib\/nginx(\/|$)/, 'nginx: its temp/body directories, created when it starts'],
  [/^\/var\/lib\/containerd(\/|$)/, "containerd's own state, created when it starts"],
  [/^\/var\/lib\/cni(\/|$)/, 'CNI plugins: IPAM leases and result cache'],
  [/^\/var\/lib\/faasd(-provider)?\/(?!(docker-compose\.yaml|prometheus\.yml|resolv\.conf|secrets(\/basic-auth-(user|password))?|nats|prometheus)$)/, 'faasd: what faasd (here the stand-in) writes at run time besides the files panel writes'],
  [/^\/var\/lib\/(polkit-1|sudo|private|logrotate)(\/|$)/, 'daemons and timers of the base system running meanwhile'],
];

test('after a full install, state.json accounts for everything new or changed; the rest is on the commented list', async () => {
  const before = parseSnapshot(await sh(SNAPSHOT));
  const pkgsBefore = new Set((await sh("dpkg-query -W -f='${Package}\\n'")).split('\n').filter(Boolean));

  const run = await panel(
    [
      'install',
      ...hostArgs(bed, host),
      ...mirrorArgs(bed),
      '-d', NAME,
      '-m', 'ops@panel.test',
      '--acme-directory', bed.acme.directory,
      '--acme-ca', bed.acme.caFile,
      '--recipes', 'faasd,nginx,certificate',
      '--json',
      '--yes',
    ],
    { env: { XDG_CONFIG_HOME: work } },
  );
  assert.equal(run.code, 0, explain(run));

  const after = parseSnapshot(await sh(SNAPSHOT));
  const stateText = await sh('cat /var/lib/panel/state.json');
  const parsed = parseHostState(stateText);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.error);
  const state: HostState = parsed.value;

  // Packages panel installed are recorded; none that was there before is.
  const pkgsAfter = (await sh("dpkg-query -W -f='${Package}\\n'")).split('\n').filter(Boolean);
  const recordedPkgs = state.records.filter(([, r]) => r.kind === 'package').map(([, r]) => (r.kind === 'package' ? r.name : ''));
  for (const p of recordedPkgs) assert.ok(!pkgsBefore.has(p), `package ${p} was installed before panel but is recorded as panel's`);
  for (const p of ['nginx', 'runc', 'iptables', 'curl']) assert.ok(recordedPkgs.includes(p), `package ${p} is recorded (${recordedPkgs.join(' ')})`);
  // Files of every package that is new on the host (panel's and their dependencies) belong to those packages.
  const newPkgs = pkgsAfter.filter((p) => !pkgsBefore.has(p));
  const pkgFiles = new Set((await sh(`dpkg-query -L ${newPkgs.join(' ')} 2>/dev/null || true`)).split('\n').filter((l) => l.startsWith('/')));

  const unaccounted: string[] = [];
  const listed = new Map<string, number>();
  for (const [path, now] of after) {
    const was = before.get(path);
    if (was === now) continue;
    const rec = state.record(path);
    if (rec !== undefined) {
      // A recorded file's checksum is what is on the host now (the stat cache is right).
      if (now.startsWith('f ') && 'sha256' in rec) assert.equal(rec.sha256, now.slice(2), `${path}: recorded sha256 matches the host`);
      continue;
    }
    if (pkgFiles.has(path)) continue;
    const hit = PACKAGES_AND_SERVICES_CREATE.find(([re]) => re.test(path));
    if (hit) {
      listed.set(hit[1], (listed.get(hit[1]) ?? 0) + 1);
      continue;
    }
    unaccounted.push(`${was === undefined ? 'new' : 'changed'} ${path} (${now})`);
  }
  assert.deepEqual(unaccounted, [], 'everything new or changed is recorded or on the list');

  // The record is not padded: what it lists (under the snapshot's roots) exists, files with that checksum.
  const inRoots = (p: string): boolean => ROOTS.split(' ').some((r) => p.startsWith(`${r}/`));
  for (const [id, r] of state.records) {
    if ((r.kind === 'file' || r.kind === 'unit' || r.kind === 'binary') && inRoots(r.path)) assert.equal(after.get(r.path), `f ${r.sha256}`, `record ${id}`);
    if (r.kind === 'directory' && inRoots(r.path)) assert.equal(after.get(r.path), 'd', `record ${id}`);
  }
  // Spot checks of what the record says about the host before panel.
  const site = state.record('/etc/nginx/sites-enabled/default');
  assert.ok(site?.kind === 'file' && site.existed === false, 'the Debian default site did not exist before panel (panel wrote it before apt)');
  const faasd = state.record('/usr/local/bin/faasd');
  assert.ok(faasd?.kind === 'binary' && faasd.recipe === 'faasd' && faasd.existed === false && faasd.backup === null);
  assert.equal(state.record('/usr/local/bin/containerd')?.recipe, 'containerd');
  // The site's last writer: today the certificate recipe's switch to https (nginx wrote the http version).
  assert.ok(['nginx', 'certificate'].includes(state.record('/etc/nginx/conf.d/panel.conf')?.recipe ?? ''));
  assert.ok(state.record('/etc/panel/certs/state.panel.test/fullchain.pem')?.recipe === 'certificate');
  assert.deepEqual(state.data.pending, {}, 'no restart left pending after a successful install');
  assert.equal(state.record('link:openfaas0')?.kind, 'link');
  // Old layouts are gone: one record, one place.
  await sh('test ! -e /var/lib/panel/statcache && test ! -e /var/lib/panel/archives && test ! -e /var/lib/panel/pending-restart');
  await sh('test -z "$(ls -A /var/lib/panel/journal)"');
});

test('a broken nginx site is validated before the rename: the live file never changes, not even briefly', async () => {
  const live = await sh(`stat -c '%i %Y %Z' ${SITE_PATH}; sha256sum < ${SITE_PATH}`);
  const broken = mkdtempSync(join(work, 'tpl-'));
  copyFileSync(join(templatesDir, 'nginx-site.hbs'), join(broken, 'nginx-site.hbs'));
  writeFileSync(join(broken, 'nginx-site.hbs'), readFileSync(join(broken, 'nginx-site.hbs'), 'utf8').replace('ssl_session_tickets off;', 'ssl_session_tickets off;\n    proxy_pass_header;'));
  const config = { name: 'h', connection: { kind: 'local' as const }, groups: [], recipes: [], params: {}, domains: domainNames(NAME), acme: { directory: bed.acme.directory }, progressDir: '/var/lib/panel' };
  // The site resource with its default validator, planned and applied with the engine's own batch scripts.
  const site = new SiteResource({ ...siteSpec(config, { ipv6: host.ipv6 }, nginxParams.parse({})), templatesDir: broken });
  const facts = await bed.exec(host, 'bash -s', { input: factBatchScript([site.facts()], false) });
  const outs = parseFactBatch(facts.stdout, 1);
  assert.ok(outs.ok, outs.ok ? '' : outs.error);
  const changes = site.plan(site.parse(outs.value[0]!), { planned: [] });
  assert.equal(changes.length, 1);

  // A watcher on the host samples the live file (inode + content) as fast as it can while panel writes.
  await sh(`rm -f /run/panel-watch.*; (while [ ! -e /run/panel-watch.stop ]; do printf '%s %s\\n' "$(stat -c %i ${SITE_PATH})" "$(sha256sum < ${SITE_PATH} | cut -c1-64)"; done > /run/panel-watch.log) >/dev/null 2>&1 & sleep 0.3`);
  const applied = await bed.exec(host, 'bash -s', { input: applyScript(changes as (Change & { script: string })[], '', 'nginx') });
  await sh('touch /run/panel-watch.stop; sleep 0.3');
  const outcome = parseApply(applied.stdout, applied.stderr, applied.code, 1);
  assert.equal(outcome.failed?.index, 0, applied.stderr);
  assert.match(outcome.failed?.stderrTail ?? '', /invalid number of arguments in "proxy_pass_header"/);
  assert.match(applied.stderr, /validation failed for \/etc\/nginx\/conf\.d\/panel\.conf; the live file is unchanged/);

  // Same inode, same mtime and ctime, same content: never renamed over, never written, not even for a moment.
  assert.equal(await sh(`stat -c '%i %Y %Z' ${SITE_PATH}; sha256sum < ${SITE_PATH}`), live);
  const samples = new Set((await sh('cat /run/panel-watch.log')).split('\n').filter(Boolean));
  assert.equal(samples.size, 1, `the watcher saw only the original file: ${[...samples].join(' | ')}`);
  // No temp file or temporary main config left behind; nginx still serves the old site.
  assert.equal(await sh("find /etc/nginx -name '.panel-*' | wc -l"), '0\n');
  await sh('nginx -t 2>&1 && systemctl reload nginx && systemctl is-active nginx');
});
