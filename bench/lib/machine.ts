/** The runner, as the results table names it. */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface Machine {
  readonly cores: number;
  readonly cpu: string;
  readonly memoryGb: number;
  readonly kernel: string;
  readonly node: string;
  readonly ansible: string;
  readonly load: string;
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return 'not installed';
  }
}

export function describeMachine(): Machine {
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    ansible: version('ansible-playbook', ['--version']),
    load: loadNow(),
  };
}

/** 1/5/15-minute load averages: a shared runner's other work shows up here. */
export function loadNow(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}
