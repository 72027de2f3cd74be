/**
 * A local install (panel running on the host itself) also installs a systemd
 * timer that runs `panel renew` twice a day, so renewal needs nobody.
 * Remote hosts are renewed from the machine running panel (cron/CI calling
 * `panel renew -i fleet.yaml`): the account key lives there, not on the host.
 */
import type { HostConfig } from '../config.js';
import { selfCommand } from '../paths.js';
import { renderTemplate } from '../resources/template.js';

export const RENEW_SERVICE = 'panel-renew.service';
export const RENEW_TIMER = 'panel-renew.timer';

/** One systemd ExecStart word: double-quoted, with `\`, `"`, `%` and `$` escaped. */
export function systemdWord(s: string): string {
  if (/[\0\n]/.test(s)) throw new Error('a newline or NUL cannot go into a systemd unit');
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

/**
 * argv of the renewal: the same names, contact and CA as the install that
 * wrote the timer, run by the same panel (`self`: the single executable, or
 * node with bin/panel.js).
 */
export function renewArgv(config: HostConfig, self: readonly string[] = selfCommand()): string[] {
  return [
    ...self,
    'renew',
    ...config.domains.flatMap((d) => ['-d', d]),
    ...(config.email ? ['-m', config.email] : []),
    '--acme-directory',
    config.acme.directory,
    ...(config.acme.caFile ? ['--acme-ca', config.acme.caFile] : []),
    ...(config.acme.profile ? ['--acme-profile', config.acme.profile] : []),
    ...(config.acme.resolver ? ['--acme-resolver', config.acme.resolver] : []),
    '--progress-dir',
    config.progressDir,
  ];
}

export function renewUnits(config: HostConfig, argv: readonly string[] = renewArgv(config)): { service: string; timer: string } {
  return {
    service: renderTemplate('panel-renew.service.hbs', { execStart: argv.map(systemdWord).join(' ') }),
    timer: renderTemplate('panel-renew.timer.hbs', {}),
  };
}
