/**
 * Issue 28, lifetimes: 45-day, 64-day and 160-hour certificates issued by a
 * real Pebble whose validity is set to match, through panel (`--acme-profile`).
 * One Pebble gives all three lifetimes through ACME profiles, which need
 * Pebble ≥ 2.7.0: Debian sid's (2.10.0; bookworm has 2.4.0, trixie 2.6.0),
 * taken from its .deb by the testbed (pebble.ts). For each certificate as
 * the host has it: its lifetime is the profile's; panel's plan (what
 * `renew`, the timer and `check` decide) and the status page turn due at the
 * same moment, ⅓ of the lifetime left for 45 and 64 days, ½ for 160 hours,
 * and not a minute before; a renew right after issuance orders nothing.
 */
import assert from 'node:assert/strict';
import { test, before, after } from 'node:test';
import { CertificateResource } from '../../src/acme/certificate.js';
import { parseCertificate, renewalTime, type CertInfo } from '../../src/acme/cert-info.js';
import { renderStatusPage, statusData } from '../../src/status/page.js';
import { domainNames } from '../../src/validate/domain.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { DNS_PORT } from '../testbed/pebble.js';

/** The parsed certificate; the test fails when it cannot be read. */
function certOf(pem: string): CertInfo {
  const r = parseCertificate(pem);
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

const DAY = 86_400;
/** Profile → lifetime (s) and the share left at renewal. */
const LIFETIMES = [
  { profile: 'tlsserver', name: 'l45.panel.test', seconds: 45 * DAY, left: 1 / 3, words: 'a third' },
  { profile: 'classic', name: 'l64.panel.test', seconds: 64 * DAY, left: 1 / 3, words: 'a third' },
  { profile: 'shortlived', name: 'l160h.panel.test', seconds: 160 * 3600, left: 1 / 2, words: 'half' },
] as const;

let bed: Testbed;
let host: TestHost;
const env = { XDG_CONFIG_HOME: tempDir('panel-acme-life-') };

before(async () => {
  bed = await startTestbed({
    hosts: 1,
    ipv6: [false],
    pebble: { release: 'sid', profiles: Object.fromEntries(LIFETIMES.map((l) => [l.profile, { validitySeconds: l.seconds }])) },
  });
  host = bed.hosts[0]!;
  for (const l of LIFETIMES) await bed.dns.add(l.name, host.address);
});

after(async () => {
  await bed?.stop();
});

function args(cmd: string, name: string, profile: string, recipes: string): string[] {
  return [
    cmd,
    ...hostArgs(bed, host),
    ...mirrorArgs(bed),
    '-d', name,
    '--acme-directory', bed.acme.directory,
    '--acme-ca', bed.acme.caFile,
    '--acme-resolver', `${bed.bridgeAddress}:${DNS_PORT}`,
    '--acme-profile', profile,
    '--json',
    ...(recipes ? ['--recipes', recipes] : []),
    ...(cmd === 'install' ? ['--yes'] : []),
  ];
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

const applied = (run: CliRun) => events(run).filter((e) => e.type === 'change' && e['status'] === 'applied');

test('45-day, 64-day and 160-hour certificates from Pebble profiles: lifetime as configured, plan and status page due at ⅓ / ⅓ / ½ left, not before', async () => {
  for (const [i, l] of LIFETIMES.entries()) {
    // The first one with the nginx site (its challenge location); the others as renewals of absent certificates.
    const run = await panel(i === 0 ? args('install', l.name, l.profile, 'nginx,certificate') : args('renew', l.name, l.profile, ''), { env });
    assert.equal(run.code, 0, `${l.profile}: ${explain(run)}`);
    const r = await bed.exec(host, `cat /etc/panel/certs/${l.name}/fullchain.pem`);
    assert.equal(r.code, 0, r.stderr);
    const info = certOf(r.stdout);
    assert.equal(typeof info, 'object');
    // Pebble's validity period: notAfter = notBefore + period - 1 s (inclusive).
    const lifetime = (info.notAfter.getTime() - info.notBefore.getTime()) / 1000;
    assert.ok(Math.abs(lifetime - l.seconds) <= 1, `${l.profile}: lifetime ${lifetime} s, wanted ${l.seconds}`);

    const again = await panel(args('renew', l.name, l.profile, ''), { env });
    assert.equal(again.code, 0, explain(again));
    assert.deepEqual(applied(again), [], `${l.profile}: a fresh certificate is not renewed`);

    const due = renewalTime(info);
    const span = info.notAfter.getTime() - info.notBefore.getTime();
    assert.ok(Math.abs(info.notAfter.getTime() - due.getTime() - span * l.left) <= 1, `${l.profile}: due at ${l.words} left (Date has whole ms)`);
    const config = { name: 'web', connection: { kind: 'local' as const }, groups: [], recipes: [], params: {}, domains: domainNames(l.name), acme: { directory: bed.acme.directory }, progressDir: '/var/lib/panel' };
    const result = { host: 'web', status: 'changed' as const, ok: 0, changed: 0, failed: 0, failedChecks: 0, rebootRequired: false, durationMs: 1, roundTrips: 1 };
    const facts = [`cert=${Buffer.from(r.stdout).toString('base64')}`, 'key=1', `directory=${Buffer.from(`${bed.acme.directory}\n`).toString('base64')}`, 'installed=0', 'enabled=0'].join('\n') + '\n';
    for (const [now, isDue] of [[new Date(due.getTime() - 60_000), false], [due, true]] as const) {
      const res = new CertificateResource({ names: [l.name], acme: { directory: bed.acme.directory }, now: () => now });
      const cs = res.plan(res.parse({ stdout: facts, code: 0 }), { planned: [] });
      assert.equal(cs.length, isDue ? 1 : 0, `${l.profile} at ${now.toISOString()}`);
      if (isDue) assert.match(cs[0]!.reason, new RegExp(`less than ${l.words} of its lifetime left`));
      const page = renderStatusPage(statusData({ config, recipes: [] } as never, result, [], r.stdout, now));
      assert.equal(page.includes('id="cert-overdue"'), isDue, `${l.profile}: status page at ${now.toISOString()}`);
    }
  }
});
