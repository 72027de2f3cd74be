/**
 * The README's demo: one test host (a running `testbed up` bed is reused), the
 * name demo.panel.test resolving to it for Pebble, and a real `panel install`
 * against it through the mirror and Pebble. Leaves the bed up so the result can
 * be opened; prints how, and how to remove it.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeBed } from './describe.js';
import { attachTestbed, startTestbed, type Testbed } from './index.js';
import { packageRoot, standInChecksumsFile } from './mirror.js';
import { RUN_ROOT } from './state.js';

const DOMAIN = 'demo.panel.test';

async function bed(): Promise<Testbed> {
  const running = await attachTestbed();
  if (running && running.hosts.length > 0 && running.acme.directory) {
    console.log(`reusing testbed ${running.id}`);
    return running;
  }
  return startTestbed({ hosts: 1, detached: true, log: (m) => console.error(`[testbed] ${m}`) });
}

/**
 * panel with a configuration directory of the bed's own: the certificates
 * panel keeps there are issued by this bed's Pebble, whose root is new with
 * every bed. With the user's own directory, a second demo reinstalled the
 * certificate an earlier bed's CA had issued, which the printed curl (this
 * bed's root) refused.
 */
function panel(args: string[], configDir: string): Promise<number> {
  console.log(`$ XDG_CONFIG_HOME=${configDir} node bin/panel.js ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(packageRoot, 'bin', 'panel.js'), ...args], { stdio: 'inherit', cwd: packageRoot, env: { ...process.env, XDG_CONFIG_HOME: configDir } });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function main(): Promise<number> {
  const b = await bed();
  const host = b.hosts[0];
  if (!host) throw new Error('the testbed has no host');
  await b.dns.add(DOMAIN, host.address);
  const code = await panel([
    'install', '--yes',
    '--host', `root@${host.address}`,
    '-d', DOMAIN,
    // No -m: the contact is optional, and a made-up address is one a real CA refuses.
    '--mirror', b.mirrorUrl,
    // Only the bed's Debian-built containerd and CNI tarballs (see mirror.ts); faasd is checked against its faasd.sha256.
    '--checksums', standInChecksumsFile(b.checksumsFile),
    // The containerd line the testbed has: Debian has no containerd 2.x (panel's default) to serve.
    '--acme-directory', b.acme.directory,
    '--acme-ca', b.acme.caFile,
    '--known-hosts', b.knownHostsFile,
    '--key', host.keyFile,
  ], join(RUN_ROOT, b.id, 'panel-config'));
  const rootFile = join(RUN_ROOT, b.id, 'pebble-root.pem');
  await writeFile(rootFile, await b.acme.rootCaPem());
  const ssh = `ssh -o UserKnownHostsFile=${b.knownHostsFile} -i ${host.keyFile} root@${host.address}`;
  console.log(`
${describeBed(b)}

panel install exited ${code}. Open the result (faasd is a test STAND-IN here):
  curl --cacert ${rootFile} --resolve ${DOMAIN}:443:${host.address} https://${DOMAIN}/hello      # / → the gateway's /function/ (as panel.sh routed it)
  curl --cacert ${rootFile} --resolve ${DOMAIN}:443:${host.address} -u admin:"$(${ssh} cat /var/lib/faasd/secrets/basic-auth-password)" https://${DOMAIN}/ui/      # the OpenFaaS UI (/faasd/ redirects here)
  curl -sI --resolve ${DOMAIN}:80:${host.address} http://${DOMAIN}/      # 301 to https
Look around:  ${ssh}
Remove it:    npm run testbed -- down ${b.id}`);
  return code;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  },
);
