/**
 * Issue 28, ARI (RFC 9773) against a real ARI server: Debian trixie's Pebble
 * 2.6.0 (bookworm's 2.4.0 has no renewalInfo; upstream added it in 2.6.0),
 * its binary taken from trixie's .deb by the testbed (pebble.ts). Pebble's
 * window is a day either side of two thirds of the lifetime (its default
 * lifetime here: years), and an hour in the past once the certificate is
 * revoked; it sends Retry-After: 6 h.
 *  - right after the first certificate panel asks for its window and stores
 *    it; it is in the future, so `renew` orders nothing, `check` is clean and
 *    the status page (`renew` updates a page written before) shows the moment
 *    drawn in the window and the window itself as what decided it;
 *  - a machine that did not issue the certificate (no kept copy, no stored
 *    window) asks for the window of the certificate the host has, read with
 *    the planning facts (the certificate resource's prepare step);
 *  - the CA moves the window into the past (revocation): panel does not ask
 *    again before Retry-After, so `renew` still orders nothing; once
 *    Retry-After has passed (the stored time moved back: 6 h are not waited
 *    for) `check` exits 2 naming the window that has passed, and `renew`
 *    orders at once with `replaces`, which Pebble's log shows; the new
 *    certificate is served and the page shows the new certificate's window.
 * And, on the same bed: a host whose nginx -t fails gets no order at all.
 * Pebble sends Retry-After: 1 on pending authorizations and unfinished
 * orders here, which panel's own polling follows (poll.ts; the waits
 * themselves are unit-tested, not timed here).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import acme from 'acme-client';
import { certId, RenewalWindows } from '../../src/acme/ari.js';
import { defaultAccountKeyFile } from '../../src/acme/account.js';
import { trustCa } from '../../src/acme/http.js';
import { hostArgs, mirrorArgs } from '../support/bed-args.js';
import { events, panel, type CliRun } from '../support/panel-cli.js';
import { tempDir } from '../support/temp.js';
import { startTestbed, type Testbed, type TestHost } from '../testbed/index.js';
import { DNS_PORT } from '../testbed/pebble.js';

const NAME = 'ari.panel.test';
const OTHER = 'other.panel.test';
let bed: Testbed;
let host: TestHost;
const acctDir = tempDir('panel-acme-ari-');
const env = { XDG_CONFIG_HOME: acctDir };

before(async () => {
  bed = await startTestbed({ hosts: 1, ipv6: [false], pebble: { release: 'trixie', retryAfterSeconds: 1 } });
  host = bed.hosts[0]!;
  await bed.dns.add(NAME, host.address);
  await bed.dns.add(OTHER, host.address);
});

after(async () => {
  await bed?.stop();
});

function args(cmd: string, recipes: string, name = NAME): string[] {
  return [
    cmd,
    ...hostArgs(bed, host),
    ...mirrorArgs(bed),
    '-d', name,
    '--acme-directory', bed.acme.directory,
    '--acme-ca', bed.acme.caFile,
    '--acme-resolver', `${bed.bridgeAddress}:${DNS_PORT}`,
    '--json',
    ...(recipes ? ['--recipes', recipes] : []),
    ...(cmd === 'install' ? ['--yes'] : []),
  ];
}

function explain(run: CliRun): string {
  return `exit ${run.code}\nstderr: ${run.stderr.slice(-3000)}\nstdout: ${run.stdout.slice(-3000)}`;
}

function applied(run: CliRun): { resource: string; reason: string }[] {
  return events(run)
    .filter((e) => e.type === 'change' && e['status'] === 'applied')
    .map((e) => e['change'] as { resource: string; reason: string });
}

async function installedPem(): Promise<string> {
  const r = await bed.exec(host, `cat /etc/panel/certs/${NAME}/fullchain.pem`);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** Pebble's log, next to its API CA file in the bed's run directory (pebble.ts). */
const pebbleLog = (): string => readFileSync(join(dirname(bed.acme.caFile), 'pebble.log'), 'utf8');

let firstPem = '';

