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
import { randomBytes } from 'node:crypto';
import type { AcmeConfig } from '../config.js';
import type { Change, FactOutput, HostSteps, PlanContext, Resource } from '../resources/types.js';
import { closedPorts, type UfwInboundFacts, ufwExpectOpen } from '../resources/ufw.js';
import { noStdin, opt, parseKv } from '../resources/util.js';
import { lines, type Script, sh, withBytes } from '../shell.js';
import { defaultAccountKeyFile } from './account.js';
import { refreshWindow, RenewalWindows } from './ari.js';
import { type InstalledCert, orderReason, parseCertificate, renewalDue } from './cert-info.js';
import { beforeOrder, hostProbeScript } from './before-order.js';
import { installScript } from './install.js';
import type { Challenge, Issued } from './order.js';
import { HoldStore, RateLimited, withinTime } from './rate-limit.js';
import { type Kept, KeptCertificates } from './kept.js';
import { CERTS_DIR, CHALLENGE_DIR, certDir } from './paths.js';

export interface CertificateOptions {
  /** ASCII names (validated); the first names the directory. */
  readonly names: readonly string[];
  readonly acme: AcmeConfig;
  readonly email?: string;
  /** The clock deciding renewals (tests pass a fixed one). */
  readonly now?: () => Date;
  /** Where CA rate-limit holds are kept (default: next to the account key). */
  readonly holds?: HoldStore;
  /** Where the last issued certificates are kept (default: next to the account key). */
  readonly kept?: KeptCertificates;
  /** `--open-firewall`: where ufw drops port 80, add `ufw allow 80,443/tcp` before ordering. */
  readonly openFirewall?: boolean;
  /** The CA's renewal windows (ARI), fetched by prepare before planning (default: next to the account key). */
  readonly windows?: RenewalWindows;
}

/** One bound on a whole order (account, order, ~3 min of validation, finalize, download). */
export const ORDER_TIMEOUT_MS = 10 * 60 * 1000;

/** The installed certificate, which of the directories holding it exist (for the state record), and whether ufw lets the CA in. */
export interface CertFacts extends InstalledCert {
  readonly dirsPresent: ReadonlySet<string>;
  readonly ufw: UfwInboundFacts;
  /** The host's global IPv6 addresses (a name's AAAA records must be among them). */
  readonly addr6: readonly string[];
}

