/**
 * The fleet.yaml schema: the single source of truth for validation, for the
 * TypeScript types of a parsed inventory and for the JSON Schema editors use
 * (`panel schema`). Every object is strict so a misspelt key is an error
 * instead of a silently ignored setting.
 *
 * Values that reach a remote shell (address, user, domains, paths on the
 * host) are restricted to characters that cannot carry shell syntax; the
 * shell-quoting helper remains the real defence, this catches typos and
 * hostile files early, with a position.
 */
import { validResolver } from '../validate/resolver.js';
import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_NAMES, validateDomain, type DomainName } from '../validate/domain.js';
import { validateEmail } from '../validate/email.js';
import { ARTIFACT_NAMES, ARTIFACTS, type ArtifactName } from '../artifacts/table.js';

/** Render an offending value briefly for error messages. */
export function show(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  // Only primitives are left here (YAML yields no functions): their own string form.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- see above
  return String(v);
}

/**
 * Schema-level message that still lets a missing key fall through to the
 * loader's generic "missing required key" message (zod uses the first
 * error function that returns a string).
 */
const says = (text: string) => (iss: { input?: unknown }) =>
  iss.input === undefined ? undefined : `${text}, got ${show(iss.input)}`;

export const SLUG = /^[a-z][a-z0-9-]*$/;
/** Also marks recipe-id nodes in the JSON Schema, where the CLI's registry adds an enum. */
export const RECIPE_ID_DESCRIPTION = 'Recipe id, e.g. containerd';
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** What `--host` names a host (`user@addr:port`, IPv6 in brackets), so flags and files share one host schema. */
const SPEC_NAME = /^[a-z_][a-z0-9_-]{0,31}@(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}):[0-9]{1,5}$/;
const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** POSIX portable user names as Debian's adduser accepts them (no `$`: it is shell syntax). */
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** OpenSSH prints SHA256 fingerprints as unpadded base64 of 32 bytes = 43 characters. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_PATH = /^\/[A-Za-z0-9._/-]*$/;
/** Recipe parameter names are JavaScript identifiers; this also keeps `__proto__` out of merges. */
const PARAM_KEY = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$/;

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return s.toLowerCase().split('.').every((l) => HOSTNAME_LABEL.test(l));
}

export const recipeId = z.string({ error: says('a recipe id must be a lower-case slug like "containerd"') })
  .regex(SLUG, { error: says('a recipe id must be a lower-case slug like "containerd"') })
  .describe(RECIPE_ID_DESCRIPTION);

export const hostName = z.string().refine((s) => NAME.test(s) || SPEC_NAME.test(s), {
  error: says('a host name must be letters, digits, "_", "." or "-" (at most 63), starting with a letter or digit'),
});
export const groupName = z.string().regex(NAME, {
  error: says('a group name must be letters, digits, "_", "." or "-" (at most 63), starting with a letter or digit'),
});

/** http(s) URLs; characters that are shell or systemd syntax are refused even where URL parsing would allow them. */
const httpUrl = (what: string) =>
  // abort: a value that is no URL at all is one problem, not two lines.
  z.url({ protocol: /^https?$/, error: says(`${what} must be an http:// or https:// URL`), abort: true })
    .refine((u) => !/[\s'"`$;&|<>\\]/.test(u), { error: says(`${what} must be a plain http(s) URL (no spaces, quotes or shell characters)`) })
    .describe(`${what} (http or https URL)`);

/** A file on the machine running panel; relative paths are resolved against fleet.yaml's directory, `~/` is expanded. */
const localPath = (what: string) =>
  z.string({ error: says(`${what} must be a file path`) })
    .min(1, { error: `${what} must not be empty` })
    .refine((s) => !s.includes('\0'), { error: `${what} must not contain a NUL character` })
    .describe(`${what}: local file path, relative to this file's directory; ~/ is expanded`);

export const address = z.string({ error: says('address must be an IPv4/IPv6 address or a host name') })
  .refine((s) => isIP(s) !== 0 || isHostname(s), {
    error: (iss) => `address must be an IPv4/IPv6 address or a host name, got ${show(iss.input)}`,
  })
  .describe('IPv4 or IPv6 address or DNS host name to connect to');

/**
 * A domain served by the host, parsed once into a DomainName (punycode, lower
 * case) by the one domain validator; nothing downstream checks it again.
 */
export const domain = z.string({ error: says('a domain must be a DNS name') }).transform((raw, ctx): DomainName => {
  const r = validateDomain(raw);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.error });
  return z.NEVER;
}).describe('DNS name served by this host (IDN allowed, stored as punycode); no IPs, no wildcards');

