/**
 * Issue 20: uninstall loses nothing the user made, and the host record
 * survives its faults. One bed, two Debian 12 hosts in parallel, through the
 * CLI as a user runs it. NOTE: the faasd served by the mirror is the
 * testbed's STAND-IN (test/testbed/faasd-standin/main.ts).
 *
 *  A (nginx, panel's packages): the user's own site (conf.d/mysite.conf,
 *    listen 8088) and a package of the user's that needs curl (`fetchit`, a
 *    real .deb built on the host with dpkg-deb, `Depends: curl`, installed
 *    with apt). `uninstall --dry-run` names every decision; `uninstall` and
 *    `uninstall --remove-packages` leave nginx serving the site and curl
 *    installed, and name why; a site file panel owns that the user edited
 *    stays (no --purge) or goes to kept/ (--purge); with --purge nginx stays
 *    and the recap names mysite.conf; with --purge --force mysite.conf is in
 *    kept/ and nginx is purged; curl stays in every mode; twice = 0 changes.
 *  B (the stack, the record): prometheus.yml edited by the user is moved to
 *    kept/ by `uninstall --purge`; a full file system during the record's
 *    merge (tmpfs over /var/lib/panel, filled; its journal and backups on
 *    roomy tmpfs of their own, so only the merge meets the full disk) is one
 *    error line naming state.json, the record unchanged; a truncated
 *    state.json: install converges with a warning naming file:line:col,
 *    uninstall refuses with it, `--rebuild-record` rebuilds and removes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseHostState } from '../../src/engine/state.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';

let bed: Testbed;
const work = tempDir('panel-uninstall-keeps-');

before(async () => {
  bed = await startTestbed({ hosts: 2 });
});

after(async () => {
  await bed?.stop();
});

async function sh(host: TestHost, cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${host.name}: ${cmd}: ${r.stderr}`);
  return r.stdout;
}

const explain = (run: CliRun): string => `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-4000)}`;

function cli(host: TestHost, cmd: readonly string[]): Promise<CliRun> {
  return panel([...cmd, ...hostArgs(bed, host), ...mirrorArgs(bed), '--json'], { env: { PANEL_STATE_DIR: work } });
}

const applied = (run: CliRun): number => events(run).filter((e) => e.type === 'change' && e['status'] === 'applied').length;
const planned = (run: CliRun): string[] => events(run).flatMap((e) => (e.type === 'change' && e['status'] === 'planned' ? [String((e['change'] as { summary: string }).summary)] : []));
const hostResult = (run: CliRun): { status: string; notes?: string[]; error?: string; warnings?: string[] } =>
  (events(run).find((e) => e.type === 'recap') as unknown as { hosts: Array<{ status: string; notes?: string[]; error?: string; warnings?: string[] }> }).hosts[0]!;
const notes = (run: CliRun): string[] => hostResult(run).notes ?? [];
const has = (run: CliRun, re: RegExp): void => assert.ok(notes(run).some((n) => re.test(n)), `no note ${re}:\n${notes(run).join('\n')}\n${explain(run)}`);

const MYSITE = '/etc/nginx/conf.d/mysite.conf';
const PANEL_SITE = '/etc/nginx/conf.d/panel.conf';
const KEPT = '/var/lib/panel/kept';
const installed = (pkg: string): string => `dpkg-query -W -f='\${Status}' ${pkg} 2>/dev/null | grep -q ' installed$'`;
const serves = "exec 3<>/dev/tcp/127.0.0.1/8088; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3";

describe('uninstall keeps what the user made', { concurrency: 2 }, () => {
  test("A: the user's nginx site and the user's package that needs curl keep their packages in every mode; --purge --force copies the site to kept/", async () => {
    const host = bed.hosts[0]!;
    const install = ['install', '--recipes', 'nginx', '--yes'];
    const first = await cli(host, install);
    assert.equal(first.code, 0, explain(first));
    // The user's own site, and a package of theirs that needs curl (installed by panel's base recipe).
    await sh(
      host,
      [
        `printf 'server {\\n  listen 8088;\\n  location / { return 200 "mysite\\\\n"; }\\n}\\n' > ${MYSITE}`,
        'nginx -t 2>/dev/null && systemctl reload nginx',
        'd=$(mktemp -d) && mkdir -p $d/DEBIAN $d/usr/local/bin',
        `printf 'Package: fetchit\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: user <user@example.org>\\nDepends: curl\\nDescription: a tool of the user that needs curl\\n' > $d/DEBIAN/control`,
        `printf '#!/bin/sh\\nexec curl -fsS "$@"\\n' > $d/usr/local/bin/fetchit && chmod 755 $d/usr/local/bin/fetchit`,
        'dpkg-deb -b $d /root/fetchit.deb >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /root/fetchit.deb >/dev/null 2>&1',
      ].join(' && '),
    );
    assert.match(await sh(host, serves), /mysite/);
    const site = await sh(host, `sha256sum ${MYSITE}`);
    const stays = async (why: string): Promise<void> => {
      await sh(host, `${installed('nginx')} && ${installed('curl')} && ${installed('fetchit')}`);
      assert.equal(await sh(host, `sha256sum ${MYSITE}`), site, why);
      assert.match(await sh(host, serves), /mysite/, `${why}: nginx still serves the user's site`);
    };

    // A site file panel owns, edited by the user.
    await sh(host, `echo '# the user was here' >> ${PANEL_SITE}`);
    const dry = await cli(host, ['uninstall', '--dry-run']);
    assert.equal(dry.code, 0, explain(dry));
    has(dry, /^package nginx: installed by panel, kept .*\/etc\/nginx\/conf\.d\/mysite\.conf is neither panel's nor the package's/);
    has(dry, /^package curl: installed by panel, kept .*needed by fetchit/);
    has(dry, new RegExp(`^${PANEL_SITE}: changed since panel wrote it: left in place`));
    assert.ok(!planned(dry).some((s) => s.startsWith('remove ')), planned(dry).join('\n'));

    const plain = await cli(host, ['uninstall', '--yes']);
    assert.equal(plain.code, 0, explain(plain));
    await stays('uninstall');
    assert.match(await sh(host, `cat ${PANEL_SITE}`), /the user was here/, 'the edited site file panel owns stays where it is');
    has(plain, new RegExp(`^${PANEL_SITE}: changed since panel wrote it`));
    const twice = await cli(host, ['uninstall', '--yes']);
    assert.equal(applied(twice), 0, explain(twice));

    assert.equal((await cli(host, install)).code, 0);
    const removePackages = await cli(host, ['uninstall', '--remove-packages', '--yes']);
    assert.equal(removePackages.code, 0, explain(removePackages));
    await stays('uninstall --remove-packages');
    has(removePackages, /^package nginx: kept: \/etc\/nginx\/conf\.d\/mysite\.conf is neither panel's nor the package's/);
    has(removePackages, /^package curl: kept: needed by fetchit/);
    await sh(host, `! ${installed('runc')} && ! ${installed('bridge-utils')} && test ! -e ${PANEL_SITE}`);
    const removeTwice = await cli(host, ['uninstall', '--remove-packages', '--yes']);
    assert.equal(applied(removeTwice), 0, explain(removeTwice));
    has(removeTwice, /^package bridge-utils: removed earlier, its configuration files kept \(--purge purges them\)$/);

    assert.equal((await cli(host, install)).code, 0);
    await sh(host, `echo '# the user was here again' >> ${PANEL_SITE}`);
    const purge = await cli(host, ['uninstall', '--purge', '--yes']);
    assert.equal(purge.code, 0, explain(purge));
    await stays('uninstall --purge');
    has(purge, /^package nginx: kept: \/etc\/nginx\/conf\.d\/mysite\.conf is neither panel's nor the package's/);
    has(purge, new RegExp(`^${PANEL_SITE}: changed since panel wrote it: moved to ${KEPT}${PANEL_SITE}$`));
    assert.match(await sh(host, `test ! -e ${PANEL_SITE} && cat ${KEPT}${PANEL_SITE}`), /the user was here again/);

    assert.equal((await cli(host, install)).code, 0);
    const force = await cli(host, ['uninstall', '--purge', '--force', '--yes']);
    assert.equal(force.code, 0, explain(force));
    has(force, new RegExp(`^${MYSITE}: not panel's nor package nginx's: copied to ${KEPT}${MYSITE}`));
    assert.equal(await sh(host, `cd ${KEPT} && sha256sum .${MYSITE} | sed 's| \\./| /|'`), site, 'the site is in kept/ byte for byte');
    await sh(host, `! ${installed('nginx')} && ${installed('curl')} && ${installed('fetchit')}`);
    has(force, /^package curl: kept: needed by fetchit/);
    const again = await cli(host, ['uninstall', '--purge', '--force', '--yes']);
    assert.equal(applied(again), 0, explain(again));
  });

  test('B: prometheus.yml edited by the user goes to kept/; a full disk at the merge and a truncated state.json never lose the record', async () => {
    const host = bed.hosts[1]!;
    const install = ['install', '--recipes', 'faasd', '--yes'];
    assert.equal((await cli(host, install)).code, 0);
    await sh(host, "echo '# scrape my own job too' >> /var/lib/faasd/prometheus.yml");
    const purge = await cli(host, ['uninstall', '--purge', '--yes']);
    assert.equal(purge.code, 0, explain(purge));
    has(purge, new RegExp(`^/var/lib/faasd/prometheus\\.yml: changed since panel wrote it: moved to ${KEPT}/var/lib/faasd/prometheus\\.yml$`));
    assert.match(await sh(host, `test ! -e /var/lib/faasd && cat ${KEPT}/var/lib/faasd/prometheus.yml`), /scrape my own job too/);

    const first = await cli(host, install);
    assert.equal(first.code, 0, explain(first));
    // A full /var/lib/panel when the record is merged (its journal and backups on file systems of their own).
    await sh(
      host,
      [
        'cp /var/lib/panel/state.json /root/state.saved',
        'mount -t tmpfs -o size=$(( $(stat -c %s /root/state.saved) / 1024 + 24 ))k panel-fault /var/lib/panel',
        'cp /root/state.saved /var/lib/panel/state.json',
        'mkdir /var/lib/panel/journal /var/lib/panel/backups',
        'mount -t tmpfs panel-journal /var/lib/panel/journal && mount -t tmpfs panel-backups /var/lib/panel/backups',
        'dd if=/dev/zero of=/var/lib/panel/.fill bs=1k 2>/dev/null || true',
        "echo 'nameserver 192.0.2.53' >> /var/lib/faasd/resolv.conf",
      ].join(' && '),
    );
    try {
      const record = await sh(host, 'sha256sum < /var/lib/panel/state.json');
      const full = await cli(host, install);
      assert.equal(full.code, 1, explain(full));
      const error = hostResult(full).error ?? '';
      assert.equal(error.split('\n').length, 1, error);
      assert.match(error, new RegExp(`^root@${host.address.replace(/\./g, '\\.')}:22: panel: writing /var/lib/panel/state\\.json failed: .*No space left on device\\)?; the previous record is unchanged$`));
      assert.equal(await sh(host, 'sha256sum < /var/lib/panel/state.json'), record, 'the record is unchanged');
      await sh(host, 'rm /var/lib/panel/.fill');
      const freed = await cli(host, install);
      assert.equal(freed.code, 0, explain(freed));
      await sh(host, 'cp /var/lib/panel/state.json /root/state.saved');
    } finally {
      await sh(host, 'umount /var/lib/panel/journal /var/lib/panel/backups; umount /var/lib/panel');
    }
    // The record as the freed run left it, cut off in the middle of a line.
    await sh(host, 'head -c $(( $(stat -c %s /root/state.saved) * 2 / 3 )) /root/state.saved > /var/lib/panel/state.json');

    const cut = await cli(host, install);
    assert.equal(cut.code, 0, explain(cut));
    const warned = (hostResult(cut).warnings ?? []).find((w) => /^\/var\/lib\/panel\/state\.json:\d+:\d+: /.test(w));
    assert.ok(warned, explain(cut));

    const refused = await cli(host, ['uninstall', '--yes']);
    assert.equal(refused.code, 1, explain(refused));
    assert.match(hostResult(refused).error ?? '', /\/var\/lib\/panel\/state\.json:\d+:\d+: .*uninstall removes nothing .*--rebuild-record/);
    await sh(host, 'systemctl is-active faasd && test -x /usr/local/bin/faasd');

    const shown = await cli(host, ['uninstall', '--rebuild-record', '--dry-run']);
    assert.equal(shown.code, 0, explain(shown));
    assert.match(planned(shown)[0] ?? '', /^update \/var\/lib\/panel\/state\.json \(rebuilt from its \d+ readable entries; \d+ unreadable lines? dropped/, planned(shown).join('\n'));
    const rebuilt = await cli(host, ['uninstall', '--rebuild-record', '--yes']);
    assert.equal(rebuilt.code, 0, explain(rebuilt));
    const record = parseHostState(await sh(host, 'cat /var/lib/panel/state.json'));
    assert.ok(record.ok, record.ok ? '' : record.error);
    const twice = await cli(host, ['uninstall', '--yes']);
    assert.equal(twice.code, 0, explain(twice));
    assert.equal(applied(twice), 0, explain(twice));
  });
});
