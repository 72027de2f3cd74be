/**
 * bench/ansible/stack.yml against testbed hosts: inventory and artifact vars
 * written to a work directory, ssh/sftp/scp wrapped to count every SSH
 * invocation per host (with pipelining and ControlPersist, one invocation is
 * one exec channel on the host's master connection, like panel's round trips).
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifactSource, ARTIFACTS, locateArtifact, type ArtifactName } from '../../src/artifacts/index.js';
import { packageRoot } from '../../src/paths.js';
import type { Testbed, TestHost } from '../../test/testbed/index.js';
import { runTimed, type ChildRun } from './child.js';

export const ANSIBLE_DIR = join(packageRoot, 'bench', 'ansible');

export interface AnsibleHostRecap {
  readonly ok: number;
  readonly changed: number;
  readonly failed: number;
  readonly unreachable: number;
}

export interface AnsibleRun extends ChildRun {
  readonly recap: ReadonlyMap<string, AnsibleHostRecap>;
  /** SSH invocations per host address. */
  readonly sshCalls: ReadonlyMap<string, number>;
}

export interface AnsibleSetup {
  readonly dir: string;
  readonly inventory: string;
  readonly vars: string;
  readonly wrappers: string;
  readonly sshLog: string;
}

/** Inventory of every bed host (by testbed name), artifact URLs and sums, the counting wrappers. */
export function prepareAnsible(bed: Testbed, hosts: readonly TestHost[], dir: string): AnsibleSetup {
  mkdirSync(dir, { recursive: true });
  const inventory = join(dir, 'inventory.ini');
  writeFileSync(
    inventory,
    [
      '[stack]',
      ...hosts.map((h) => `${h.name} ansible_host=${h.address}`),
      '',
      '[stack:vars]',
      'ansible_user=root',
      `ansible_ssh_private_key_file=${bed.keyFile}`,
      `ansible_ssh_common_args='-o UserKnownHostsFile=${bed.knownHostsFile} -o StrictHostKeyChecking=yes'`,
      '',
    ].join('\n'),
  );
  // The bed's SHA256SUMS lists every artifact it serves: Ansible gets the same sums panel verifies against.
  const source = artifactSource({ mirror: bed.mirrorUrl, checksumsFile: bed.checksumsFile });
  const at = (name: ArtifactName): { url: string; sha256: string } => {
    const l = locateArtifact(name, ARTIFACTS[name].defaultVersion, 'amd64', source);
    if (l.known === undefined) throw new Error(`${name}: ${bed.checksumsFile} lists no sum for ${l.relPath}`);
    return { url: l.url, sha256: l.known.sha256 };
  };
  const containerd = at('containerd');
  const cni = at('cni-plugins');
  const faasd = at('faasd');
  const vars = join(dir, 'artifacts.yml');
  writeFileSync(
    vars,
    [
      `containerd_url: ${containerd.url}`,
      `containerd_sha256: ${containerd.sha256}`,
      `cni_url: ${cni.url}`,
      `cni_sha256: ${cni.sha256}`,
      `faasd_url: ${faasd.url}`,
      `faasd_sha256: ${faasd.sha256}`,
      '',
    ].join('\n'),
  );
  const wrappers = join(dir, 'bin');
  const sshLog = join(dir, 'ssh-calls.log');
  mkdirSync(wrappers, { recursive: true });
  for (const tool of ['ssh', 'sftp', 'scp']) {
    const w = join(wrappers, tool);
    // Every argument on one line; the host address is among them.
    writeFileSync(w, `#!/bin/sh\nprintf '%s\\n' "$*" >> "${sshLog}"\nexec /usr/bin/${tool} "$@"\n`);
    chmodSync(w, 0o755);
  }
  return { dir, inventory, vars, wrappers, sshLog };
}

const RECAP = /^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/;

export async function runAnsible(setup: AnsibleSetup, hosts: readonly TestHost[], extra: readonly string[] = []): Promise<AnsibleRun> {
  writeFileSync(setup.sshLog, '');
  const r = await runTimed(
    'ansible-playbook',
    ['-i', setup.inventory, join(ANSIBLE_DIR, 'stack.yml'), '-f', String(hosts.length), '-l', hosts.map((h) => h.name).join(','), '-e', `@${setup.vars}`, ...extra],
    {
      cwd: setup.dir,
      env: {
        ...process.env,
        PATH: `${setup.wrappers}:${process.env['PATH'] ?? '/usr/bin:/bin'}`,
        ANSIBLE_CONFIG: join(ANSIBLE_DIR, 'ansible.cfg'),
        ANSIBLE_SSH_CONTROL_PATH_DIR: join(setup.dir, 'cp'),
        ANSIBLE_LOCAL_TEMP: join(setup.dir, 'tmp'),
        ANSIBLE_NOCOLOR: '1',
      },
    },
  );
  const recap = new Map<string, AnsibleHostRecap>();
  for (const { text } of r.lines) {
    const m = RECAP.exec(text);
    if (m) recap.set(m[1]!, { ok: Number(m[2]), changed: Number(m[3]), unreachable: Number(m[4]), failed: Number(m[5]) });
  }
  const calls = readFileSync(setup.sshLog, 'utf8').split('\n').filter(Boolean);
  const sshCalls = new Map<string, number>();
  for (const h of hosts) {
    const re = new RegExp(`(^|[\\s@\\[])${h.address.replace(/\./g, '\\.')}([\\s:\\]]|$)`);
    sshCalls.set(h.address, calls.filter((c) => re.test(c)).length);
  }
  return { ...r, recap, sshCalls };
}

export function mustSucceedAnsible(what: string, r: AnsibleRun, hosts: readonly TestHost[]): void {
  const bad = hosts.filter((h) => {
    const x = r.recap.get(h.name);
    return !x || x.failed > 0 || x.unreachable > 0;
  });
  if (r.code !== 0 || bad.length > 0) {
    const tail = r.lines.slice(-40).map((l) => l.text).join('\n');
    throw new Error(`${what}: ansible-playbook exit ${r.code}; failed hosts: ${bad.map((h) => h.name).join(', ')}\n${tail}\n${r.stderr.slice(-2000)}`);
  }
}
