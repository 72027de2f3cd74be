/**
 * A systemd unit file (or drop-in). It is a managed file whose change also
 * has systemd reload (once for all the units a script writes, before the
 * first unit starts, stops or reloads after it), so a restart planned after
 * it (service `restartOn: [theUnit]`) starts the new definition.
 */
import type { UnitOptions } from './api.js';
import { sh } from '../shell.js';
import { FileResource } from './file.js';

const UNIT_NAME = /^[A-Za-z0-9:_.@\\-]+\.(service|socket|timer|mount|target|path|slice|scope|automount|swap)$/;
const DROPIN_NAME = /^[A-Za-z0-9_.@-]+$/;

/**
 * systemd must read the new file: marked, and reloaded once before the next
 * start, stop or reload of a unit, or at the script's end (prelude:
 * panel_units_stale). Only where systemd runs: a chroot or a not-yet-booted
 * image has nothing to reload.
 */
export const DAEMON_RELOAD = sh`panel_units_stale units || exit 1`;

/**
 * A value for inside a double-quoted unit setting (`Environment="NAME={{value}}"`).
 * systemd reads `%` as a specifier even there: `%h` would expand, and an
 * unknown one (the `%40` of a percent-encoded proxy password) makes systemd
 * drop the whole assignment with only a log line, which `systemd-analyze
 * verify` does not fail on. `\` and `"` are its quoting.
 */
export function unitValue(value: string): string {
  if (/[\0\n\r]/.test(value)) throw new Error('a line break or NUL cannot go into a systemd unit');
  return value.replace(/[\\"]/g, '\\$&').replace(/%/g, '%%');
}

/** The resource key a `unit()` gets: `unit:<name>` or `unit:<name>.d/<dropIn>.conf`. */
export function unitKey(name: string, dropIn?: string): string {
  return dropIn === undefined ? `unit:${name}` : `unit:${name}.d/${dropIn}.conf`;
}

export function unit(o: UnitOptions): FileResource {
  if (!UNIT_NAME.test(o.name)) throw new Error(`unit: not a unit name (with its type suffix, e.g. containerd.service): ${JSON.stringify(o.name)}`);
  if (o.dropIn !== undefined && !DROPIN_NAME.test(o.dropIn)) throw new Error(`unit ${o.name}: bad drop-in name ${JSON.stringify(o.dropIn)}`);
  const dir = o.dir ?? '/etc/systemd/system';
  if (!dir.startsWith('/')) throw new Error(`unit ${o.name}: dir must be absolute: ${dir}`);
  const path = o.dropIn === undefined ? `${dir}/${o.name}` : `${dir}/${o.name}.d/${o.dropIn}.conf`;
  return new FileResource({
    key: unitKey(o.name, o.dropIn),
    path,
    content: Buffer.from(o.content, 'utf8'),
    mode: o.secret ? 0o600 : 0o644,
    owner: 'root',
    group: 'root',
    secret: o.secret ?? false,
    // systemd-analyze verify on the temp file (under the unit's name), where systemd runs.
    validate: sh`panel_unit_verify "$1" "$2"`,
    then: DAEMON_RELOAD,
    recordAs: 'unit',
  });
}
