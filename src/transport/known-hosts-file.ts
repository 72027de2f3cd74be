/** Reading and appending the known_hosts file on the machine running panel. */
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseKnownHosts, type ParsedKnownHosts } from './known-hosts.js';

export function defaultKnownHostsFile(): string {
  return join(homedir(), '.ssh', 'known_hosts');
}

/**
 * The file as last parsed, while its size and mtime stay the same: a fleet's
 * known_hosts lists every host, and each connection used to parse all of it
 * (N hosts × N lines). A line appended (here or by anyone) changes the stat,
 * so the next reader parses again.
 */
const parsedFiles = new Map<string, { readonly stamp: string; readonly parsed: ParsedKnownHosts }>();

/** An absent file is an empty one: every host is then unknown. */
export async function readKnownHosts(file: string): Promise<ParsedKnownHosts> {
  try {
    const st = await stat(file);
    const stamp = `${st.size} ${st.mtimeMs} ${st.ino}`;
    const cached = parsedFiles.get(file);
    if (cached?.stamp === stamp) return cached.parsed;
    const parsed = parseKnownHosts(await readFile(file, 'utf8'));
    parsedFiles.set(file, { stamp, parsed });
    return parsed;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: [] };
    throw err;
  }
}

/**
 * Append one line. The directory is created 0700 and the file 0600, as
 * OpenSSH expects; an existing file keeps its mode. A missing final newline
 * in the existing file is repaired so the new line does not join the last one.
 */
export async function appendKnownHost(file: string, line: string): Promise<void> {
  const dir = dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a+', 0o600);
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.appendFile(`${prefix}${line}\n`);
  } finally {
    await fh.close();
    parsedFiles.delete(file);
  }
}
