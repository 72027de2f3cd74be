/**
 * The last certificate issued for a name set, kept on the machine running
 * panel (next to the account key; files 0600 in a 0700 directory) from the
 * moment the CA hands it over. When installing it on the host fails (an
 * unrelated `nginx -t` failure, a lost connection), the next run installs the
 * kept one while it is valid instead of ordering again: a twice-daily timer
 * would otherwise spend Let's Encrypt's 5-per-week duplicate limit in under
 * three days.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { registerSecret } from '../secret.js';
import { defaultAccountKeyFile } from './account.js';
import { type CertInfo, parseCertificate } from './cert-info.js';
import type { Issued } from './order.js';
import { nameSetKey } from './rate-limit.js';

export interface Kept extends Issued {
  readonly info: CertInfo;
}

export class KeptCertificates {
  constructor(readonly dir: string) {}

  static forDirectory(directory: string, env: NodeJS.ProcessEnv = process.env): KeptCertificates {
    return new KeptCertificates(join(dirname(defaultAccountKeyFile(directory, env)), 'issued'));
  }

  private place(names: readonly string[]): string {
    // The name set as a file name: names are validated DNS names (letters, digits, '-', '.').
    return join(this.dir, nameSetKey(names).replace(/,/g, '+'));
  }

  save(names: readonly string[], issued: Issued): void {
    const d = this.place(names);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    chmodSync(d, 0o700);
    for (const [file, data] of [['privkey.pem', issued.keyPem], ['fullchain.pem', Buffer.from(issued.certPem, 'utf8')]] as const) {
      const tmp = join(d, `.${file}.${process.pid}.tmp`);
      writeFileSync(tmp, data, { mode: 0o600 });
      chmodSync(tmp, 0o600);
      renameSync(tmp, join(d, file));
    }
  }

  /** The kept certificate for exactly these names, or undefined (absent, unreadable, other names). */
  load(names: readonly string[]): Kept | undefined {
    const d = this.place(names);
    let certPem: string;
    let keyPem: Buffer;
    try {
      certPem = readFileSync(join(d, 'fullchain.pem'), 'utf8');
      keyPem = readFileSync(join(d, 'privkey.pem'));
    } catch {
      return undefined;
    }
    const parsed = parseCertificate(certPem);
    if (!parsed.ok || nameSetKey(parsed.value.names) !== nameSetKey(names)) return undefined;
    registerSecret(keyPem.toString('utf8'));
    return { certPem, keyPem, info: parsed.value };
  }
}
