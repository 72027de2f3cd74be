/**
 * The one typed write: every resource that puts a file on a host builds its
 * script here; nothing calls the prelude's panel_write by position.
 *
 * A file is filled into a temp file beside its path (0600 from the start),
 * given its mode and owner, validated there, backed up and renamed over the
 * path (src/resources/shell/write.sh). A unit of several files is filled and
 * owned first, validated together (one validator sees every temp file beside
 * its path) and only then renamed into place: a rejected unit leaves every
 * live file as it was.
 */
import { arg, lines, type Script, sh, withBytes } from '../shell.js';
import { fmtMode } from './util.js';

/** Who owns what panel creates unless a resource says otherwise. */
export const DEFAULT_OWNER = { user: 'root', group: 'root' } as const;
/** Modes of what panel creates unless a resource says otherwise. */
export const DEFAULT_MODE = { file: 0o644, directory: 0o755, secret: 0o600 } as const;

/** What a file is filled with: bytes carried in the script, or the stdout of a command run on the host (stdin closed). */
export type Fill = { readonly bytes: Buffer } | { readonly run: Script };

/**
 * Which versions a write backs up under /var/lib/panel/backups/: every one,
 * only a version panel never recorded (the one from before panel, which
 * uninstall puts back), or none.
 */
export type Backup = 'always' | 'first' | 'never';

export interface Write {
  readonly path: string;
  /** Octal mode, or 'as-live': the mode the live file has now. */
  readonly mode: number | 'as-live';
  /** Omitted: whoever writes (root on a host). */
  readonly owner?: { readonly user: string; readonly group: string };
  readonly backup: Backup;
  readonly fill: Fill;
  /** The content's sha256 when known here: the state record then needs no hash on the host. */
  readonly sha256?: string;
}

/** The shell words MODE OWNER GROUP of the prelude's write functions. */
function modeAndOwner(w: Write): Script {
  const mode = w.mode === 'as-live' ? sh`"$(stat -c %a ${w.path})"` : sh`${fmtMode(w.mode)}`;
  return w.owner === undefined ? sh`${mode} - -` : sh`${mode} ${w.owner.user} ${w.owner.group}`;
}

/** `call FILL`, fed its bytes (a here-document) or with the fill command's stdin closed; a failure exits the step. */
function filled(call: Script, fill: Fill): Script {
  return 'bytes' in fill ? withBytes(sh`${call} 'base64 -d'`, fill.bytes) : sh`${call} ${arg(fill.run)} </dev/null || exit 1`;
}

function knownSha(w: Write): Script | undefined {
  return w.sha256 === undefined ? undefined : sh`PANEL_SHA[${w.path}]=${w.sha256}`;
}

/** One file; `validate` runs on the temp file ("$1"; "$2" is the path) before it is live. */
export function writeFile(w: Write & { readonly validate?: Script | undefined }): Script {
  return lines(knownSha(w), filled(sh`panel_write ${w.path} ${modeAndOwner(w)} ${w.backup} ${arg(w.validate)}`, w.fill));
}

/**
 * Several files as one unit: every file filled and owned, then `validate`
 * runs once with "$@" = TEMP PATH TEMP PATH … (the files in order); only when
 * it passes are they backed up and renamed into place, in order.
 */
export function writeUnit(files: readonly Write[], validate?: Script): Script {
  return lines(
    sh`panel_unit_begin`,
    ...files.flatMap((w) => [knownSha(w), filled(sh`panel_unit_add ${w.path} ${modeAndOwner(w)} ${w.backup}`, w.fill)]),
    sh`panel_unit_commit ${arg(validate)} || exit 1`,
  );
}