export const domains = z.array(domain, { error: says('domains must be a list of DNS names') })
  .max(MAX_NAMES, { error: `at most ${MAX_NAMES} domains per host (one certificate holds at most ${MAX_NAMES} names)` });

/**
 * One NO_PROXY entry as Go's and curl's proxy code understand it: a host
 * name, an IP address, a CIDR, or `.domain` (the domain and its subdomains).
 * The list ends up in a systemd drop-in, so nothing else gets through.
 */
export function noProxyEntryProblem(entry: string): string | undefined {
  const q = JSON.stringify(entry);
  if (entry === '') return 'an empty entry (two commas in a row?)';
  if (/[\s"'`\\]/.test(entry)) return `entry ${q} contains a space, quote, backslash or line break`;
  if (isIP(entry) !== 0 || isIP(entry.replace(/^\[|\]$/g, '')) !== 0) return undefined;
  const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
  if (cidr) {
    const family = isIP(cidr[1]!);
    const max = family === 4 ? 32 : family === 6 ? 128 : -1;
    return max >= 0 && Number(cidr[2]) <= max ? undefined : `entry ${q} is not a valid CIDR (address/prefix)`;
  }
  const name = entry.startsWith('.') ? entry.slice(1) : entry;
  return isHostname(name) ? undefined : `entry ${q} is not a host name, IP address, CIDR or .domain`;
}

/** `noProxy`: a YAML list or a comma-separated string; stored comma-joined, as NO_PROXY is written. */
export const noProxy = z.union([z.string(), z.array(z.string())], { error: says('noProxy must be a list of hosts or a comma-separated string') })
  .transform((v, ctx) => {
    const entries = (Array.isArray(v) ? v : v.split(',')).map((e) => e.trim());
    for (const e of entries) {
      const problem = noProxyEntryProblem(e);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }
    return entries.join(',');
  })
  .describe('Hosts that bypass the proxy: host names, IPs, CIDRs or .domain (list or comma-separated)');

/** The ACME contact, through the one e-mail validator (the one the certificate recipe trusts). */
export const email = z.string({ error: says('email must be an e-mail address') }).transform((raw, ctx) => {
  const r = validateEmail(raw);
  if (r.ok) return r.value;
  ctx.addIssue({ code: 'custom', message: r.error });
  return z.NEVER;
}).describe('Contact e-mail for the ACME account');
export const port = z.int({ error: says('port must be an integer from 1 to 65535') })
  .min(1, { error: says('port must be an integer from 1 to 65535') })
  .max(65535, { error: says('port must be an integer from 1 to 65535') })
  .describe('SSH port (default 22)');
export const user = z.string({ error: says('user must be a POSIX user name') })
  .regex(USER, { error: says('user must be a POSIX user name (lower case letters, digits, "_", "-")') })
  .describe('SSH login user (default root)');
export const fingerprint = z.string({ error: says('fingerprint must be "SHA256:" followed by 43 base64 characters') })
  .regex(FINGERPRINT, { error: says('fingerprint must be "SHA256:" followed by 43 base64 characters (as printed by ssh-keygen -lf)') })
  .describe('Pinned host key fingerprint, as printed by `ssh-keygen -lf`: SHA256:…');

/**
 * A password never appears in the file in plain text (inventories end up
 * in git); it is read from an environment variable or a file at load time.
 */
export const password = z.strictObject({
  env: z.string().regex(ENV_NAME, { error: says('password.env must be an environment variable name') }).optional()
    .describe('Read the password from this environment variable'),
  file: localPath('password.file').optional().describe('Read the password from this file (first line)'),
}, {
  error: (iss) =>
    iss.code === 'invalid_type' && typeof iss.input === 'string'
      ? 'a plain-text password is not allowed in the inventory; use password: { env: VAR } or password: { file: ./path }'
      : undefined,
}).refine((p) => (p.env === undefined) !== (p.file === undefined), {
  error: 'password needs exactly one of env or file',
}).describe('Where to read the password from (never plain text): { env: VAR } or { file: path }');

export const params = z.record(
  recipeId,
  z.record(z.string().regex(PARAM_KEY, { error: says('a parameter name must be an identifier') }), z.unknown(), {
    error: says('recipe parameters must be a mapping of name: value'),
  }),
  { error: says('params must be a mapping of recipe id: { parameter: value }') },
).describe('Per-recipe parameters, deep-merged from defaults to group to host');

export const acme = z.strictObject({
  directory: httpUrl('acme.directory').optional(),
  caFile: localPath('acme.caFile').optional().describe('Extra CA roots (PEM) for the ACME server, e.g. Pebble'),
  accountKeyFile: localPath('acme.accountKeyFile').optional(),
  profile: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: says('acme.profile is a profile name such as tlsserver or shortlived') }).optional().describe('ACME profile for new orders (Let\'s Encrypt: classic, tlsserver, shortlived)'),
  resolver: z.string().refine(validResolver, { error: says('acme.resolver is an IP address with an optional port, e.g. 10.0.0.53:8053 or [fd00::53]:53') }).optional().describe('DNS server the CA resolves names with (a private CA such as Pebble); the pre-flight checks ask it instead of this machine\'s resolvers'),
}, { error: says('acme must be a mapping') }).describe('ACME server settings (default: Let\'s Encrypt)');

