/**
 * Uninstall and reinstall on real (nspawn) testbed hosts, through the CLI as
 * a user runs it, default parameters. NOTE: the faasd served by the mirror is
 * the testbed's STAND-IN (test/testbed/faasd-standin/main.ts); containerd and the
 * CNI plugins are Debian's. Before the final purge of A, real tasks run (the
 * gateway image in `openfaas`, a function in `openfaas-fn`, both on openfaas0,
 * pulled from the bed's registry); the earlier cases STAGE what a real faasd
 * leaves behind with real processes, files, mounts and iptables rules (`stage*`
 * below), each named as staged.
 *
 * Issue 11 "done when", two hosts in parallel:
 *  A (fresh): snapshot; install everything (stack, nginx, Pebble certificate);
 *    `--recipes faasd` empties and removes the OpenFaaS containerd namespaces
 *    (staged: a lease, a labelled namespace) and keeps the user's; uninstall
 *    without --purge keeps password and certificate, the next
 *    install reuses them (same password, same serial); `--recipes nginx`
 *    removes only the site, the stack still serves on 8080; `--purge` brings
 *    files, iptables-save and ip link back to the snapshot; twice = no change;
 *    the OS's /var/run/reboot-required is reported (exit 3).
 *  B (the user's own nginx site, /etc/cni/net.d file and systemd unit, nginx
 *    installed before panel): `--reinstall` on a host where containerd was
 *    killed with kill -9 while real tasks ran (their shims and processes gone
 *    after, the gateway answering; staged on top: a shim process, a stale
 *    socket, a rootfs still mounted under /run/containerd) converges at once; with a process
 *    holding that mount busy it reports "reboot required" (exit 3), and after
 *    a reboot the next `--reinstall` converges; a re-install over the running stack (faasd's tasks
 *    and a deployed function: panel.sh's path) converges with no reboot and the
 *    gateway answers; uninstall keeps the user's three files byte for byte and
 *    the package.
 */
import assert from 'node:assert/strict';
import { assertVerified } from '../support/verifies.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { startCoreAndFunctionTasks } from '../support/gateway-container.js';

let bed: Testbed;
const NAME = 'uninstall.panel.test';
const work = mkdtempSync(join(tmpdir(), 'panel-uninstall-it-'));

before(async () => {
  bed = await startTestbed({ hosts: 2, pebble: true });
  await bed.dns.add(NAME, bed.hosts[0]!.address);
});

