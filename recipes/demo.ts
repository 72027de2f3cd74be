/**
 * A host built from every resource kind, for the foundation's own tests and
 * for trying panel on a throwaway machine: `panel install --recipes demo`.
 * Nothing of the faasd stack depends on it.
 */
import { sh } from '../src/shell.js';
import { z } from 'zod';
import { artifactsOf, fetchOf, type ArtifactSet } from '../src/artifacts/index.js';
import { defineRecipe } from '../src/engine/recipe.js';
import {
  apt,
  archive,
  bridge,
  command,
  directory,
  download,
  file,
  kernelModule,
  secretFile,
  service,
  sysctl,
  template,
  unit,
} from '../src/resources/index.js';


export default defineRecipe({
  id: 'demo',
  title: 'demo host built from every resource kind',
  params: z.object({
    message: z.string().default('Welcome to a panel demo host').describe('text of /opt/panel-demo/motd.txt'),
    artifacts: z.boolean().default(true).describe('also fetch the faasd binary (download) and CNI plugins (archive) from the mirror'),
  }),
  artifacts: (params) =>
    params.artifacts
      ? [
          { name: 'faasd', version: FAASD_VERSION },
          { name: 'cni-plugins', version: CNI_VERSION },
        ]
      : [],
  resources: (ctx) => {
    const { params, host } = ctx;
    const demoConf = template({ path: '/etc/panel-demo.conf', source: 'demo.conf.hbs', data: { hostname: host.hostname, os: host.osPretty }, mode: 0o640 });
    const demoUnit = unit({ name: 'panel-demo.service', content: DEMO_UNIT });
    return [
    directory({ path: '/opt/panel-demo', mode: 0o755 }),
    file({ path: '/opt/panel-demo/motd.txt', content: `${params.message}\n`, mode: 0o644 }),
    demoConf,
    apt({ packages: ['hello', 'curl', 'ca-certificates'] }),
    ...(params.artifacts ? artifactResources(artifactsOf(ctx)) : []),
    demoUnit,
    service({ name: 'panel-demo.service', enabled: true, running: true, restartOn: [demoUnit, demoConf] }),
    sysctl({ key: 'net.ipv4.tcp_keepalive_time', value: '600', file: '/etc/sysctl.d/90-panel-demo.conf' }),
    // The module demo0 needs (base already declares overlay).
    kernelModule({ name: 'bridge' }),
    bridge({ name: 'demo0', address: '10.99.0.1/24' }),
    command({ name: 'demo-initialized', check: sh`test -s /var/lib/panel-demo/initialized`, run: sh`mkdir -p /var/lib/panel-demo && date -u +%FT%TZ > /var/lib/panel-demo/initialized`, reason: 'first run' }),
    secretFile({ path: '/etc/panel-demo/token', generate: sh`head -c 32 /dev/urandom | base64 | tr -d "\\n/+=" | head -c 40` }),
    ];
  },
  verify: () => [
    { name: 'demo service active', script: sh`panel_units_active panel-demo.service`, expect: /^active/ },
    { name: 'hello installed', script: sh`hello`, expect: /Hello, world!/ },
    { name: 'bridge up', script: sh`ip -br addr show demo0`, expect: /10\.99\.0\.1\/24/ },
  ],
});

const FAASD_VERSION = '0.19.7';
const CNI_VERSION = '0.9.1';

function artifactResources(artifacts: ArtifactSet) {
  return [
    download({ ...fetchOf(artifacts.get('faasd', FAASD_VERSION)), dest: '/opt/panel-demo/bin/tool', mode: 0o755 }),
    archive({ ...fetchOf(artifacts.get('cni-plugins', CNI_VERSION)), into: '/opt/panel-demo/archive', members: ['bridge', 'loopback'] }),
  ];
}

// The service only needs to stay up; its config file is read so a change of
// it is a real reason to restart.
const DEMO_UNIT = `[Unit]
Description=panel demo service
After=network.target

[Service]
Type=simple
ExecStart=/bin/sh -c 'cat /etc/panel-demo.conf >/dev/null; exec sleep infinity'
Restart=on-failure

[Install]
WantedBy=multi-user.target
`;
