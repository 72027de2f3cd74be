/**
 * code-server's config.yaml with an argon2 `hashed-password` (never a plain
 * `password`). The hash is made on the machine running panel; argon2 salts
 * every hash, so a new one is made only when the installed one does not
 * verify against the password — a second run changes nothing.
 *
 * Facts carry the installed file (it holds a hash, not the password); the
 * file is a secret file: diffs are masked, mode 0600, owned by the user.
 */
import { hashPassword, verifyPassword } from './argon2.js';
import { type FileFacts, fileFactsScript, parseFileFacts, planFile } from '../resources/file.js';
import type { Change, FactOutput, PlanContext, Resource } from '../resources/types.js';
import type { Secret } from '../secret.js';
import type { Script } from '../shell.js';

export interface ConfigSpec {
  readonly path: string;
  readonly port: number;
  readonly password: Secret;
  readonly owner: string;
}

export function renderConfig(port: number, hash: string): string {
  if (!/^\$argon2(id|i|d)\$[A-Za-z0-9$=,+/.-]+$/.test(hash)) throw new Error('not an argon2 hash');
  return [
    '# Managed by panel (recipe code-server). nginx serves it at /codeserver/.',
    `bind-addr: 127.0.0.1:${port}`,
    'auth: password',
    `hashed-password: "${hash}"`,
    'cert: false',
    '',
  ].join('\n');
}

/** The hash in an installed config.yaml, if any. */
export function installedHash(content: string): string | undefined {
  return /^hashed-password:\s*"([^"\n]+)"\s*$/m.exec(content)?.[1];
}

/** The content to install: the installed hash kept when it still verifies. */
export function desiredConfig(spec: ConfigSpec, installed: string | undefined): string {
  const pw = spec.password.reveal();
  const have = installed !== undefined ? installedHash(installed) : undefined;
  const hash = have !== undefined && verifyPassword(have, pw) ? have : hashPassword(pw);
  return renderConfig(spec.port, hash);
}

export class CodeServerConfig implements Resource<FileFacts> {
  readonly key: string;
  constructor(readonly spec: ConfigSpec) {
    this.key = `file:${spec.path}`;
  }
  facts(): Script {
    return fileFactsScript(this.spec.path, true);
  }
  parse(out: FactOutput): FileFacts {
    return parseFileFacts(this.key, out);
  }
  plan(f: FileFacts, _ctx: PlanContext): Change[] {
    const installed = f.exists && f.content !== undefined ? f.content.toString('utf8') : undefined;
    const content = desiredConfig(this.spec, installed);
    return planFile(
      { key: this.key, path: this.spec.path, content: Buffer.from(content, 'utf8'), mode: 0o600, owner: this.spec.owner, group: this.spec.owner, secret: true },
      f,
    );
  }
}

export function codeServerConfig(spec: ConfigSpec): CodeServerConfig {
  return new CodeServerConfig(spec);
}