/** What `--open-firewall` adds where ufw drops port 80: the rule anyone serving a site behind ufw adds. */
export const OPEN_FIREWALL_RULE = ['allow', '80,443/tcp'] as const;

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
  /** ufw's inbound facts, read with the certificate's (same round trip). */
  private readonly ufwProbe = ufwExpectOpen({ service: 'nginx', proto: 'tcp', ports: [{ port: 80, for: 'ACME HTTP-01 validation' }] });
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
        this.ufwProbe.facts(),
        sh`ip -6 -o addr show scope global 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print "addr6=" $4 }' || true`,
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
      ufw: this.ufwProbe.parse(out),
      addr6: kv.get('addr6') ?? [],
    };
  }

  private windows(): RenewalWindows {
    return this.o.windows ?? RenewalWindows.forDirectory(this.o.acme.directory);
  }

  private now(): Date {
    return (this.o.now ?? (() => new Date()))();
  }

  /** The installed certificate's ARI certID when its window can decide: valid, from the wanted CA. */
  private ariIdOf(have: CertFacts, now: Date): string | undefined {
    if (have.cert?.ok !== true || have.directory !== this.o.acme.directory || now.getTime() >= have.cert.value.notAfter.getTime()) return undefined;
    return have.cert.value.ariId;
  }

  /**
   * Before planning: the CA's window for the certificate the host has, from
   * the facts, so a certificate issued from another machine (or whose kept
   * copy is gone) is renewed when the CA asks too. Asked only when the stored
   * answer's Retry-After has passed; a CA without ARI or out of reach leaves
   * the stored window or the ⅓ / ½ rule in charge (the order itself reports
   * an unreachable CA).
   */
  async prepare(have: CertFacts): Promise<readonly string[]> {
    const now = this.now();
    const id = this.ariIdOf(have, now);
    if (id === undefined) return [];
    const { acme, names } = this.o;
    try {
      await refreshWindow({ directory: acme.directory, caFile: acme.caFile, id, store: this.windows(), now });
      return [];
    } catch (e) {
      return [`renewal information (ARI) for ${names.join(', ')} from ${acme.directory} not fetched: ${(e as Error).message}; the stored window or the ⅓ / ½ rule applies`];
    }
  }

  plan(have: CertFacts, _ctx: PlanContext): Change[] {
    const { names, acme } = this.o;
    const now = this.now();
    // The CA's window for the installed certificate, when one was fetched for it (prepare).
    const ariId = this.ariIdOf(have, now);
    const windows = this.windows();
    const ari = windows.window(ariId);
    const reason = orderReason(have, { names, directory: acme.directory }, now, ari);
    if (reason === undefined) return [];
    // RFC 9773 §5: a renewal names what it replaces (Let's Encrypt exempts it from some limits).
    const replaces = ari ? ariId : undefined;
    const dir = this.dir;
    const email = this.o.email;
    const holds = this.o.holds ?? HoldStore.forDirectory(acme.directory);
    // A rate limit the CA named earlier: planned and shown, but the CA is not asked before it ends.
    const hold = holds.active(names, now);
    const holdText = hold ? `; the CA rate-limited these names until ${hold.until} (${hold.detail})` : '';
    const keptStore = this.o.kept ?? KeptCertificates.forDirectory(acme.directory);
    const change = {
      resource: this.key,
      action: have.cert === undefined ? ('create' as const) : ('update' as const),
      target: `certificate ${names.join(', ')} in ${dir}`,
      // What the state record keeps: the directories the install creates, then the files.
      records: [
        ...this.dirs().map((path) => ({ kind: 'directory' as const, path, existed: have.dirsPresent.has(path) })),
        { kind: 'file' as const, path: `${dir}/privkey.pem`, existed: have.keyPresent },
        { kind: 'file' as const, path: `${dir}/fullchain.pem`, existed: have.cert !== undefined },
        { kind: 'file' as const, path: `${dir}/directory`, existed: have.directory !== undefined },
      ],
    };
    const kept = reusable(keptStore.load(names), have, acme.directory, now, windows);
    if (kept) {
      // Issued earlier, never installed (the install step failed): install it, no new order.
      return [
        {
          ...change,
          reason: `${reason}; install the certificate issued ${kept.info.notBefore.toISOString()} (serial ${kept.info.serial}, kept in ${keptStore.dir}): still valid, no new order`,
          local: () => Promise.resolve(installScript(dir, kept, acme.directory)),
        },
      ];
    }
    // Pre-flight: an order the CA cannot validate costs one of 5 failed validations per hour.
    const dropped = closedPorts(have.ufw, [80], 'tcp').length > 0;
    const rule = `ufw ${OPEN_FIREWALL_RULE.join(' ')}`;
    const opening: Change[] =
      dropped && this.o.openFirewall
        ? [
            {
              resource: `ufw:${OPEN_FIREWALL_RULE.join(' ')}`,
              action: 'create',
              target: rule,
              reason: 'ufw drops incoming 80/tcp, which the CA\'s HTTP-01 validation needs (--open-firewall)',
              records: [{ kind: 'firewall', rule, existed: false }],
              script: sh`__out=$(ufw ${[...OPEN_FIREWALL_RULE]} 2>&1) || panel_fail ${`${rule} failed:`} "$__out"`,
            },
          ]
        : [];
    const blocked = dropped && !this.o.openFirewall ? `ufw on the host drops incoming 80/tcp, so the CA cannot reach the challenge; fix: add --open-firewall (panel runs \`${rule}\`) or run \`${rule}\` on the host` : undefined;
    return [
      ...opening,
      {
        ...change,
        reason: `${reason}; order from ${acme.directory}${acme.profile !== undefined ? ` (profile ${acme.profile})` : ''}${replaces !== undefined ? ` replacing ${replaces}` : ''}${holdText}${blocked ? `; no order: ${blocked}` : ''}`,
        local: async (host, followUps = []) => {
          if (blocked) throw new Error(`ACME: not ordering ${names.join(', ')}: ${blocked}`);
          if (hold) throw new Error(`ACME: not asking ${acme.directory} for ${names.join(', ')} before ${hold.until}: it answered rateLimited: ${hold.detail} (recorded in ${holds.file})`);
          const challenges = new ChallengeFiles(host);
          let issued: Issued;
          try {
            const before = await beforeOrder(names, dir, followUps);
            // acme-client loads only when a certificate is ordered, not at start-up.
            const { directoryMeta, order } = await import('./order.js');
            const meta = await directoryMeta(acme.directory, acme.caFile);
            // What the CA will see can be checked where its resolvers are known: a CA that checks CAA
            // (public DNS), or the resolver given for a private CA. Failures cost no validation.
            if (acme.resolver !== undefined || (meta.caaIdentities?.length ?? 0) > 0) {
              const problems = await runPreflight(this.o, challenges, have.addr6, meta.caaIdentities, before);
              if (problems.length > 0) throw new Error(`ACME: not ordering ${names.join(', ')} (pre-flight, the CA was not asked): ${problems.join('; ')}`);
            } else {
              await host.run(before);
            }
            issued = await withinTime(order(
              {
                directory: acme.directory,
                ...(acme.caFile !== undefined ? { caFile: acme.caFile } : {}),
                ...(acme.profile !== undefined ? { profile: acme.profile } : {}),
                ...(replaces !== undefined ? { replaces } : {}),
                accountKeyFile: acme.accountKeyFile ?? defaultAccountKeyFile(acme.directory),
                ...(email !== undefined ? { email } : {}),
                names,
                notice: (line) => process.stderr.write(`panel: ${line}\n`),
              },
              challenges,
            ), ORDER_TIMEOUT_MS, `ACME order for ${names.join(', ')} at ${acme.directory}`);
          } catch (e) {
            await challenges.withdrawNow();
            if (e instanceof RateLimited) {
              holds.record(names, { until: e.retryAt.toISOString(), detail: e.detail });
              throw new Error(`ACME: ${acme.directory} answered rateLimited for ${names.join(', ')}: ${e.detail}; panel will not ask again before ${e.retryAt.toISOString()} (recorded in ${holds.file})`);
            }
            throw new Error(`${e instanceof Error ? e.message : String(e)}\n${pendingHint(names)}`, { cause: e });
          }
          holds.clear(names);
          // Kept before the host sees it: a failed install step does not cost another order.
          keptStore.save(names, issued);
          await fetchNewWindow(acme, issued, windows);
          // The CA is done with the challenge files: withdrawn first, so a failing install leaves none behind.
          return lines(challenges.withdrawScript(), installScript(dir, issued, acme.directory));
        },
      },
    ];
  }
}

