/**
 * The certificate resource: facts are the installed certificate (public) and
 * whether its key exists; the plan is pure (orderReason). When a new
 * certificate is needed it plans ONE change, carried out with the engine:
 *   1. local: new order at the CA; its challenges are handed to the engine
 *      as a host step (one round trip, batched with what is still waiting);
 *   2. local: the CA validates, we finalize and download (no host contact);
 *   3. host: the script returned to the engine installs the files (nginx -t,
 *      reload, restore on failure) and withdraws the challenges; it shares
 *      its round trip with the changes after it — on a first certificate the
 *      site's switch to https, which the site resource plans as its follow-up
 *      (the change's `records` name the files, so it can).
 * If the order fails, the challenges are withdrawn in one more host step and
 * nothing else changed. A converged host never talks to the CA.
 */
import type { AcmeConfig } from '../config.js';
import type { Change, FactOutput, HostSteps, PlanContext, Resource } from '../resources/types.js';
import { noStdin, opt, parseKv } from '../resources/util.js';
import { lines, type Script, sh, writeBytesScript } from '../shell.js';
import { defaultAccountKeyFile } from './account.js';
import { type InstalledCert, orderReason, parseCertificate } from './cert-info.js';
import { installScript } from './install.js';
import type { Challenge, Issued } from './order.js';
import { CERTS_DIR, CHALLENGE_DIR, certDir } from './site.js';

export interface CertificateOptions {
  /** ASCII names (validated); the first names the directory. */
  readonly names: readonly string[];
  readonly acme: AcmeConfig;
  readonly email?: string;
  /** The clock deciding renewals (tests pass a fixed one). */
  readonly now?: () => Date;
}

/** The installed certificate, and which of the directories holding it exist (for the state record). */
export interface CertFacts extends InstalledCert {
  readonly dirsPresent: ReadonlySet<string>;
}

/**
 * What a failed order leaves and how to get out of it, for the recap: the
 * site stays as it was planned without a certificate (challenges and a 503
 * page on port 80, no login over plain HTTP) until a run gets one.
 */
export function pendingHint(names: readonly string[]): string {
  return [
    `No certificate for ${names.join(', ')} yet: port 80 serves only ACME challenges and a 503 "certificate pending" page; /panel/, the UI and the IDE are not served until one is issued.`,
    'To fix, then run install again:',
    `  DNS: ${names.join(', ')} must resolve (A/AAAA) to this host's public address;`,
    '  port 80: the CA must reach this host on port 80 (http://NAME/.well-known/acme-challenge/);',
    "  firewall: allow 80 and 443/tcp (the provider's firewall or security group; ufw: ufw allow 80,443/tcp).",
  ].join('\n');
}

export class CertificateResource implements Resource<CertFacts> {
  readonly key: string;
  readonly dir: string;
  constructor(readonly o: CertificateOptions) {
    const primary = o.names[0];
    if (primary === undefined) throw new Error('certificate: no domain names');
    this.key = `certificate:${primary}`;
    this.dir = certDir(primary);
  }

  /** /etc/panel, /etc/panel/certs, /etc/panel/certs/<name>: created by the install when missing. */
  private dirs(): string[] {
    return [CERTS_DIR.slice(0, CERTS_DIR.lastIndexOf('/')), CERTS_DIR, this.dir];
  }

  facts(): Script {
    const d = this.dir;
    return noStdin(
      lines(
        sh`if [ -s ${`${d}/fullchain.pem`} ]; then printf 'cert=%s\n' "$(base64 -w0 < ${`${d}/fullchain.pem`})"; fi`,
        sh`if [ -s ${`${d}/privkey.pem`} ]; then echo key=1; else echo key=0; fi`,
        sh`if [ -s ${`${d}/directory`} ]; then printf 'directory=%s\n' "$(base64 -w0 < ${`${d}/directory`})"; fi`,
        ...this.dirs().map((p, i) => sh`if [ -d ${p} ]; then echo dir${String(i)}=1; else echo dir${String(i)}=0; fi`),
      ),
    );
  }

