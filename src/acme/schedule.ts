/**
 * `panel renew --schedule`: renewal of a remote fleet runs where the account
 * key is, on the machine running panel. This installs a systemd timer there
 * (a user timer when not root) that runs the same `panel renew` command
 * twice a day, or, where systemd is not running, prints the cron line.
 * Local installs keep their on-host timer (recipe certificate).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { selfCommand } from '../paths.js';
import { renderTemplate } from '../resources/template.js';
import { quote } from '../shell.js';
import { systemdWord } from './timer.js';

/** Flags that would put a secret into a unit file or crontab. */
const SECRET_FLAGS = new Set(['-p', '--password']);

export interface Schedule {
  /** Unit base name, stable for the same command and directory. */
  readonly name: string;
  readonly argv: readonly string[];
  readonly cwd: string;
}

/** The renew command to repeat: this invocation's arguments without --schedule. */
export function scheduleOf(renewArgs: readonly string[], cwd: string, self: readonly string[] = selfCommand()): Schedule {
  const args = renewArgs.filter((a) => a !== '--schedule');
  const secret = args.find((a) => SECRET_FLAGS.has(a) || a.startsWith('--password='));
  if (secret !== undefined) throw new Error(`--schedule: ${secret} would be written into the schedule; use --password-file or PANEL_PASSWORD`);
  const argv = [...self, 'renew', ...args];
  const name = `panel-renew-${createHash('sha256').update(JSON.stringify([cwd, args])).digest('hex').slice(0, 8)}`;
  return { name, argv, cwd };
}

/** WorkingDirectory= takes the rest of the line as the path (no quotes); only `%` is special. */
function unitPath(p: string): string {
  if (!p.startsWith('/') || /[\0\n]/.test(p)) throw new Error(`--schedule: cannot run from ${JSON.stringify(p)}`);
  return p.replace(/%/g, '%%');
}

export function fleetUnits(s: Schedule): { service: string; timer: string } {
  return {
    service: renderTemplate('panel-renew-fleet.service.hbs', { name: s.name, workingDirectory: unitPath(s.cwd), execStart: s.argv.map(systemdWord).join(' ') }),
    timer: renderTemplate('panel-renew-fleet.timer.hbs', { name: s.name }),
  };
}

/** The crontab line for machines without systemd (same times as the timer); it ends with the schedule's name as a shell comment, so it can be found again. */
export function cronLine(s: Schedule): string {
  return `17 0,12 * * * cd ${quote(s.cwd)} && mkdir -p .panel && ${s.argv.map((a) => quote(a)).join(' ')} >> ${quote(join(s.cwd, '.panel', 'renew.log'))} 2>&1 # ${s.name}`;
}

/** Flags of `install` that mean nothing to `renew` (or would change what a scheduled renew prints or picks). */
const INSTALL_ONLY_BOOLEAN = new Set(['-y', '--yes', '--reinstall', '--schedule-renewal', '--json', '--retry-failed']);
// The faasd password is no business of a renewal (certificate only), and must never go into a schedule.
const INSTALL_ONLY_VALUE = new Set(['--recipes', '-p', '--password', '--password-file']);

/** The `panel renew` arguments that renew what this `install` command installed. */
export function renewArgsOfInstall(installArgs: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < installArgs.length; i++) {
    const a = installArgs[i]!;
    if (INSTALL_ONLY_BOOLEAN.has(a)) continue;
    if (INSTALL_ONLY_VALUE.has(a)) {
      i++;
      continue;
    }
    if ([...INSTALL_ONLY_VALUE].some((f) => a.startsWith(`${f}=`)) || /^-p./.test(a)) continue;
    out.push(a);
  }
  return out;
}

/** The command a user types to schedule these renewals: `panel renew … --schedule`. */
export function scheduleCommand(renewArgs: readonly string[]): string {
  return ['panel', 'renew', ...renewArgs.map((a) => quote(a)), '--schedule'].join(' ');
}

export interface Installed {
  readonly kind: 'systemd';
  readonly dir: string;
  readonly timer: string;
}

export interface Env {
  readonly systemd: boolean;
  readonly root: boolean;
  /** Where user units go (default ~/.config/systemd/user). */
  readonly userUnitDir?: string;
  /** systemctl runner (tests replace it). */
  readonly systemctl?: (args: readonly string[]) => void;
  /** `crontab -l` (tests replace it). */
  readonly crontab?: () => string;
}

export function currentEnv(): Env {
  return { systemd: existsSync('/run/systemd/system'), root: typeof process.getuid === 'function' && process.getuid() === 0 };
}

function writeIfChanged(path: string, content: string): void {
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode: 0o644 });
  renameSync(tmp, path);
}

function unitDir(env: Env): string {
  return env.root ? '/etc/systemd/system' : (env.userUnitDir ?? join(homedir(), '.config', 'systemd', 'user'));
}

/** Whether this schedule is in place: its timer unit, or (without systemd) its line in the user's crontab. */
export function scheduleInPlace(s: Schedule, env: Env = currentEnv()): boolean {
  if (env.systemd) return existsSync(join(unitDir(env), `${s.name}.timer`));
  try {
    const tab = env.crontab ? env.crontab() : execFileSync('crontab', ['-l'], { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
    return tab.split('\n').some((l) => !l.trimStart().startsWith('#') && l.endsWith(`# ${s.name}`));
  } catch {
    return false; // no crontab (or no cron): nothing scheduled
  }
}

/** What `--schedule` / `--schedule-renewal` did, in one message. */
export function scheduleDoneMessage(done: Installed | { kind: 'cron'; line: string }): string {
  return done.kind === 'systemd'
    ? `panel: ${done.timer} installed in ${done.dir} and started: \`panel renew\` for this fleet twice a day\n`
    : `panel: systemd is not running here; add this line to the crontab of the user that runs panel:\n${done.line}\n`;
}

/** Install and start the timer, or return the cron line to add. */
export function installSchedule(s: Schedule, env: Env = currentEnv()): Installed | { kind: 'cron'; line: string } {
  if (!env.systemd) return { kind: 'cron', line: cronLine(s) };
  const dir = unitDir(env);
  mkdirSync(dir, { recursive: true });
  const units = fleetUnits(s);
  writeIfChanged(join(dir, `${s.name}.service`), units.service);
  writeIfChanged(join(dir, `${s.name}.timer`), units.timer);
  const systemctl = env.systemctl ?? ((args) => execFileSync('systemctl', [...(env.root ? [] : ['--user']), ...args], { stdio: ['ignore', 'ignore', 'pipe'] }));
  systemctl(['daemon-reload']);
  systemctl(['enable', '--now', `${s.name}.timer`]);
  return { kind: 'systemd', dir, timer: `${s.name}.timer` };
}
