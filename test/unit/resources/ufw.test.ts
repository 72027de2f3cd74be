/**
 * ufwExpectOpen on ufw's own files. The fixtures are real: written by ufw
 * 0.36.2 (Debian 12) on a testbed host, each after `ufw --force reset`,
 * `ufw allow 22/tcp` and then:
 *   user.rules.web      ufw allow 80,443/tcp                (the cloud-like profile)
 *   user.rules.no443    ufw allow 80/tcp
 *   user.rules.app      ufw allow "Nginx Full"; ufw insert 1 deny from 203.0.113.0/24; ufw limit 443/tcp
 *                       (Ubuntu's /etc/ufw/applications.d/nginx profiles)
 *   user.rules.deny443  ufw deny 443/tcp; ufw allow 80,443/tcp
 *   user.rules.mixed    ufw allow from 10.0.0.0/8 to any port 443 proto tcp; ufw route allow 443/tcp;
 *                       ufw allow out 443/tcp; ufw allow 8000:9000/tcp; ufw allow 80/tcp comment web
 *   user.rules.iface    ufw allow in on eth0 to any app "Nginx Full"; ufw allow 1:1024/udp
 *   ufw.conf / ufw.conf.disabled  after `ufw enable` / `ufw disable`; default-ufw: deny incoming.
 * The resource's own fact script reads them (paths moved into a temp root).
 */
import assert from 'node:assert/strict';
import { packageRoot } from '../../../src/paths.js';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type Change, ufwExpectOpen } from '../../../src/resources/index.js';
import { closedPorts, type UfwInboundFacts } from '../../../src/resources/ufw.js';
import { tempDir } from '../../support/temp.js';
import { runProcess } from './harness.js';

// From the source tree: the build copies no fixtures into dist/.
const FIXTURES = join(packageRoot, 'test', 'unit', 'resources', 'fixtures', 'ufw');
const web = ufwExpectOpen({
  service: 'nginx',
  proto: 'tcp',
  ports: [
    { port: 80, for: 'ACME HTTP-01 validation, http' },
    { port: 443, for: 'https' },
  ],
});

interface Host {
  readonly rules: string;
  readonly conf?: string;
  /** Replaces the DEFAULT_INPUT_POLICY line, as `ufw default allow|reject incoming` does. */
  readonly policy?: string;
}

/** A root with ufw's files; the fact script runs with its paths moved there. */
async function facts(h: Host): Promise<UfwInboundFacts> {
  const root = tempDir('panel-ufw-');
  mkdirSync(join(root, 'etc/ufw'), { recursive: true });
  mkdirSync(join(root, 'etc/default'), { recursive: true });
  mkdirSync(join(root, 'usr/sbin'), { recursive: true });
  copyFileSync(join(FIXTURES, h.rules), join(root, 'etc/ufw/user.rules'));
  copyFileSync(join(FIXTURES, h.conf ?? 'ufw.conf'), join(root, 'etc/ufw/ufw.conf'));
  let defaults = readFileSync(join(FIXTURES, 'default-ufw'), 'utf8');
  if (h.policy) defaults = defaults.replace(/^DEFAULT_INPUT_POLICY=.*$/m, `DEFAULT_INPUT_POLICY="${h.policy}"`);
  writeFileSync(join(root, 'etc/default/ufw'), defaults);
  writeFileSync(join(root, 'usr/sbin/ufw'), '#!/bin/sh\n');
  chmodSync(join(root, 'usr/sbin/ufw'), 0o755);
  const script = web.facts().text.replaceAll('/etc/', `${root}/etc/`).replaceAll('/usr/sbin/ufw', `${root}/usr/sbin/ufw`);
  const r = await runProcess('bash', ['-u'], script);
  return web.parse({ stdout: r.stdout, code: r.code });
}

function warnings(f: UfwInboundFacts): { changes: Change[]; warned: string[] } {
  const warned: string[] = [];
  const changes = web.plan(f, { planned: [], warn: (m) => warned.push(m) });
  return { changes, warned };
}