/** Artifacts whose upstream publishes no sums: the only ones a recorded first-use sum may stand in for. */
export const UNPUBLISHED_SUMS: readonly ArtifactName[] = ARTIFACT_NAMES.filter((n) => ARTIFACTS[n].checksumAsset === undefined);

/** `trustArtifacts`: a YAML list or a comma-separated string of artifact names. */
export const trustArtifacts = z.union([z.string(), z.array(z.string())], { error: says('trustArtifacts must be a list of artifact names') })
  .transform((v, ctx) => {
    const names = (Array.isArray(v) ? v : v.split(',')).map((e) => e.trim());
    for (const n of names) {
      if ((UNPUBLISHED_SUMS as readonly string[]).includes(n)) continue;
      ctx.addIssue({
        code: 'custom',
        message: (ARTIFACT_NAMES as readonly string[]).includes(n)
          ? `${JSON.stringify(n)} publishes its own sums (its release's checksum asset), which panel verifies against; only an artifact without published sums is trusted on first use (${UNPUBLISHED_SUMS.join(', ')})`
          : `${JSON.stringify(n)} is not an artifact panel installs without published sums (${UNPUBLISHED_SUMS.join(', ')})`,
      });
    }
    return [...new Set(names)] as ArtifactName[];
  })
  .describe('Artifacts without published sums (code-server) whose sha256 is recorded on the machine running panel at first use and verified on every host after');

