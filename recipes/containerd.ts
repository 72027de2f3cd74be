/**
 * containerd from the pinned release tarball (sha256-verified) under
 * /usr/local, run by upstream's own unit of its release line, enabled so it
 * survives a reboot (faasd#48), restarted only when its binaries, unit or
 * config changed. The 2.3 line also gets the runc it is tested with, from
 * runc's release, and an existing config migrated to version 3. Upgrading a
 * 1.7 host in place is a restart of containerd: KillMode=process keeps the
 * shims, and with them the running tasks.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { ARTIFACTS, artifactsOf, fetchOf, versionSchema } from '../src/artifacts/index.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { archive, command, download, service, unit } from '../src/resources/index.js';
import type { Resource } from '../src/resources/types.js';
import { proxyDropIn } from '../src/stack/proxy.js';
import { renderTemplate as render } from '../src/resources/template.js';
import { removal } from '../src/resources/removal.js';
import { DEFAULT_OWNER, writeFile } from '../src/resources/write.js';
import { containerdState, whenRecorded } from '../src/stack/teardown.js';

export const CONTAINERD_PREFIX = '/usr/local';
/** The files that prove the tarball is in place (the testbed's repackaged tarball has exactly these and more). */
export const CONTAINERD_MEMBERS = ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr'] as const;

/**
 * The release lines panel supports, each with upstream's own containerd.service
 * of that line (1.7's has LimitNOFILE=infinity and After=local-fs.target; 2.x's
 * has neither) and the runc it needs beyond the host's package.
 */
export const CONTAINERD_LINES = {
  '1.7': { unit: 'containerd-1.7.service.hbs', runc: undefined },
  // containerd v2.3.4 script/setup/runc-version: runc 1.4.3; Debian 12 packages 1.1.5, 13 1.1.15.
  '2.3': { unit: 'containerd-2.3.service.hbs', runc: ARTIFACTS.runc.defaultVersion },
} as const;
export type ContainerdLine = keyof typeof CONTAINERD_LINES;

/** `1.7.34` → `1.7`; undefined for a line panel does not support. */
export function containerdLine(version: string): ContainerdLine | undefined {
  const m = /^(\d+)\.(\d+)\./.exec(version);
  const line = m ? `${m[1]}.${m[2]}` : '';
  return Object.hasOwn(CONTAINERD_LINES, line) ? (line as ContainerdLine) : undefined;
}

/** Where the release runc goes: /usr/local/sbin comes before /usr/sbin (Debian's runc) in systemd's PATH. */
export const RUNC_BIN = '/usr/local/sbin/runc';
export const CONTAINERD_CONFIG = '/etc/containerd/config.toml';

const params = z
  .object({
    version: versionSchema
      .default(ARTIFACTS.containerd.defaultVersion)
      .refine((v) => containerdLine(v) !== undefined, { message: `a containerd ${Object.keys(CONTAINERD_LINES).map((l) => `${l}.x`).join(' or ')} release` }),
    /** The runc installed from its release for lines that need a newer one than the host's package (2.3). */
    runcVersion: versionSchema.default(ARTIFACTS.runc.defaultVersion),
  })
  .strict();

/**
 * containerd 2.x reads config version 3 and migrates an older file in memory on
 * every start, warning each time (cmd/containerd/server/config: "use `containerd
 * config migrate` to avoid migration"). A host's own version 1/2 file is migrated
 * once, with upstream's command, by the new binary; the previous file is kept
 * under panel's backups. No file: nothing to migrate (panel writes none).
 */
function configMigration(): Resource {
  return command({
    name: `migrate ${CONTAINERD_CONFIG} to config version 3`,
    check: sh`! test -e ${CONTAINERD_CONFIG} || grep -Eq '^[[:space:]]*version[[:space:]]*=[[:space:]]*3([^0-9]|$)' ${CONTAINERD_CONFIG}`,
    run: writeFile({ path: CONTAINERD_CONFIG, mode: 'as-live', owner: DEFAULT_OWNER, backup: 'always', fill: { run: sh`${`${CONTAINERD_PREFIX}/bin/containerd`} config migrate` } }),
    reason: 'config older than version 3 (containerd 2.x)',
  });
}

export default defineRecipe({
  id: 'containerd',
  title: 'containerd container runtime',
  after: ['base'],
  params,
  artifacts: (params) => [
    { name: 'containerd', version: params.version },
    ...(CONTAINERD_LINES[containerdLine(params.version) ?? '1.7'].runc !== undefined ? [{ name: 'runc' as const, version: params.runcVersion }] : []),
  ],
  resources: (ctx) => {
    const { params, config } = ctx;
    const line = CONTAINERD_LINES[containerdLine(params.version) ?? '1.7'];
    const artifacts = artifactsOf(ctx);
    const binaries = archive({
      ...fetchOf(artifacts.get('containerd', params.version)),
      into: CONTAINERD_PREFIX,
      strip: 0,
      members: CONTAINERD_MEMBERS,
    });
    const runc = line.runc !== undefined ? [download({ ...fetchOf(artifacts.get('runc', params.runcVersion)), dest: RUNC_BIN, mode: 0o755 })] : [];
    const migrate = line === CONTAINERD_LINES['2.3'] ? [configMigration()] : [];
    const unitFile = unit({
      name: 'containerd.service',
      content: render(line.unit, { binDir: `${CONTAINERD_PREFIX}/bin` }),
    });
    const proxy = proxyDropIn('containerd.service', config);
    // runc is run per container operation, never kept running: a new one needs no restart.
    const changedBy: Resource[] = [binaries, ...migrate, unitFile, ...(proxy ? [proxy] : [])];
    return [
      binaries,
      ...runc,
      ...migrate,
      unitFile,
      ...(proxy ? [proxy] : []),
      service({ name: 'containerd', enabled: true, running: true, restartOn: changedBy }),
    ];
  },
  // Stopped first (KillMode=process: shims outlive it; faasd's teardown has
  // killed OpenFaaS's), then its mounts and state, then panel's files.
  teardown: ({ purge }) => [
    whenRecorded('containerd', service({ name: 'containerd', enabled: false, running: false })),
    whenRecorded('containerd', containerdState()),
    removal({ recipe: 'containerd', purge }),
  ],
  verify: ({ params }) => [
    { name: 'containerd is active', script: sh`panel_units_active containerd`, expect: /^active/ },
    ...(CONTAINERD_LINES[containerdLine(params.version) ?? '1.7'].runc !== undefined
      ? [{ name: `containerd finds runc at ${RUNC_BIN}`, script: sh`PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin command -v runc`, expect: new RegExp(`^${RUNC_BIN}\\s*$`) }]
      : []),
    // `Server:` only appears when ctr reached the daemon over its socket.
    { name: 'ctr version answers from the server', script: sh`${`${CONTAINERD_PREFIX}/bin/ctr`} version`, expect: /Server:/ },
  ],
});
