/**
 * faasd the way `faasd install` lays it out (REFERENCE §3), written by panel
 * itself: the pinned binary (sha256-verified), /var/lib/faasd with its
 * compose file, Prometheus config and resolv.conf, basic-auth secrets
 * (generated once; 0644 files in a 0700 root directory, as upstream's
 * makeFile writes them), and both systemd units. Unlike upstream, which only
 * `start`s, services restart when their binary, unit or config changed, so
 * an upgrade never leaves the old binary running.
 */
import { sh } from '../src/shell.js';
import { readFlagFile } from '../src/flag-file.js';
import { z } from 'zod';
import { ARTIFACTS, artifactsOf, fetchOf, versionSchema } from '../src/artifacts/index.js';
import type { HostConfig } from '../src/config.js';
import type { HostInfo } from '../src/host-info.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { directory, download, file, secretFile, service, template, ufwAllowIn, unit } from '../src/resources/index.js';
import type { Resource } from '../src/resources/types.js';
import { OPENFAAS_NET } from '../src/stack/openfaas-net.js';
import { proxyDropIn } from '../src/stack/proxy.js';
import { renderTemplate as render } from '../src/resources/template.js';
import { removal } from '../src/resources/removal.js';
import { openfaasNamespaces, openfaasShims, whenRecorded } from '../src/stack/teardown.js';
import { EDGE_REFUSAL, FAASD_CE_NOTICE, openfaasLicenseFile } from './faasd-license.js';

export const FAASD = {
  bin: '/usr/local/bin/faasd',
  dir: '/var/lib/faasd',
  providerDir: '/var/lib/faasd-provider',
  secrets: '/var/lib/faasd/secrets',
  userFile: '/var/lib/faasd/secrets/basic-auth-user',
  passwordFile: '/var/lib/faasd/secrets/basic-auth-password',
  registryAuth: '/var/lib/faasd/.docker/config.json',
  /** Where `faasd install` puts its units. */
  unitDir: '/lib/systemd/system',
  gateway: 'http://127.0.0.1:8080',
} as const;

/**
 * The basic-auth files are 0644, as upstream's `makeFile` writes them
 * (faasd:cmd/up.go): faasd bind-mounts them into the gateway and queue-worker,
 * whose images run as non-root users (`app`, `nonroot`), and the gateway
 * log.Panicf's when it cannot read them. Other host users are kept out by the
 * 0700 root directory; the runtime resolves a bind mount as root.
 */
export const SECRET_FILE_MODE = 0o644;
export const SECRET_DIR_MODE = 0o700;

export const FAAS_CLI_BIN = '/usr/local/bin/faas-cli';
/** How long the gateway may take to answer after a change: faasd pulls four images at its first start. */
export const GATEWAY_START_SECONDS = 180;

/**
 * 63 random alphanumerics, like upstream. pipefail is off inside the
 * subshell: `head` closing the pipe makes `tr` die of SIGPIPE by design.
 */
export const GENERATE_PASSWORD = sh`( set +o pipefail; LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 63 )`;

const ipv4 = z.string().regex(/^(\d{1,3})(\.\d{1,3}){3}$/, 'an IPv4 address');

const params = z
  .object({
    version: versionSchema.default(ARTIFACTS.faasd.defaultVersion),
    /**
     * Name servers handed to the core containers. Default: the host's own
     * (see containerNameservers); upstream ships 8.8.8.8, which some networks
     * block (faasd#174, #176, #181).
     */
    nameservers: z.array(ipv4).min(1).optional(),
    /** Install faas-cli too (verified against its release's faas-cli.sha256 unless pinned or given). */
    faasCli: z.boolean().default(false),
    faasCliVersion: versionSchema.default(ARTIFACTS['faas-cli'].defaultVersion),
    /** `ce` (faasd CE, the release binary) or `edge` (OpenFaaS Edge: refused, see EDGE_REFUSAL). */
    edition: z.enum(['ce', 'edge']).default('ce'),
  })
  .strict();

/** Last resort when the host names no usable server: upstream's choice. */
export const FALLBACK_NAMESERVER = '8.8.8.8';

/**
 * The servers the core containers get in /var/lib/faasd/resolv.conf: the
 * host's upstream IPv4 servers (systemd-resolved's list, never its
 * 127.0.0.53 stub, which containers cannot reach; containers on openfaas0
 * have no IPv6), at most three (resolv.conf's limit); 8.8.8.8 only when the
 * host names none.
 */