/** Settings valid at every level (defaults, group vars, host); the most specific level wins. */
export const varsShape = {
  user: user.optional(),
  port: port.optional(),
  key: localPath('key').optional().describe('SSH private key file (default: ssh-agent)'),
  sudo: z.boolean({ error: says('sudo must be true or false') }).optional()
    .describe('Run commands with sudo -n (default: when user is not root)'),
  knownHosts: localPath('knownHosts').optional().describe('known_hosts file (default ~/.ssh/known_hosts)'),
  email: email.optional(),
  password: password.optional(),
  recipes: z.array(recipeId, { error: says('recipes must be a list of recipe ids') }).optional()
    .describe('Recipes to converge (a more specific level replaces the list)'),
  params: params.optional(),
  mirror: httpUrl('mirror').optional().describe('Replaces https://github.com in artifact URLs'),
  checksums: localPath('checksums').optional().describe('sha256sum-format file of mirrored artifacts'),
  requirePinned: z.boolean({ error: says('requirePinned must be true or false') }).optional()
    .describe('Refuse artifacts whose sum is neither pinned nor in checksums (no release checksum assets)'),
  trustArtifacts: trustArtifacts.optional(),
  proxy: httpUrl('proxy').optional(),
  noProxy: noProxy.optional(),
  registryAuth: localPath('registryAuth').optional().describe('docker config.json to install for faasd'),
  openfaasLicense: localPath('openfaasLicense').optional().describe('OpenFaaS Edge licence, installed as /var/lib/faasd/secrets/openfaas_license (0600)'),
  acme: acme.optional(),
  progressDir: z.string({ error: says('progressDir must be an absolute path on the host') })
    .regex(HOST_PATH, { error: says('progressDir must be an absolute path on the host (letters, digits, ".", "_", "-", "/")') })
    .optional().describe('Directory on the host for progress.json and logs (default /var/lib/panel)'),
} as const;

const mapping = (what: string) => ({ error: says(`${what} must be a mapping`) });

export const vars = z.strictObject(varsShape, mapping('settings'));

export const host = z.strictObject({
  address: address.optional(),
  fingerprint: fingerprint.optional(),
  domains: domains.optional(),
  ...varsShape,
  connection: z.literal('local', { error: says('connection must be "local" (or left out for SSH)') }).optional()
    .describe('local: this machine, without SSH (panel must run as root); default ssh'),
}, mapping('a host')).superRefine((h, ctx) => {
  if (h.connection !== 'local' && h.address === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'missing required key "address"' });
  if (h.connection === 'local') {
    // Settings that only an SSH connection uses would be silently ignored: refuse them instead.
    for (const k of ['address', 'fingerprint', 'port', 'user', 'key', 'knownHosts', 'sudo'] as const) {
      if (h[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'has no meaning with connection: local (this machine, without SSH)' });
    }
  }
}).describe('One host: connection, domains and any setting from defaults');

export const group = z.strictObject({
  // nullish: a section whose lines are all commented out reads as null, which means "nothing here".
  hosts: z.array(hostName, { error: says('hosts must be a list of host names') }).nullish()
    .describe('Names of hosts (declared under hosts:) in this group'),
  vars: vars.nullish().describe('Settings for the hosts of this group (later groups win)'),
}, mapping('a group'));

export const inventory = z.strictObject({
  defaults: vars.nullish().describe('Settings for every host'),
  groups: z.record(groupName, group, { error: says('groups must be a mapping of group name: { hosts, vars }') }).nullish(),
  hosts: z.record(hostName, host, { error: says('hosts must be a mapping of host name: { address, … }') })
    .refine((h) => Object.keys(h).length > 0, { error: 'hosts must name at least one host' })
    .describe('Hosts by name'),
}, mapping('the inventory')).describe('panel fleet inventory (fleet.yaml)');

export type Inventory = z.output<typeof inventory>;
export type Vars = z.output<typeof vars>;
export type HostEntry = z.output<typeof host>;
export type GroupEntry = z.output<typeof group>;

/** Keys only a host may have, for a helpful message when they appear in defaults or a group. */
export const HOST_ONLY_KEYS: readonly string[] = ['address', 'connection', 'fingerprint', 'domains'];