after(async () => {
  await bed?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function sh(host: TestHost, cmd: string): Promise<string> {
  const r = await bed.exec(host, cmd, { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${host.name}: ${cmd}: ${r.stderr}`);
  return r.stdout;
}

/** Verifies of `install --recipes faasd,nginx` that must run and pass. */
const REINSTALL_VERIFIES = ['faasd-provider and faasd are active', 'nginx is active'];

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-4000)}`;
}

function cli(host: TestHost, cmd: readonly string[], extra: readonly string[] = []): Promise<CliRun> {
  return panel([...cmd, ...hostArgs(bed, host), ...mirrorArgs(bed), ...extra], { env: { XDG_CONFIG_HOME: work } });
}

const WEB = (host: TestHost): string[] => (host === bed.hosts[0] ? ['-d', NAME, '-m', 'ops@panel.test', '--acme-directory', bed.acme.directory, '--acme-ca', bed.acme.caFile] : []);

function changeCount(run: CliRun): number {
  return events(run).filter((e) => e.type === 'change' && e['status'] === 'applied').length;
}

function recap(run: CliRun): { status: string; rebootRequired: boolean; rebootPaths?: string[]; kept?: string[]; changed: number } {
  const r = events(run).find((e) => e.type === 'recap') as unknown as { hosts: Array<{ status: string; rebootRequired: boolean; rebootPaths?: string[]; kept?: string[]; changed: number }> };
  return r.hosts[0]!;
}

const ROOTS = '/etc /usr/local /opt /lib/systemd /var/lib';
const SNAPSHOT =
  `{ find ${ROOTS} -xdev -type f -exec sha256sum -- {} + | sed -E 's/^([0-9a-f]{64})  (.*)$/f \\2 \\1/'; ` +
  `find ${ROOTS} -xdev \\( -type l -printf 'l %p -> %l\\n' -o -type d -printf 'd %p\\n' \\); } 2>/dev/null | LC_ALL=C sort`;

/**
 * Left out of the comparison: databases and caches the OS updates itself
 * whatever is installed or removed, and panel's own record of the host
 * (reported as kept).
 */
const NOT_COMPARED: ReadonlyArray<readonly [RegExp, string]> = [
  [/^\/var\/lib\/panel(\/|$)/, "panel's record of the host, its journal, backups and progress log"],
  [/^\/var\/lib\/dpkg(\/|$)/, "dpkg's database"],
  [/^\/var\/lib\/apt(\/|$)/, "apt's lists and extended_states (cache)"],
  [/^\/var\/lib\/ucf(\/|$)/, "ucf's conffile registry (purge leaves its hash cache)"],
  [/^\/var\/lib\/systemd(\/|$)/, 'systemd: deb-systemd-helper state, timers, random seed'],
  [/^\/var\/lib\/(polkit-1|sudo|private|logrotate)(\/|$)/, 'daemons and timers of the base system running meanwhile'],
  [/^\/etc\/ld\.so\.cache$/, 'ldconfig cache'],
];

function compared(snapshot: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of snapshot.split('\n')) {
    if (line === '') continue;
    const kind = line[0];
    const rest = line.slice(2);
    const [path, what] =
      kind === 'f' ? [rest.slice(0, -65), `f ${rest.slice(-64)}`] : kind === 'l' ? [rest.slice(0, rest.indexOf(' -> ')), `l ${rest.slice(rest.indexOf(' -> ') + 4)}`] : [rest, 'd'];
    if (NOT_COMPARED.some(([re]) => re.test(path))) continue;
    m.set(path, what);
  }
  return m;
}

function differences(a: Map<string, string>, b: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of a) if (b.get(p) !== v) out.push(`${b.has(p) ? 'changed' : 'missing'} ${p}`);
  for (const p of b.keys()) if (!a.has(p)) out.push(`left ${p}`);
  return out;
}

const IPTABLES = "{ iptables-save -t nat; iptables-save -t filter; } 2>/dev/null | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]/[0:0]/'";
const LINKS = "ip -o link show | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort";

/**
 * iptables-save as on the fresh host. When it differs, what was running and
 * whether the difference was still there 5 s later go in the message: a
 * chain that appears after the uninstall returned was made by a process
 * that outlived it.
 */
async function assertIptablesAsFresh(host: TestHost, fresh: string, when: string): Promise<void> {
  const now = await sh(host, IPTABLES);
  if (now === fresh) return;
  const seen = await sh(host, 'ps -eo pid,ppid,etimes,args --sort=start_time | tail -n 40; ls -la /etc/cni/net.d 2>&1; journalctl -q -n 30 --no-pager 2>&1 | tail -n 30; true');
  const later = await sh(host, `sleep 5; ${IPTABLES}`);
  assert.equal(now, fresh, `iptables-save as on the fresh host (${when}); 5 s later ${later === fresh ? 'as on the fresh host' : `still:\n${later}`}\n${seen}`);
}

/** STAGED: what a real faasd's functions leave in the kernel when their tasks were killed (CNI DEL never ran). */
async function stageCniLeftovers(host: TestHost): Promise<void> {
  await sh(
    host,
    [
      'iptables -t nat -N CNI-5f2c1d0e9a8b7c6d5e4f3a2b',
      `iptables -t nat -A CNI-5f2c1d0e9a8b7c6d5e4f3a2b -d 10.62.0.0/16 -m comment --comment 'name: "openfaas-cni-bridge" id: "staged-figlet"' -j ACCEPT`,
      `iptables -t nat -A CNI-5f2c1d0e9a8b7c6d5e4f3a2b ! -d 224.0.0.0/4 -m comment --comment 'name: "openfaas-cni-bridge" id: "staged-figlet"' -j MASQUERADE`,
      `iptables -t nat -A POSTROUTING -s 10.62.200.7/32 -m comment --comment 'name: "openfaas-cni-bridge" id: "staged-figlet"' -j CNI-5f2c1d0e9a8b7c6d5e4f3a2b`,
      // faasd's own tasks may have made the firewall plugin's chains already.
      `{ iptables -S CNI-FORWARD >/dev/null 2>&1 || { iptables -N CNI-FORWARD && iptables -N CNI-ADMIN && iptables -I FORWARD 1 -m comment --comment 'CNI firewall plugin rules' -j CNI-FORWARD && iptables -A CNI-FORWARD -m comment --comment 'CNI firewall plugin admin overrides' -j CNI-ADMIN; }; }`,
      'iptables -A CNI-FORWARD -d 10.62.200.7/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      'iptables -A CNI-FORWARD -s 10.62.200.7/32 -j ACCEPT',
      'mkdir -p /var/run/cni/openfaas-cni-bridge /var/lib/cni/results',
      'echo staged-figlet > /var/run/cni/openfaas-cni-bridge/10.62.200.7',
      'echo "{}" > /var/lib/cni/results/openfaas-cni-bridge-staged-figlet-eth1',
    ].join(' && '),
  );
}

/** STAGED: a containerd-shim-runc-v2 of openfaas-fn that outlived containerd (perl renames its own command line). */
async function stageShim(host: TestHost): Promise<string> {
  const pid = await sh(
    host,
    `setsid perl -e '$0 = "/usr/local/bin/containerd-shim-runc-v2 -namespace openfaas-fn -id staged-figlet -address /run/containerd/containerd.sock"; sleep 100000' >/dev/null 2>&1 </dev/null & echo $!`,
  );
  return pid.trim();
}

describe('uninstall and reinstall', { concurrency: 2 }, () => {
  test('A: purge brings the fresh host back; without purge the password and certificate are reused; --recipes nginx keeps the stack', async () => {
    const host = bed.hosts[0]!;
    // The testbed's base has no iptables: installed BEFORE the snapshot so that
    // iptables-save can be compared (and it must stay: a package panel found).
    await sh(host, 'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q iptables >/dev/null && iptables-save -t filter | grep -q "^:FORWARD"');
    const files0 = compared(await sh(host, SNAPSHOT));
    const ipt0 = await sh(host, IPTABLES);
    const links0 = await sh(host, LINKS);
    const pkgs0 = await sh(host, "dpkg-query -W -f='${Package}\\n' | sort");

    // A host panel never touched: nothing to do, and it says so.
    const untouched = await cli(host, ['uninstall', '--json', '--yes']);
    assert.equal(untouched.code, 0, explain(untouched));
    assert.equal(changeCount(untouched), 0);
    assert.equal(recap(untouched).status, 'ok');

    const install = ['install', '--recipes', 'faasd,nginx,certificate', '--json', '--yes', ...WEB(host)];
    const first = await cli(host, install);
    assert.equal(first.code, 0, explain(first));
    const password = await sh(host, 'sha256sum < /var/lib/faasd/secrets/basic-auth-password');
    const serial = async (): Promise<string> => sh(host, `openssl x509 -noout -serial -in "$(ls -d /etc/panel/certs/*/ | head -n 1)fullchain.pem"`);
    const serial0 = await serial();

    await stageCniLeftovers(host);
    const shim = await stageShim(host);

    const dry = await cli(host, ['uninstall', '--dry-run', '--json']);
    assert.equal(dry.code, 0, explain(dry));
    assert.ok(events(dry).some((e) => e.type === 'change' && (e['change'] as { target: string }).target === '/usr/local/bin/faasd'));
    await sh(host, 'test -x /usr/local/bin/faasd && systemctl is-active faasd');

    // STAGED: what faasd leaves in containerd (namespaces with a lease; one labelled openfaas); a namespace of the user's own stays.
    await sh(
      host,
      [
        '{ ctr namespaces create openfaas 2>/dev/null || true; }',
        '{ ctr namespaces create openfaas-fn 2>/dev/null || true; }',
        'ctr -n openfaas-fn leases create --id staged-lease >/dev/null',
        'ctr namespaces create staged-extra',
        'ctr namespaces label staged-extra openfaas=true',
        'ctr namespaces create mine',
      ].join(' && '),
    );
    const faasdOnly = await cli(host, ['uninstall', '--recipes', 'faasd', '--json', '--yes']);
    assert.equal(faasdOnly.code, 0, explain(faasdOnly));
    assert.equal(await sh(host, 'ctr namespaces ls -q | sort | tr "\\n" " "'), 'mine ', `the OpenFaaS namespaces are emptied and removed, the user's stays: ${await sh(host, 'for w in images containers snapshots content leases; do echo "== $w"; ctr -n openfaas $w ls 2>&1 | head -5; done; true')}`);
    await sh(host, 'systemctl is-active containerd && test ! -e /usr/local/bin/faasd');

    const keep = await cli(host, ['uninstall', '--json', '--yes']);
    assert.equal(keep.code, 0, explain(keep));
    const kept = recap(keep).kept ?? [];
    assert.ok(kept.includes('/var/lib/faasd'), kept.join(', '));
    assert.ok(kept.includes('/etc/panel'), kept.join(', '));
    const left = await sh(host, 'for p in /usr/local/bin/faasd /usr/local/bin/containerd /run/containerd /var/lib/containerd /etc/cni/net.d/10-openfaas.conflist; do [ -e $p ] && echo $p; done; ip -o link show openfaas0 2>/dev/null; true');
    assert.equal(left, '', `left after uninstall: ${left}\n${explain(keep)}`);
    assert.equal(await sh(host, `kill -0 ${shim} 2>/dev/null && echo alive || echo gone`), 'gone\n', 'the staged shim was killed by pid');
    assert.equal(await sh(host, `iptables-save | grep -c 'openfaas-cni-bridge\\|CNI-' || true`), '0\n', 'staged CNI rules and chains removed');
    await assertIptablesAsFresh(host, ipt0, 'after uninstall');
    await sh(host, 'test ! -e /var/run/cni/openfaas-cni-bridge && test ! -e /var/lib/cni');

    const twice = await cli(host, ['uninstall', '--json', '--yes']);
    assert.equal(twice.code, 0, explain(twice));
    assert.equal(changeCount(twice), 0, explain(twice));

    const again = await cli(host, install);
    assert.equal(again.code, 0, explain(again));
    assert.equal(await sh(host, 'sha256sum < /var/lib/faasd/secrets/basic-auth-password'), password, 'same faasd password after uninstall + install');
    assert.equal(await serial(), serial0, 'same certificate serial after uninstall + install');

    const nginxOnly = await cli(host, ['uninstall', '--recipes', 'nginx', '--json', '--yes']);
    assert.equal(nginxOnly.code, 0, explain(nginxOnly));
    await sh(host, 'test ! -e /etc/nginx/conf.d/panel.conf');
    assert.equal(await sh(host, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz"), '200', 'the stack still serves on 8080');
    await sh(host, 'systemctl is-active faasd faasd-provider containerd');

    // Real tasks, not staged: the gateway image as a core service and a function, both on openfaas0.
    const shims = await startCoreAndFunctionTasks((cmd, o) => bed.exec(host, cmd, o));
    assert.ok(shims.length >= 2, `no shims for the running tasks: ${shims.join(' ')}`);
    assert.notEqual(await sh(host, `iptables-save -t nat | grep -c '^:CNI-' || true`), '0\n', 'the tasks have no CNI chains: nothing real to remove');
    const purge = await cli(host, ['uninstall', '--purge', '--json', '--yes']);
    assert.equal(purge.code, 0, explain(purge));
    assert.equal(await sh(host, 'pgrep -a -f "[c]ontainerd-shim" || true'), '', 'a shim survived');
    assert.equal(await sh(host, `awk '$2 ~ "^/(run|var/lib)/containerd" { print $2 }' /proc/self/mounts`), '', 'a snapshot or rootfs mount survived');
    assert.deepEqual(differences(files0, compared(await sh(host, SNAPSHOT))), [], 'files as on the fresh host');
    await assertIptablesAsFresh(host, ipt0, 'after uninstall --purge');
    assert.equal(await sh(host, LINKS), links0, 'ip link as on the fresh host');
    assert.equal(await sh(host, "dpkg-query -W -f='${Package}\\n' | sort"), pkgs0, 'the same packages as on the fresh host');
    const purgeTwice = await cli(host, ['uninstall', '--purge', '--json', '--yes']);
    assert.equal(changeCount(purgeTwice), 0, explain(purgeTwice));

    // The OS's own request for a reboot is reported like panel's: recap and exit code.
    await sh(host, 'touch /var/run/reboot-required');
    const os = await cli(host, ['uninstall', '--json', '--yes']);
    assert.equal(os.code, 3, explain(os));
    assert.deepEqual(recap(os).rebootPaths, ['/var/run/reboot-required']);
    assert.equal(changeCount(os), 0);
  });

  test("B: the user's own nginx site, CNI file and unit survive; --reinstall after containerd was killed mid-task", async () => {
    const host = bed.hosts[1]!;
    const USER_FILES = '/etc/nginx/sites-enabled/mine /etc/cni/net.d/50-mine.conflist /etc/systemd/system/mine.service';
    await sh(
      host,
      [
        'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx >/dev/null',
        "printf 'server {\\n  listen 127.0.0.1:8888;\\n  return 204;\\n}\\n' > /etc/nginx/sites-enabled/mine",
        'mkdir -p /etc/cni/net.d',
        `printf '{"cniVersion":"0.4.0","name":"mine","plugins":[{"type":"loopback"}]}\\n' > /etc/cni/net.d/50-mine.conflist`,
        "printf '[Unit]\\nDescription=mine\\n[Service]\\nExecStart=/bin/sleep infinity\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/mine.service",
        'systemctl daemon-reload && systemctl reload nginx',
      ].join(' && '),
    );
    const mine = await sh(host, `sha256sum ${USER_FILES}`);
    const link = 'readlink /etc/nginx/sites-enabled/default || echo not-a-link';
    const debianDefault = await sh(host, link);

    const install = ['install', '--recipes', 'faasd,nginx', '--json', '--yes'];
    const first = await cli(host, install);
    assert.equal(first.code, 0, explain(first));

    // Real tasks running (the gateway image in openfaas, a function in openfaas-fn), then containerd killed with
    // kill -9: their shims, task processes, rootfs mounts and CNI state stay behind, as after a crash.
    const realShims = await startCoreAndFunctionTasks((cmd, o) => bed.exec(host, cmd, o));
    const taskPids = await sh(host, 'pgrep -x gateway; pgrep -x function; true');
    await sh(host, 'kill -9 "$(cat /proc/$(systemctl show -p MainPID --value containerd)/stat | cut -d" " -f1)"; sleep 1');
    assert.equal(await sh(host, `pgrep -x gateway >/dev/null && pgrep -x function >/dev/null && echo running`), 'running\n', 'the tasks did not outlive containerd');
    // STAGED on top: a shim of a task that never existed, a stale socket and a rootfs still mounted under /run/containerd.
    let shim = await stageShim(host);
    const busy = '/run/containerd/io.containerd.runtime.v2.task/openfaas-fn/staged-figlet/rootfs';
    await sh(
      host,
      [
        `mkdir -p /run/containerd/s ${busy} && mount -t tmpfs staged ${busy}`,
        `perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "/run/containerd/s/staged-stale", Listen => 1) or die $!'`,
        `test -S /run/containerd/s/staged-stale`,
      ].join(' && '),
    );
    // Nothing holds the mount: --reinstall frees it all and ends converged, no reboot.
    const freed = await cli(host, ['install', '--reinstall', '--recipes', 'faasd,nginx', '--json', '--yes']);
    assert.equal(freed.code, 0, explain(freed));
    assert.equal(recap(freed).rebootRequired, false);
    assertVerified(freed, REINSTALL_VERIFIES, { explain: explain(freed) });
    assert.equal(await sh(host, `kill -0 ${shim} 2>/dev/null && echo alive || echo gone`), 'gone\n', 'the staged shim was killed by pid');
    // faasd's new tasks have their own rootfs mounts there: only the staged one must be gone.
    await sh(host, `! grep -q ' ${busy} ' /proc/self/mounts && test ! -e /run/containerd/s/staged-stale`);
    for (const pid of realShims) assert.equal(await sh(host, `kill -0 ${pid} 2>/dev/null && echo alive || echo gone`), 'gone\n', `real shim ${pid} survived --reinstall`);
    // The task processes that outlived containerd are gone; faasd's new gateway (one) answers.
    for (const pid of taskPids.split('\n').filter(Boolean)) assert.equal(await sh(host, `kill -0 ${pid} 2>/dev/null && echo alive || echo gone`), 'gone\n', `task process ${pid} survived --reinstall`);
    assert.equal(await sh(host, 'pgrep -a -x function; true'), '', 'a function task survived --reinstall');
    assert.match(await sh(host, 'ctr -n openfaas tasks ls'), /^gateway\s+\d+\s+RUNNING/m);
    assert.equal(await sh(host, "for i in $(seq 100); do curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/healthz && break; sleep 0.2; done; curl -sS -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:8080/healthz"), '200');
    assert.equal(await sh(host, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz"), '200', 'the gateway answers again');

    // STAGED again, this time with a process holding the mount busy: only a reboot frees it.
    await sh(host, 'systemctl kill -s KILL containerd; sleep 1');
    shim = await stageShim(host);
    await sh(
      host,
      [
        `mkdir -p ${busy} && mount -t tmpfs staged ${busy}`,
        `{ setsid sh -c 'cd "$1" && exec sleep 100000' holder ${busy} >/dev/null 2>&1 </dev/null & }`,
        'sleep 0.5',
      ].join(' && '),
    );

    const stuck = await cli(host, ['install', '--reinstall', '--recipes', 'faasd,nginx', '--json', '--yes']);
    assert.equal(stuck.code, 3, explain(stuck));
    assert.ok(recap(stuck).rebootPaths?.includes(`${busy} (busy)`), explain(stuck));
    assert.equal(await sh(host, `kill -0 ${shim} 2>/dev/null && echo alive || echo gone`), 'gone\n', 'the staged shim was killed by pid');

    await bed.restart(host);
    const done = await cli(host, ['install', '--reinstall', '--recipes', 'faasd,nginx', '--json', '--yes']);
    assert.equal(done.code, 0, explain(done));
    assert.equal(recap(done).rebootRequired, false);
    assertVerified(done, REINSTALL_VERIFIES, { explain: explain(done) });
    // faasd's new tasks have their own rootfs mounts there: only the staged one must be gone.
    await sh(host, `! grep -q ' ${busy} ' /proc/self/mounts && test ! -e /run/containerd/s/staged-stale`);

    // panel.sh's path: a re-install over a running stack, a deployed function's task among faasd's own,
    // converges with no reboot, and the new gateway answers.
    const runningShims = await startCoreAndFunctionTasks((cmd, o) => bed.exec(host, cmd, o));
    const converged = await cli(host, ['install', '--reinstall', '--recipes', 'faasd,nginx', '--json', '--yes']);
    assert.equal(converged.code, 0, explain(converged));
    assert.equal(recap(converged).rebootRequired, false);
    assertVerified(converged, REINSTALL_VERIFIES, { explain: explain(converged) });
    for (const pid of runningShims) assert.equal(await sh(host, `kill -0 ${pid} 2>/dev/null && echo alive || echo gone`), 'gone\n', `shim ${pid} of the running stack survived --reinstall`);
    assert.equal(await sh(host, "for i in $(seq 100); do curl -sf -m 2 -o /dev/null http://127.0.0.1:8080/healthz && break; sleep 0.2; done; curl -sS -o /dev/null -m 5 -w '%{http_code}' http://127.0.0.1:8080/healthz"), '200');
    assert.equal(await sh(host, `sha256sum ${USER_FILES}`), mine);

    const off = await cli(host, ['uninstall', '--json', '--yes']);
    assert.equal(off.code, 0, explain(off));
    assert.equal(await sh(host, `sha256sum ${USER_FILES}`), mine, "the user's files byte for byte");
    assert.equal(await sh(host, link), debianDefault, "Debian's default site link restored");
    await sh(host, "dpkg-query -W -f='${Status}' nginx | grep -q ' installed$' && systemctl is-active nginx && nginx -t 2>&1");
    // curl went with the packages panel installed: bash's /dev/tcp asks instead.
    assert.match(await sh(host, "exec 3<>/dev/tcp/127.0.0.1/8888; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3; head -n 1 <&3"), /^HTTP\/1\.1 204/, "the user's site still serves");
  });
});