  parse(out: FactOutput): CertFacts {
    const kv = parseKv(this.key, out);
    const cert = opt(kv, 'cert');
    const directory = opt(kv, 'directory');
    return {
      cert: cert ? parseCertificate(Buffer.from(cert, 'base64').toString('utf8')) : undefined,
      keyPresent: opt(kv, 'key') === '1',
      directory: directory ? Buffer.from(directory, 'base64').toString('utf8').trim() : undefined,
      dirsPresent: new Set(this.dirs().filter((_, i) => opt(kv, `dir${i}`) === '1')),
    };
  }

  plan(have: CertFacts, _ctx: PlanContext): Change[] {
    const { names, acme } = this.o;
    const reason = orderReason(have, { names, directory: acme.directory }, (this.o.now ?? (() => new Date()))());
    if (reason === undefined) return [];
    const dir = this.dir;
    const email = this.o.email;
    return [
      {
        resource: this.key,
        action: have.cert === undefined ? 'create' : 'update',
        target: `certificate ${names.join(', ')} in ${dir}`,
        reason: `${reason}; order from ${acme.directory}${acme.profile !== undefined ? ` (profile ${acme.profile})` : ''}`,
        // What the state record keeps: the directories the install creates, then the files.
        records: [
          ...this.dirs().map((path) => ({ kind: 'directory' as const, path, existed: have.dirsPresent.has(path) })),
          { kind: 'file', path: `${dir}/privkey.pem`, existed: have.keyPresent },
          { kind: 'file', path: `${dir}/fullchain.pem`, existed: have.cert !== undefined },
          { kind: 'file', path: `${dir}/directory`, existed: have.directory !== undefined },
        ],
        local: async (host) => {
          const challenges = new ChallengeFiles(host);
          let issued: Issued;
          try {
            // acme-client loads only when a certificate is ordered, not at start-up.
            const { order } = await import('./order.js');
            issued = await order(
              {
                directory: acme.directory,
                ...(acme.caFile !== undefined ? { caFile: acme.caFile } : {}),
                ...(acme.profile !== undefined ? { profile: acme.profile } : {}),
                accountKeyFile: acme.accountKeyFile ?? defaultAccountKeyFile(acme.directory),
                ...(email !== undefined ? { email } : {}),
                names,
              },
              challenges,
            );
          } catch (e) {
            await challenges.withdrawNow();
            throw new Error(`${e instanceof Error ? e.message : String(e)}\n${pendingHint(names)}`, { cause: e });
          }
          return lines(installScript(dir, issued, acme.directory), challenges.withdrawScript());
        },
      },
    ];
  }
}

/**
 * HTTP-01 challenge files in the webroot nginx serves on port 80. Publishing
 * is a host step; withdrawing is only recorded, so that on success it rides
 * along with the certificate's install script, and on failure it costs one
 * step of its own.
 */
class ChallengeFiles {
  private withdrawn: readonly Challenge[] = [];
  constructor(private readonly host: HostSteps) {}

  async publish(challenges: readonly Challenge[]): Promise<void> {
    // The directory is the nginx recipe's (it serves it); a missing one fails this step.
    await this.host.run(lines(...challenges.flatMap((c) => [writeBytesScript(Buffer.from(c.keyAuthorization, 'utf8'), challengePath(c)), sh`chmod 0644 -- ${challengePath(c)}`])));
  }

  async unpublish(challenges: readonly Challenge[]): Promise<void> {
    this.withdrawn = challenges;
  }

  withdrawScript(): Script | undefined {
    return this.withdrawn.length > 0 ? sh`rm -f -- ${this.withdrawn.map(challengePath)}` : undefined;
  }

  async withdrawNow(): Promise<void> {
    const script = this.withdrawScript();
    if (script) await this.host.run(script).catch(() => undefined);
  }
}

function challengePath(c: Challenge): string {
  return `${CHALLENGE_DIR}/${c.token}`;
}

export function certificate(o: CertificateOptions): CertificateResource {
  return new CertificateResource(o);
}
