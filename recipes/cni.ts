/**
 * CNI plugins where faasd looks for them (/opt/cni/bin) and the network
 * list faasd uses, byte-for-byte as faasd itself writes it on every start —
 * so faasd rewriting it is never seen as drift.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { ARTIFACTS, artifactsOf, fetchOf, versionSchema } from '../src/artifacts/index.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { archive, directory, template } from '../src/resources/index.js';
import { conflistData } from '../src/stack/openfaas-net.js';
import { removal } from '../src/resources/removal.js';
import { cniRules, cniState, whenRecorded } from '../src/stack/teardown.js';

export { conflistData };

/** Plugins faasd's conflist and go-cni's loopback network use. */
export const CNI_PLUGINS = ['bridge', 'firewall', 'host-local', 'loopback'] as const;
export const CNI_BIN_DIR = '/opt/cni/bin';
/** Since v1.x the release tarball also holds these (release.yaml: `cp README.md LICENSE bin/`): documents, not plugins. */
export const CNI_NOT_PLUGINS = ['README.md', 'LICENSE'] as const;
export const CONFLIST_PATH = '/etc/cni/net.d/10-openfaas.conflist';

const params = z.object({ version: versionSchema.default(ARTIFACTS['cni-plugins'].defaultVersion) }).strict();

export default defineRecipe({
  id: 'cni',
  title: 'CNI plugins and the openfaas network list',
  after: ['base'],
  params,
  artifacts: (params) => [{ name: 'cni-plugins', version: params.version }],
  resources: (ctx) => {
    const plugins = artifactsOf(ctx).get('cni-plugins', ctx.params.version);
    return [
      directory({ path: '/opt/cni' }),
      directory({ path: CNI_BIN_DIR }),
      archive({ ...fetchOf(plugins), into: CNI_BIN_DIR, strip: 0, members: CNI_PLUGINS, mode: 0o755, leaveOut: CNI_NOT_PLUGINS }),
      directory({ path: '/etc/cni' }),
      directory({ path: '/etc/cni/net.d' }),
      template({ path: CONFLIST_PATH, source: '10-openfaas.conflist.hbs', data: conflistData }),
    ];
  },
  // What the plugins left at run time first (rules, IPAM, result cache), then panel's files.
  teardown: ({ purge }) => [whenRecorded('cni', cniRules()), whenRecorded('cni', cniState()), removal({ recipe: 'cni', purge })],
  verify: () => [
    {
      name: 'CNI plugins are executable',
      script: sh`for p in ${CNI_PLUGINS}; do test -x ${CNI_BIN_DIR}/"$p" || exit 1; done && echo ok`,
      expect: /^ok/,
    },
  ],
});
