/**
 * The CNI iptables cleanup's decisions, run by bash against recorded
 * iptables-save output (STAND-INS for iptables-save/iptables-restore on PATH
 * print the fixture and capture what would be restored). The real thing runs
 * on testbed hosts in test/integration/uninstall.test.ts.
 */
import assert from 'node:assert/strict';
import { assertInOrder } from '../../support/order.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cniRules } from '../../../src/stack/teardown.js';
import type { CommandResource } from '../../../src/resources/command.js';

const dir = mkdtempSync(join(tmpdir(), 'panel-teardown-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const NAT = `*nat
:POSTROUTING ACCEPT [0:0]
:CNI-5f2c1d0e9a8b7c6d5e4f3a2b - [0:0]
-A POSTROUTING -s 10.62.0.7/32 -m comment --comment "name: \\"openfaas-cni-bridge\\" id: \\"figlet\\"" -j CNI-5f2c1d0e9a8b7c6d5e4f3a2b
-A POSTROUTING -s 10.88.0.0/16 -j MASQUERADE
-A CNI-5f2c1d0e9a8b7c6d5e4f3a2b -d 10.62.0.0/16 -m comment --comment "name: \\"openfaas-cni-bridge\\" id: \\"figlet\\"" -j ACCEPT
COMMIT
`;

function filter(extra: string): string {
  return `*filter
:FORWARD ACCEPT [0:0]
:CNI-ADMIN - [0:0]
:CNI-FORWARD - [0:0]
-A FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD
-A CNI-FORWARD -m comment --comment "CNI firewall plugin admin overrides" -j CNI-ADMIN
-A CNI-FORWARD -d 10.62.0.7/32 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A CNI-FORWARD -s 10.62.0.7/32 -j ACCEPT
${extra}COMMIT
`;
}

function runCleanup(filterText: string): { checkCode: number; restored: string } {
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  writeFileSync(join(dir, 'nat'), NAT);
  writeFileSync(join(dir, 'filter'), filterText);
  writeFileSync(join(bin, 'iptables-save'), `#!/bin/bash\n[ "$1" = -t ] && cat ${dir}/"$2"\n`);
  writeFileSync(join(bin, 'iptables-restore'), `#!/bin/bash\n[ "$1" = --noflush ] || exit 9\ncat > ${dir}/restored\n`);
  chmodSync(join(bin, 'iptables-save'), 0o755);
  chmodSync(join(bin, 'iptables-restore'), 0o755);
  rmSync(join(dir, 'restored'), { force: true });
  const r = cniRules() as CommandResource;
  const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
  const check = spawnSync('bash', ['-c', r.o.check.text], { env });
  const run = spawnSync('bash', ['-c', `set -euo pipefail\n${r.o.run.text}`], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  let restored = '';
  try {
    restored = readFileSync(join(dir, 'restored'), 'utf8');
  } catch {
    restored = '';
  }
  return { checkCode: check.status ?? -1, restored };
}

test("openfaas's rules and per-container chains go; CNI-FORWARD/ADMIN go when nothing else uses them", () => {
  const { checkCode, restored } = runCleanup(filter(''));
  assert.notEqual(checkCode, 0, 'the check sees leftovers');
  const lines = restored.split('\n');
  assert.ok(lines.includes('-D POSTROUTING -s 10.62.0.7/32 -m comment --comment "name: \\"openfaas-cni-bridge\\" id: \\"figlet\\"" -j CNI-5f2c1d0e9a8b7c6d5e4f3a2b'), restored);
  assert.ok(lines.includes('-F CNI-5f2c1d0e9a8b7c6d5e4f3a2b') && lines.includes('-X CNI-5f2c1d0e9a8b7c6d5e4f3a2b'), restored);
  assert.ok(!restored.includes('10.88.0.0/16'), "another network's masquerade rule is left alone");
  assert.ok(lines.includes('-D CNI-FORWARD -s 10.62.0.7/32 -j ACCEPT'), restored);
  assert.ok(lines.includes('-D FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD'), restored);
  assert.ok(lines.includes('-X CNI-FORWARD') && lines.includes('-X CNI-ADMIN'), restored);
  // Flushes before deletes: CNI-FORWARD jumps to CNI-ADMIN.
  assertInOrder(lines, ['-F CNI-FORWARD', '-X CNI-ADMIN'], restored);
});

test('CNI-FORWARD and CNI-ADMIN stay while another network has rules in them', () => {
  const { restored } = runCleanup(filter('-A CNI-FORWARD -s 10.88.0.5/32 -j ACCEPT\n'));
  const lines = restored.split('\n');
  assert.ok(lines.includes('-D CNI-FORWARD -s 10.62.0.7/32 -j ACCEPT'), 'our per-address rules still go');
  assert.ok(!lines.includes('-X CNI-FORWARD') && !lines.includes('-X CNI-ADMIN') && !restored.includes('-D FORWARD'), restored);
});
