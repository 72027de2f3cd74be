/**
 * put/get built on one primitive shared by every transport: run a bash
 * script fed on stdin, as root. The file bytes travel raw on the same stdin,
 * right after the script, so a 2 MB file costs 2 MB (not 2.7 MB of base64)
 * and never passes through argv.
 */
import { quote } from '../shell.js';
import type { ExecOptions } from './types.js';

export interface RawResult {
  readonly code: number;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** Run `stdin` (a script, possibly followed by data) with `bash -s`. */
export type RawRun = (stdin: Buffer, opts: ExecOptions) => Promise<RawResult>;

/** Exit code of the get script when the file does not exist. */
const ABSENT_CODE = 3;
const ABSENT_MARK = 'panel: absent';

/**
 * The whole script is one `{ … }` group ending in `exit`: bash parses the
 * group completely before running it (reading a pipe byte by byte, so it
 * leaves the data unread), `head -c` then consumes exactly the data, and the
 * `exit` guarantees bash never reads the data as commands.
 */
export function putScript(path: string, size: number, mode: number | undefined): string {
  const setMode =
    mode === undefined
      ? // Replacing a file keeps its mode and owner; a new file gets 0644.
        `if [ -e "$dest" ]; then chmod --reference="$dest" -- "$tmp"; chown --reference="$dest" -- "$tmp"; else chmod 0644 -- "$tmp"; fi`
      : `chmod ${formatMode(mode)} -- "$tmp"`;
  return `{
set -euo pipefail
dest=${quote(path)}
dir=$(dirname -- "$dest")
mkdir -p -- "$dir"
tmp=$(mktemp -- "$dir/.panel-put.XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
head -c ${size} > "$tmp"
got=$(stat -c %s -- "$tmp")
if [ "$got" != ${size} ]; then echo "panel: short write to $dest ($got of ${size} bytes)" >&2; exit 1; fi
${setMode}
mv -fT -- "$tmp" "$dest"
trap - EXIT
exit 0
}
`;
}

export function getScript(path: string): string {
  return `{
f=${quote(path)}
if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo '${ABSENT_MARK}' >&2; exit ${ABSENT_CODE}; fi
exec cat -- "$f"
}
`;
}

function formatMode(mode: number): string {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new Error(`invalid file mode ${mode}`);
  return mode.toString(8).padStart(4, '0');
}

function checkPath(path: string): void {
  if (!path.startsWith('/')) throw new Error(`path must be absolute: ${path}`);
}

export async function putVia(run: RawRun, host: string, path: string, content: Buffer, mode?: number): Promise<void> {
  checkPath(path);
  const script = Buffer.from(putScript(path, content.length, mode));
  const r = await run(Buffer.concat([script, content]), { sudo: true });
  if (r.code !== 0) throw new Error(`${host}: writing ${path} failed (exit ${r.code}): ${lastLines(r.stderr)}`);
}

export async function getVia(run: RawRun, host: string, path: string): Promise<Buffer | undefined> {
  checkPath(path);
  const r = await run(Buffer.from(getScript(path)), { sudo: true });
  if (r.code === 0) return r.stdout;
  if (r.code === ABSENT_CODE && r.stderr.toString().trim() === ABSENT_MARK) return undefined;
  throw new Error(`${host}: reading ${path} failed (exit ${r.code}): ${lastLines(r.stderr)}`);
}

/** The last few lines of stderr, for one-line error messages. */
export function lastLines(stderr: Buffer | string, n = 3): string {
  const lines = stderr.toString().trim().split('\n').filter((l) => l.trim() !== '');
  return lines.length === 0 ? '(no stderr)' : lines.slice(-n).join(' | ');
}