test('ARI window in the future (trixie Pebble 2.6.0): stored after the first certificate, `renew` orders nothing', async () => {
  const dir = JSON.parse(await (await fetchDirectory()).text()) as { renewalInfo?: string };
  assert.ok(dir.renewalInfo, `the directory names renewalInfo: ${JSON.stringify(dir)}`);

  const run = await panel(args('install', 'nginx,certificate'), { env });
  assert.equal(run.code, 0, explain(run));
  firstPem = await installedPem();
  // Asked for right after the order, while the CA is at hand.
  assert.ok(RenewalWindows.forDirectory(bed.acme.directory, env).get(certId(firstPem)), 'the window was fetched and stored by the run that issued it');
  const renew = await panel(args('renew', ''), { env });
  assert.equal(renew.code, 0, explain(renew));
  assert.deepEqual(applied(renew), []);
  const rec = RenewalWindows.forDirectory(bed.acme.directory, env).get(certId(firstPem));
  assert.ok(rec, 'the window is stored');
  assert.ok(Date.parse(rec.start) > Date.now() && Date.parse(rec.renewAt) >= Date.parse(rec.start) && Date.parse(rec.renewAt) <= Date.parse(rec.end), JSON.stringify(rec));
  // Pebble's Retry-After (6 h) is kept.
  assert.ok(Date.parse(rec.nextFetch) > Date.now() + 5 * 3600_000, JSON.stringify(rec));
});

/** The page's time format (status/page.ts). */
const day = (iso: string): string => iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/** A page as an earlier install with the status recipe leaves it: `renew` updates its certificate and run (status/page.ts). */
async function seedStatusPage(): Promise<void> {
  const page = { host: 'ari', domains: [NAME], recipes: [], health: [], run: { finishedAt: '2026-01-01 00:00:00 UTC', result: 'ok', changed: 0 } };
  const r = await bed.exec(host, `mkdir -p /var/lib/panel && echo ${Buffer.from(JSON.stringify(page)).toString('base64')} | base64 -d > /var/lib/panel/status-page.json && chmod 0600 /var/lib/panel/status-page.json`);
  assert.equal(r.code, 0, r.stderr);
}