/** A random probe in the challenge directory, fetched as the CA would fetch a challenge, from the host itself and from here. */
async function runPreflight(o: CertificateOptions, challenges: ChallengeFiles, addr6: readonly string[], caaIdentities: readonly string[] | undefined, before: Script): Promise<string[]> {
  const probe = { token: `panel-preflight-${randomBytes(12).toString('hex')}`, content: randomBytes(24).toString('base64url') };
  const files = [{ domain: o.names[0]!, token: probe.token, keyAuthorization: probe.content }];
  // Withdrawn whatever happens next (a refusal in the step below included).
  await challenges.unpublish(files);
  // nginx -t (as it stands and as the certificate would make it) in the same host step: a
  // configuration nginx refuses would refuse the new certificate too; then the host's own fetch.
  await challenges.publish(files, before, hostProbeScript(o.names, probe));
  const { preflight } = await import('./preflight.js');
  return preflight({ names: o.names, hostV6: addr6, probe, ...(o.acme.resolver !== undefined ? { resolver: o.acme.resolver } : {}), ...(caaIdentities ? { caaIdentities } : {}) });
}

/**
 * The new certificate's window, asked while the CA is at hand, so the status
 * page written at the end of this run shows when panel will renew it. Best
 * effort: the next run's prepare asks again.
 */
async function fetchNewWindow(acme: AcmeConfig, issued: Issued, windows: RenewalWindows): Promise<void> {
  const info = parseCertificate(issued.certPem);
  if (!info.ok || info.value.ariId === undefined) return;
  await refreshWindow({ directory: acme.directory, caFile: acme.caFile, id: info.value.ariId, store: windows, now: new Date() }).catch(() => undefined);
}

/** The kept certificate when it can stand in for an order: not the installed one, and not due for renewal itself. */
function reusable(kept: Kept | undefined, have: CertFacts, directory: string, now: Date, windows: RenewalWindows): Kept | undefined {
  if (kept === undefined || now.getTime() >= renewalDue(kept.info, windows.window(kept.info.ariId)).at.getTime()) return undefined;
  const installed = have.cert?.ok === true && have.keyPresent && have.directory === directory && have.cert.value.serial === kept.info.serial;
  return installed ? undefined : kept;
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

  async publish(challenges: readonly Challenge[], first?: Script, then?: Script): Promise<void> {
    // The directory is the nginx recipe's (it serves it); a missing one fails this step.
    await this.host.run(lines(first, ...challenges.flatMap((c) => [withBytes(sh`base64 -d > ${challengePath(c)}`, Buffer.from(c.keyAuthorization, 'utf8')), sh`chmod 0644 -- ${challengePath(c)}`]), then));
  }

  unpublish(challenges: readonly Challenge[]): Promise<void> {
    this.withdrawn = [...this.withdrawn, ...challenges];
    return Promise.resolve();
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
