/**
 * Whether a module is listed in /proc/modules is read by bash, not grep. Run
 * on a /proc/modules of the kernel's format (moved into a temp root: this
 * runner's kernel has no loadable modules), with a `grep` first on PATH that
 * records being called: where the module is there, no grep runs at all.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PRELUDE } from '../../../src/resources/prelude.js';
import { kernelModule } from '../../../src/resources/index.js';
import { tempDir } from '../../support/temp.js';
import { runProcess } from './harness.js';

// As the kernel writes it: name, size, users, the modules using it, state, address.
const MODULES = [
  'br_netfilter 32768 0 - Live 0x0000000000000000',
  'bridge 311296 1 br_netfilter, Live 0x0000000000000000',
  'overlay_x 151552 0 - Live 0x0000000000000000',
  'nf_conntrack 180224 4 xt_conntrack,nf_nat,xt_MASQUERADE,nf_conntrack_netlink, Live 0x0000000000000000',
  '',
].join('\n');

async function listed(name: string, opts: { modules?: string; sysModule?: boolean } = {}): Promise<{ listed: boolean; grepCalled: boolean }> {
  const root = tempDir('panel-kmod-');
  const bin = join(root, 'bin');
  mkdirSync(bin);
  mkdirSync(join(root, 'proc'));
  mkdirSync(join(root, 'sys/module'), { recursive: true });
  if (opts.modules !== undefined) writeFileSync(join(root, 'proc/modules'), opts.modules);
  if (opts.sysModule) mkdirSync(join(root, 'sys/module', name.replace(/-/g, '_')));
  writeFileSync(join(bin, 'grep'), `#!/bin/sh\necho "$@" >> ${root}/grep.log\nexit 1\n`);
  chmodSync(join(bin, 'grep'), 0o755);
  const k = kernelModule({ name });
  const script = k.facts().text.replaceAll('/proc/modules', `${root}/proc/modules`).replaceAll('/sys/module/', `${root}/sys/module/`);
  const r = await runProcess('/bin/bash', ['-u'], `${PRELUDE.text}\nPATH=${bin}:/usr/bin:/bin\n${script}`);
  assert.equal(r.code, 0, r.stderr);
  const f = k.parse({ stdout: r.stdout, code: r.code });
  return { listed: f.listed, grepCalled: existsSync(join(root, 'grep.log')) && readFileSync(join(root, 'grep.log'), 'utf8').length > 0 };
}

describe('kernelModule facts: listed', () => {
  it('a module named on a line of its own is listed, with no grep', async () => {
    assert.deepEqual(await listed('br_netfilter', { modules: MODULES, sysModule: true }), { listed: true, grepCalled: false });
    assert.deepEqual(await listed('nf_conntrack', { modules: MODULES, sysModule: true }), { listed: true, grepCalled: false });
  });

  it('named only as a user of another, or as a prefix of another name: not listed', async () => {
    assert.equal((await listed('overlay', { modules: MODULES })).listed, false);
    assert.equal((await listed('nf_nat', { modules: MODULES })).listed, false);
    assert.equal((await listed('br', { modules: MODULES })).listed, false);
  });

  it('a name given with dashes is looked up with underscores, as the kernel lists it', async () => {
    assert.equal((await listed('br-netfilter', { modules: MODULES, sysModule: true })).listed, true);
  });

  it('no /proc/modules (no loadable module support): not listed, and no error', async () => {
    assert.equal((await listed('br_netfilter')).listed, false);
  });
});
