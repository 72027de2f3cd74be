/** A local file named by a flag (`--registry-auth`, `--openfaas-license`), read here with a located, one-line error. */
import { readFileSync } from 'node:fs';

export function readFlagFile(flag: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${flag} ${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
}