export function containerNameservers(host: Pick<HostInfo, 'nameservers'>, given: readonly string[] | undefined): readonly string[] {
  if (given) return given;
  const own = host.nameservers.filter((n) => ipv4.safeParse(n).success).slice(0, 3);
  return own.length ? own : [FALLBACK_NAMESERVER];
}

/** A docker config.json is JSON with (usually) an `auths` map; refuse anything else before it reaches the host. */
const dockerConfig = z.looseObject({ auths: z.record(z.string(), z.unknown()).optional() });

export function readRegistryAuth(path: string): string {
  const text = readFlagFile('--registry-auth', path);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`--registry-auth ${path}: not JSON (${(e as Error).message})`);
  }
  const ok = dockerConfig.safeParse(json);
  if (!ok.success || Array.isArray(json)) throw new Error(`--registry-auth ${path}: not a docker config.json object`);
  return text;
}

function registryAuth(config: Pick<HostConfig, 'registryAuth'>): Resource[] {
  if (config.registryAuth === undefined) return [];
  return [
    directory({ path: `${FAASD.dir}/.docker`, mode: 0o700 }),
    // Registry tokens: stored 0600, content never shown in diffs.
    file({ path: FAASD.registryAuth, content: readRegistryAuth(config.registryAuth), mode: 0o600, secret: true }),
  ];
}

const unitData = {
  faasdBin: FAASD.bin,
  faasdDir: FAASD.dir,
  providerDir: FAASD.providerDir,
  secretMountPath: FAASD.secrets,
};

