/** OpenSSH (the real client) into a testbed host with host-key checking on, against the bed's known_hosts only. */
import { spawn } from 'node:child_process';
import type { Testbed, TestHost } from '../testbed/index.js';

export interface Ssh {
  code: number;
  stdout: string;
  stderr: string;
}

export function ssh(bed: Pick<Testbed, 'knownHostsFile'>, host: TestHost, user: string, cmd: string): Promise<Ssh> {
  const args = [
    '-o', 'StrictHostKeyChecking=yes',
    '-o', `UserKnownHostsFile=${bed.knownHostsFile}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', 'ConnectTimeout=10',
    '-i', host.keyFile,
    '-p', String(host.port),
    `${user}@${host.address}`,
    cmd,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
