/**
 * Bash functions every fact and apply script can call. The engine prepends
 * PRELUDE to each batch and sets PANEL_MODE=facts|apply|verify.
 *
 * The functions live in `.sh` files by job (PRELUDE_FILES; `npm run lint:sh`
 * runs shellcheck on them): the shared library under src/resources/shell/, and
 * each fact's snippet beside the module that parses its output (file.sh beside
 * file.ts, as pyinfra keeps a fact's command() beside its process()). The
 * constants they need come from TypeScript (preludeConstants), written once.
 *
 * Rules the functions follow, because they run in three different contexts:
 * - facts mode must never write anything (`panel plan` leaves the host as it
 *   was), so every write is guarded by `panel_may_write`;
 * - facts snippets run WITHOUT `set -e`, so functions report failure through
 *   their return code / output rather than relying on errexit;
 * - apply steps run with `set -euo pipefail`, but bash ignores errexit inside a
 *   subshell that is part of an `a || b` list, so functions used by apply
 *   scripts check every step explicitly (`|| return 1`) instead of trusting -e.
 * - nothing here prints a line starting with `@@panel` (the engine's markers),
 *   except panel_reboot_required, whose marker the engine collects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { embedded } from '../embedded.js';
import { packageRoot } from '../paths.js';
import { quote, type Script, sh } from '../shell.js';
import { APT_WAIT_MINUTES } from './apt.js';
import { MAX_DIFF_BYTES } from './file.js';

/** The line panel_reboot_required prints (with the path), which the engine collects. */
export const REBOOT_MARKER = '@@panel-reboot-required';
/** Debian's flag file: a package (or panel) asks for a reboot by creating it. */
export const REBOOT_FILE = '/var/run/reboot-required';

/**
 * The prelude's files (relative to src/resources/), in the order they are
 * joined: core first, then the state record (PANEL_STATE, read by later
 * files), start.sh last (it calls what the others define).
 */
export const PRELUDE_FILES = [
  'shell/core.sh',
  'shell/state.sh',
  'shell/write.sh',
  'shell/nginx.sh',
  'shell/fetch.sh',
  'shell/acme.sh',
  'file.sh',
  'archive.sh',
  'service.sh',
  'unit.sh',
  'apt.sh',
  'shell/start.sh',
] as const;

/** The values the shell files read, set before them (PANEL_APT_WAIT: a default the environment may override). */
function preludeConstants(): string {
  return [
    `PANEL_REBOOT_MARKER=${quote(REBOOT_MARKER)}`,
    `PANEL_MAX_DIFF_BYTES=${MAX_DIFF_BYTES}`,
    '# How long apt steps wait, in all, for cloud-init and the dpkg lock (seconds).',
    `: "\${PANEL_APT_WAIT:=${APT_WAIT_MINUTES * 60}}"`,
  ].join('\n');
}

/** One prelude file: from inside the single executable when it is one, else from the package. */
function readShell(name: string): string {
  if (embedded !== undefined) {
    const text = embedded.shell[name];
    if (text === undefined) throw new Error(`panel: ${name} is not in this executable`);
    return text;
  }
  return readFileSync(join(packageRoot, 'src', 'resources', name), 'utf8');
}

export const PRELUDE: Script = sh.file(`\n${preludeConstants()}\n${PRELUDE_FILES.map(readShell).join('\n')}`);