export default defineRecipe({
  id: 'faasd',
  title: 'faasd (OpenFaaS on containerd)',
  after: ['containerd', 'cni', 'bridge'],
  params,
  precheck: ({ params }) => (params.edition === 'edge' ? EDGE_REFUSAL : undefined),
  artifacts: (params) => [
    { name: 'faasd', version: params.version },
    ...(params.faasCli ? [{ name: 'faas-cli' as const, version: params.faasCliVersion }] : []),
  ],
  resources: (ctx) => {
    const { params, host, config } = ctx;
    const artifacts = artifactsOf(ctx);
    // The licence line is said wherever the binary is about to land for the first time.
    const binary = download({ ...fetchOf(artifacts.get('faasd', params.version)), dest: FAASD.bin, mode: 0o755, firstInstallNotice: FAASD_CE_NOTICE });

    const layout = [
      directory({ path: FAASD.dir }),
      directory({ path: FAASD.secrets, mode: SECRET_DIR_MODE }),
      // NATS and Prometheus run as nobody and keep their data here.
      directory({ path: `${FAASD.dir}/nats`, owner: 'nobody', group: 'nogroup' }),
      directory({ path: `${FAASD.dir}/prometheus`, owner: 'nobody', group: 'nogroup' }),
      directory({ path: FAASD.providerDir }),
    ];
    const user = file({ path: FAASD.userFile, content: 'admin', mode: SECRET_FILE_MODE });
    const password = secretFile({
      path: FAASD.passwordFile,
      mode: SECRET_FILE_MODE,
      generate: GENERATE_PASSWORD,
      ...(config.password !== undefined ? { value: config.password } : {}),
    });
    const compose = template({
      path: `${FAASD.dir}/docker-compose.yaml`,
      source: 'docker-compose.yaml.hbs',
      data: { gatewayListen: '8080' },
    });
    const prometheus = template({ path: `${FAASD.dir}/prometheus.yml`, source: 'prometheus.yml.hbs', data: {} });
    const resolv = template({ path: `${FAASD.dir}/resolv.conf`, source: 'resolv.conf.hbs', data: { nameservers: containerNameservers(host, params.nameservers) } });

    const providerUnit = unit({
      name: 'faasd-provider.service',
      dir: FAASD.unitDir,
      content: render('faasd-provider.service.hbs', unitData),
    });
    const faasdUnit = unit({ name: 'faasd.service', dir: FAASD.unitDir, content: render('faasd.service.hbs', unitData) });
    const providerProxy = proxyDropIn('faasd-provider.service', config);
    const faasdProxy = proxyDropIn('faasd.service', config);

    // Secrets are bind-mounted as files: a replaced file is only seen after a restart.
    const providerInputs: Resource[] = [binary, providerUnit, user, password, ...(providerProxy ? [providerProxy] : [])];
    const faasdInputs: Resource[] = [binary, faasdUnit, compose, prometheus, resolv, user, password, ...(faasdProxy ? [faasdProxy] : [])];

    const faasCli = params.faasCli
      ? [download({ ...fetchOf(artifacts.get('faas-cli', params.faasCliVersion)), dest: FAAS_CLI_BIN, mode: 0o755 })]
      : [];

    return [
      binary,
      ...layout,
      user,
      password,
      compose,
      prometheus,
      resolv,
      ...registryAuth(config),
      ...openfaasLicenseFile(config.openfaasLicense),
      // Containers call the provider on the bridge's address; ufw's default
      // deny incoming (Ubuntu cloud images) drops that (faasd#275). Added only
      // where ufw is active.
      ufwAllowIn({ iface: OPENFAAS_NET.bridge, port: 8081, proto: 'tcp' }),
      providerUnit,
      faasdUnit,
      ...(providerProxy ? [providerProxy] : []),
      ...(faasdProxy ? [faasdProxy] : []),
      service({ name: 'faasd-provider', enabled: true, running: true, restartOn: providerInputs }),
      service({ name: 'faasd', enabled: true, running: true, restartOn: faasdInputs }),
      ...faasCli,
    ];
  },
  // faasd first, then its provider (faasd's own stop runs CNI DEL for its
  // core containers); then what containerd still holds for OpenFaaS; the
  // binary last: containerd uses it as the log driver of every task.
  // Kept without --purge: /var/lib/faasd (basic-auth secrets, volumes,
  // registry credentials), reused by the next install.
  teardown: ({ purge }) => [
    whenRecorded('faasd', service({ name: 'faasd', enabled: false, running: false })),
    whenRecorded('faasd', service({ name: 'faasd-provider', enabled: false, running: false })),
    whenRecorded('faasd', openfaasNamespaces()),
    whenRecorded('faasd', openfaasShims()),
    removal({
      recipe: 'faasd',
      purge,
      keep: (r) => 'path' in r && (r.path === FAASD.dir || r.path.startsWith(`${FAASD.dir}/`)),
      trees: [FAASD.dir, FAASD.providerDir],
      last: [FAASD.bin],
    }),
  ],
  verify: ({ params }) => [
    { name: 'faasd-provider and faasd are active', script: sh`panel_units_active faasd-provider faasd`, expect: /^active\s+active\s*$/ },
    {
      name: `provider answers on ${OPENFAAS_NET.gateway}:8081`,
      script: sh`panel_http_code ${`http://${OPENFAAS_NET.gateway}:8081/healthz`}`,
      expect: /^200\s*$/,
    },
    {
      name: 'gateway /healthz is 200',
      // faasd pulls the gateway, queue-worker, nats and prometheus images at its
      // first start: on a slow link that takes minutes, not the run's 30 s.
      waitSeconds: GATEWAY_START_SECONDS,
      // The gateway is a containerd task: when it is down, its own words are in
      // the journal under faasd's collect tag (openfaas:gateway), not faasd's unit.
      // Non-zero on failure: verify retries a check only while it exits non-zero.
      script: sh`panel_http_code ${`${FAASD.gateway}/healthz`} 2>&1; echo; [ "$PANEL_HTTP_CODE" = 200 ] || { printf 'panel: the gateway task; last lines of its journal (journalctl -t openfaas:gateway -n 20):\n'; journalctl -t openfaas:gateway -n 20 --no-pager -q -o cat 2>&1 </dev/null | cut -c 1-300 | sed 's/^/  /'; false; }`,
      expect: /^200\s*$/,
    },
    {
      name: 'gateway /system/functions answers with basic auth',
      waitSeconds: GATEWAY_START_SECONDS,
      // basic auth from the secret files, read and encoded by bash: never in argv, never in output.
      script: sh`panel_http_code ${`${FAASD.gateway}/system/functions`} ${FAASD.userFile} ${FAASD.passwordFile}`,
      expect: /^200\s*$/,
    },
    ...(params.faasCli ? [{ name: 'faas-cli runs', script: sh`${FAAS_CLI_BIN} version --short-version`, expect: /\d/ }] : []),
  ],
});
