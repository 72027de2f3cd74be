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
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { z } from 'zod';

/** Render an offending value briefly for error messages. */
export function show(v: unknown): string {
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
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
const HOSTNAME_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** POSIX portable user names as Debian's adduser accepts them (no `$`: it is shell syntax). */
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
/** OpenSSH prints SHA256 fingerprints as unpadded base64 of 32 bytes = 43 characters. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HOST_PATH = /^\/[A-Za-z0-9._/-]*$/;
const NO_PROXY = /^[A-Za-z0-9.,:*_/[\]-]+$/;
/** Recipe parameter names are JavaScript identifiers; this also keeps `__proto__` out of merges. */
const PARAM_KEY = /^(?!__proto__$)[A-Za-z_][A-Za-z0-9_]*$/;

function isHostname(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  return s.toLowerCase().split('.').every((l) => HOSTNAME_LABEL.test(l));
}

export const recipeId = z.string({ error: says('a recipe id must be a lower-case slug like "containerd"') })
  .regex(SLUG, { error: says('a recipe id must be a lower-case slug like "containerd"') })
  .describe(RECIPE_ID_DESCRIPTION);

export const hostName = z.string().regex(NAME, {
  error: says('a host name must be letters, digits, "_", "." or "-" (at most 63), starting with a letter or digit'),
});
export const groupName = z.string().regex(NAME, {
  error: says('a group name must be letters, digits, "_", "." or "-" (at most 63), starting with a letter or digit'),
});

const httpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: says(`${what} must be an http:// or https:// URL`) }).describe(`${what} (http or https URL)`);

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
 * A domain served by the host: converted to punycode (IDN) and lower case,
 * then it must be a DNS name with at least two labels — an IP or a wildcard
 * cannot get an HTTP-01 certificate.
 */
export const domain = z.string({ error: says('a domain must be a DNS name') }).transform((raw, ctx) => {
  const bad = (why: string): never => {
    ctx.addIssue({ code: 'custom', message: `${why}, got ${show(raw)}` });
    return z.NEVER;
  };
  if (raw.includes('*')) return bad('a wildcard domain cannot be used (certificates are issued per name over HTTP-01)');
  if (isIP(raw) !== 0 || isIP(raw.replace(/^\[|\]$/g, '')) !== 0) return bad('a domain must be a DNS name, not an IP address');
  const ascii = domainToASCII(raw.replace(/\.$/, ''));
  if (ascii === '' || !isHostname(ascii) || !ascii.includes('.')) return bad('a domain must be a valid DNS name like app.example.com');
  if (/^[0-9.]+$/.test(ascii)) return bad('a domain must be a DNS name, not an IP address');
  return ascii;
}).describe('DNS name served by this host (IDN allowed, stored as punycode); no IPs, no wildcards');

export const email = z.email({ error: says('email must be an e-mail address') }).describe('Contact e-mail for the ACME account');
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
}, { error: says('acme must be a mapping') }).describe('ACME server settings (default: Let\'s Encrypt)');

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
  proxy: httpUrl('proxy').optional(),
  noProxy: z.string({ error: says('noProxy must be a comma-separated list of hosts') })
    .regex(NO_PROXY, { error: says('noProxy must be a comma-separated list of hosts (no spaces)') }).optional(),
  registryAuth: localPath('registryAuth').optional().describe('docker config.json to install for faasd'),
  acme: acme.optional(),
  progressDir: z.string({ error: says('progressDir must be an absolute path on the host') })
    .regex(HOST_PATH, { error: says('progressDir must be an absolute path on the host (letters, digits, ".", "_", "-", "/")') })
    .optional().describe('Directory on the host for progress.json and logs (default /var/lib/panel)'),
} as const;

const mapping = (what: string) => ({ error: says(`${what} must be a mapping`) });

export const vars = z.strictObject(varsShape, mapping('settings'));

export const host = z.strictObject({
  address,
  fingerprint: fingerprint.optional(),
  domains: z.array(domain, { error: says('domains must be a list of DNS names') }).optional(),
  ...varsShape,
}, mapping('a host')).describe('One host: connection, domains and any setting from defaults');

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
export const HOST_ONLY_KEYS: readonly string[] = ['address', 'fingerprint', 'domains'];