describe('ufwExpectOpen', () => {
  it('reads the facts from ufw\'s files', async () => {
    const f = await facts({ rules: 'user.rules.web' });
    assert.deepEqual(f, {
      installed: true,
      enabled: true,
      inputPolicy: 'DROP',
      tuples: ['allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in', 'allow tcp 80,443 0.0.0.0/0 any 0.0.0.0/0 in'],
    });
    assert.equal(web.key, 'ufw:expect open in 80,443/tcp');
  });

  it('is silent where ufw lets 80 and 443 in: `80,443/tcp`, an app profile, a range, a rule on an interface', async () => {
    for (const rules of ['user.rules.web', 'user.rules.app', 'user.rules.iface']) {
      assert.deepEqual(warnings(await facts({ rules })), { changes: [], warned: [] }, rules);
    }
  });

  it('warns once, naming only the closed port and the command that opens it', async () => {
    for (const rules of ['user.rules.no443', 'user.rules.mixed', 'user.rules.deny443']) {
      const { changes, warned } = warnings(await facts({ rules }));
      assert.deepEqual(changes, [], rules);
      assert.deepEqual(
        warned,
        ['ufw is active and drops incoming 443/tcp (https), so nothing reaches nginx there; panel leaves ufw\'s rules to you: ufw allow 443/tcp'],
        rules,
      );
    }
  });

  it('names both ports when neither is allowed; a udp range does not open tcp', async () => {
    const f = await facts({ rules: 'user.rules.iface' });
    const { warned } = warnings({ ...f, tuples: f.tuples.filter((t) => !t.includes('Nginx')) });
    assert.deepEqual(warned, [
      'ufw is active and drops incoming 80/tcp (ACME HTTP-01 validation, http) and 443/tcp (https), so nothing reaches nginx there; panel leaves ufw\'s rules to you: ufw allow 80,443/tcp',
    ]);
  });

  it('says nothing where ufw is disabled, absent, or allows incoming by default; reject counts as closed', async () => {
    assert.deepEqual(warnings(await facts({ rules: 'user.rules.no443', conf: 'ufw.conf.disabled' })).warned, []);
    assert.deepEqual(warnings(await facts({ rules: 'user.rules.no443', policy: 'ACCEPT' })).warned, []);
    assert.match(warnings(await facts({ rules: 'user.rules.no443', policy: 'REJECT' })).warned[0] ?? '', /drops incoming 443\/tcp/);
    assert.deepEqual(web.parse({ stdout: 'installed=0\nenabled=0\n', code: 0 }), { installed: false, enabled: false, tuples: [] });
    assert.deepEqual(warnings(web.parse({ stdout: 'installed=0\nenabled=0\n', code: 0 })).warned, []);
  });

  it('judges rules in order as ufw does: the first match decides', () => {
    const f = (tuples: string[]): UfwInboundFacts => ({ installed: true, enabled: true, inputPolicy: 'DROP', tuples });
    assert.deepEqual(closedPorts(f(['reject tcp 80 0.0.0.0/0 any 0.0.0.0/0 in', 'allow tcp 80 0.0.0.0/0 any 0.0.0.0/0 in']), [80], 'tcp'), [80]);
    assert.deepEqual(closedPorts(f(['allow_log-all tcp 80 0.0.0.0/0 any 0.0.0.0/0 in', 'deny any any 0.0.0.0/0 any 0.0.0.0/0 in']), [80, 443], 'tcp'), [443]);
    // A deny on one interface does not close the port (the public one may be another); ufw's
    // default policy does, unless a later rule for everyone allows it.
    assert.deepEqual(closedPorts(f(['deny tcp 80 0.0.0.0/0 any 0.0.0.0/0 in_eth1', 'allow any 80 0.0.0.0/0 any 0.0.0.0/0 in']), [80], 'tcp'), []);
    assert.deepEqual(closedPorts(f(['allow tcp 443 203.0.113.7 any 0.0.0.0/0 in']), [443], 'tcp'), []);
  });

  it('refuses what is not a port', () => {
    assert.throws(() => ufwExpectOpen({ service: 'x', proto: 'tcp', ports: [{ port: 0, for: 'x' }] }), /not a port/);
    assert.throws(() => ufwExpectOpen({ service: 'x', proto: 'tcp', ports: [] }), /no ports/);
  });
});
