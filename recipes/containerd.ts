/**
 * containerd from the pinned release tarball (sha256-verified) under
 * /usr/local, run by upstream's own unit, enabled so it survives a reboot
 * (faasd#48), restarted only when its binaries or unit changed.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { ARTIFACTS, artifactsOf, fetchOf, versionSchema } from '../src/artifacts/index.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { archive, service, unit } from '../src/resources/index.js';
import type { Resource } from '../src/resources/types.js';
import { proxyDropIn } from './proxy.js';
import { renderTemplate as render } from '../src/resources/template.js';
import { removal } from '../src/resources/removal.js';
import { containerdState, whenRecorded } from './teardown.js';

export const CONTAINERD_PREFIX = '/usr/local';
/** The files that prove the tarball is in place (the testbed's repackaged tarball has exactly these and more). */
export const CONTAINERD_MEMBERS = ['bin/containerd', 'bin/containerd-shim-runc-v2', 'bin/ctr'] as const;

const params = z.object({ version: versionSchema.default(ARTIFACTS.containerd.defaultVersion) }).strict();

export default defineRecipe({
  id: 'containerd',
  title: 'containerd container runtime',
  after: ['base'],
  params,
  artifacts: (params) => [{ name: 'containerd', version: params.version }],
  resources: (ctx) => {
    const { params, config } = ctx;
    const binaries = archive({
      ...fetchOf(artifactsOf(ctx).get('containerd', params.version)),
      into: CONTAINERD_PREFIX,
      strip: 0,
      members: CONTAINERD_MEMBERS,
    });
    const unitFile = unit({
      name: 'containerd.service',
      content: render('containerd.service.hbs', { binDir: `${CONTAINERD_PREFIX}/bin` }),
    });
    const proxy = proxyDropIn('containerd.service', config);
    const changedBy: Resource[] = [binaries, unitFile, ...(proxy ? [proxy] : [])];
    return [
      ...changedBy,
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
  verify: () => [
    { name: 'containerd is active', script: sh`panel_units_active containerd`, expect: /^active/ },
    // `Server:` only appears when ctr reached the daemon over its socket.
    { name: 'ctr version answers from the server', script: sh`${`${CONTAINERD_PREFIX}/bin/ctr`} version`, expect: /Server:/ },
  ],
});