async function statusPage(): Promise<string> {
  const r = await bed.exec(host, 'cat /var/www/panel-status/index.html');
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/** The page names the stored window of `pem` as what decides its renewal, at the moment drawn in it. */
function assertPageNamesWindow(page: string, pem: string): void {
  const rec = RenewalWindows.forDirectory(bed.acme.directory, env).get(certId(pem));
  assert.ok(rec, 'a window is stored for the certificate');
  assert.ok(page.includes(`id="cert-renews">${day(rec.renewAt)}<`), `renewal moment ${rec.renewAt}:\n${page}`);
  assert.ok(page.includes(`id="cert-renews-by">the CA's renewal window (ARI): <time>${day(rec.start)}</time> – <time>${day(rec.end)}</time>`), page);
  assert.equal(page.includes('id="cert-ari-explanation"'), rec.explanationURL !== undefined, 'a link exactly when the CA explained');
  assert.ok(!page.includes('id="cert-overdue"'), 'not due');
}

test('check and the status page name the ARI window (window in the future: check clean, page shows the drawn moment and the window)', async () => {
  assert.ok(firstPem, 'the first test issued a certificate');
  await seedStatusPage();
  const renew = await panel(args('renew', ''), { env });
  assert.equal(renew.code, 0, explain(renew));
  assert.deepEqual(applied(renew), []);
  assertPageNamesWindow(await statusPage(), firstPem);
  const check = await panel(args('check', 'nginx,certificate'), { env });
  assert.equal(check.code, 0, explain(check));
});

test('a certificate this machine did not issue (no kept copy, no stored window): its window is asked for from the host\'s fullchain.pem', async () => {
  assert.ok(firstPem, 'the first test issued a certificate');
  const elsewhere = { XDG_CONFIG_HOME: tempDir('panel-acme-ari-other-') };
  const windows = RenewalWindows.forDirectory(bed.acme.directory, elsewhere);
  assert.equal(windows.get(certId(firstPem)), undefined);
  const run = await panel(args('renew', ''), { env: elsewhere });
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(applied(run), [], 'the window is in the future: nothing ordered');
  const rec = windows.get(certId(firstPem));
  assert.ok(rec, 'the window of the installed certificate was fetched and stored');
  const mine = RenewalWindows.forDirectory(bed.acme.directory, env).get(certId(firstPem))!;
  assert.deepEqual([rec.start, rec.end], [mine.start, mine.end], 'the same window the issuing machine holds');
});

test('ARI window moved into the past (revoked): Retry-After respected, then renewed at once with `replaces`', async () => {
  assert.ok(firstPem, 'the first test issued a certificate');
  const id = certId(firstPem);
  await revoke(firstPem);
  const windows = RenewalWindows.forDirectory(bed.acme.directory, env);

  const early = await panel(args('renew', ''), { env });
  assert.equal(early.code, 0, explain(early));
  assert.deepEqual(applied(early), [], 'not asked again before Retry-After: the stored (future) window stands');

  // Retry-After has "passed": 6 h are not waited for in a test.
  const rec = windows.get(id)!;
  windows.set(id, { ...rec, nextFetch: new Date(Date.now() - 1000).toISOString() });
  // check asks the CA again (Retry-After passed), finds the window has passed: due, exit 2, the window named.
  const check = await panel(args('check', 'nginx,certificate'), { env });
  assert.equal(check.code, 2, explain(check));
  const moved = windows.get(id)!;
  assert.ok(Date.parse(moved.end) <= Date.now(), `the CA moved the window into the past: ${JSON.stringify(moved)}`);
  const planned = events(check).filter((e) => e.type === 'change').map((e) => e['change'] as { resource: string; reason: string });
  const due = planned.find((c) => c.resource === `certificate:${NAME}`);
  assert.ok(due, `check plans the certificate: ${JSON.stringify(planned)}`);
  assert.ok(due.reason.startsWith(`the CA's renewal window (ARI) ${moved.start} – ${moved.end}`), due.reason);
  assert.match(due.reason, /has passed: renew at once/);
  const run = await panel(args('renew', ''), { env });
  assert.equal(run.code, 0, explain(run));
  const cs = applied(run);
  assert.equal(cs.length, 1, JSON.stringify(cs));
  assert.match(cs[0]!.reason, /the CA's renewal window \(ARI\) .* has passed: renew at once/);
  assert.ok(cs[0]!.reason.includes(`replacing ${id}`), cs[0]!.reason);
  assert.match(pebbleLog(), /ARI: order "[^"]+" is a replacement of "[^"]+"/);
  const second = await installedPem();
  assert.notEqual(certId(second), id, 'a new certificate is installed');
  // The page written at the end of that run: the new certificate, with the window asked for right after its order.
  assertPageNamesWindow(await statusPage(), second);
});

test('an nginx configuration that fails nginx -t stops the certificate before any order (issue 28)', async () => {
  const orders = (): number => (pebbleLog().match(/Added order /g) ?? []).length;
  const before = orders();
  assert.ok(before >= 2, 'the log counts the orders of the tests above');
  await bed.exec(host, "printf 'this is not nginx;\\n' > /etc/nginx/conf.d/broken.conf");
  try {
    // renew: the certificate alone (install would re-render the site first, which nginx -t refuses).
    const run = await panel(args('renew', '', OTHER), { env });
    assert.equal(run.code, 1, explain(run));
    assert.match(run.stderr + run.stdout, /not ordering: nginx -t fails on the host/, explain(run));
    assert.equal(orders(), before, 'no order reached the CA');
  } finally {
    await bed.exec(host, 'rm -f /etc/nginx/conf.d/broken.conf');
  }
});

async function fetchDirectory(): Promise<Response> {
  // Node's fetch takes no per-request CA: plain https with the bed's CA.
  const { get } = await import('node:https');
  const ca = readFileSync(bed.acme.caFile, 'utf8');
  return new Promise((resolve, reject) => {
    get(bed.acme.directory, { ca }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString('utf8')));
      res.on('end', () => resolve(new Response(body, { status: res.statusCode ?? 0 })));
    }).on('error', reject);
  });
}

/** Revoke with panel's account key (the CA then moves the window into the past). */
async function revoke(pem: string): Promise<void> {
  trustCa(bed.acme.caFile);
  const accountKey = readFileSync(defaultAccountKeyFile(bed.acme.directory, env));
  const client = new acme.Client({ directoryUrl: bed.acme.directory, accountKey });
  await client.createAccount({ onlyReturnExisting: true });
  await client.revokeCertificate(pem);
}
