/** Each stack template rendered and compared with what upstream writes (REFERENCE §2, §3). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conflistData } from '../../../src/stack/openfaas-net.js';
import { renderTemplate } from '../../../src/resources/template.js';
import { proxyDropIn } from '../../../src/stack/proxy.js';
import { FileResource, planFile } from '../../../src/resources/file.js';
import { redact } from '../../../src/secret.js';
import { unitValue } from '../../../src/resources/unit.js';
import { parse as parseYaml } from 'yaml';

// REFERENCE §3, the conflist faasd writes at run time.
const REFERENCE_CONFLIST =
  '{"cniVersion":"0.4.0","name":"openfaas-cni-bridge","plugins":[{"type":"bridge","bridge":"openfaas0","isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","subnet":"10.62.0.0/16","dataDir":"/var/run/cni","routes":[{"dst":"0.0.0.0/0"}]}},{"type":"firewall"}]}';

// faasd pkg/cninetwork: the exact bytes of defaultCNIConf, which faasd rewrites on every start.
const FAASD_CONFLIST_BYTES = `
{
    "cniVersion": "0.4.0",
    "name": "openfaas-cni-bridge",
    "plugins": [
      {
        "type": "bridge",
        "bridge": "openfaas0",
        "isGateway": true,
        "ipMasq": true,
        "ipam": {
            "type": "host-local",
            "subnet": "10.62.0.0/16",
            "dataDir": "/var/run/cni",
            "routes": [
                { "dst": "0.0.0.0/0" }
            ]
        }
      },
      {
        "type": "firewall"
      }
    ]
}
`;

test('conflist: JSON equals REFERENCE byte-for-byte once compacted, and the file equals what faasd writes', () => {
  const out = renderTemplate('10-openfaas.conflist.hbs', conflistData);
  assert.equal(JSON.stringify(JSON.parse(out)), REFERENCE_CONFLIST);
  assert.equal(out, FAASD_CONFLIST_BYTES);
});

function directives(unit: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  let section = '';
  for (const line of unit.split('\n')) {
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) section = s[1] ?? '';
    const kv = /^(\w+)=(.*)$/.exec(line);
    if (kv) {
      const k = `${section}.${kv[1]}`;
      m.set(k, [...(m.get(k) ?? []), kv[2] ?? '']);
    }
  }
  return m;
}

test('containerd.service: each line has upstream\'s own unit (containerd.service at v1.7.34 and v2.3.4)', () => {
  for (const line of ['1.7', '2.3']) {
    const d = directives(renderTemplate(`containerd-${line}.service.hbs`, { binDir: '/usr/local/bin' }));
    assert.deepEqual(d.get('Service.Type'), ['notify']);
    assert.deepEqual(d.get('Service.Delegate'), ['yes']);
    assert.deepEqual(d.get('Service.KillMode'), ['process']);
    assert.deepEqual(d.get('Service.Restart'), ['always']);
    assert.deepEqual(d.get('Service.RestartSec'), ['5']);
    assert.deepEqual(d.get('Service.LimitNPROC'), ['infinity']);
    assert.deepEqual(d.get('Service.LimitCORE'), ['infinity']);
    assert.deepEqual(d.get('Service.TasksMax'), ['infinity']);
    assert.deepEqual(d.get('Service.OOMScoreAdjust'), ['-999']);
    assert.deepEqual(d.get('Service.ExecStartPre'), ['-/sbin/modprobe overlay']);
    assert.deepEqual(d.get('Service.ExecStart'), ['/usr/local/bin/containerd']);
    assert.deepEqual(d.get('Install.WantedBy'), ['multi-user.target']);
  }
  // Where the lines differ.
  const v17 = directives(renderTemplate('containerd-1.7.service.hbs', { binDir: '/usr/local/bin' }));
  const v23 = directives(renderTemplate('containerd-2.3.service.hbs', { binDir: '/usr/local/bin' }));
  assert.deepEqual(v17.get('Service.LimitNOFILE'), ['infinity']);
  assert.equal(v23.get('Service.LimitNOFILE'), undefined);
  assert.deepEqual(v17.get('Unit.After'), ['network.target local-fs.target dbus.service']);
  assert.deepEqual(v23.get('Unit.After'), ['network.target dbus.service']);
});

const unitData = {
  faasdBin: '/usr/local/bin/faasd',
  faasdDir: '/var/lib/faasd',
  providerDir: '/var/lib/faasd-provider',
  secretMountPath: '/var/lib/faasd/secrets',
};

test('faasd-provider.service matches what faasd install writes (REFERENCE §3)', () => {
  const out = renderTemplate('faasd-provider.service.hbs', unitData);
  assert.equal(
    out,
    `[Unit]
Description=faasd-provider

[Service]
MemoryMax=500M
Environment="secret_mount_path=/var/lib/faasd/secrets"
Environment="basic_auth=true"
Environment="hosts_dir=/var/lib/faasd"
ExecStart=/usr/local/bin/faasd provider
Restart=on-failure
RestartSec=10s
WorkingDirectory=/var/lib/faasd-provider

[Install]
WantedBy=multi-user.target
`,
  );
});

test('faasd.service matches what faasd install writes (REFERENCE §3)', () => {
  const d = directives(renderTemplate('faasd.service.hbs', unitData));
  assert.deepEqual(d.get('Unit.After'), ['faasd-provider.service']);
  assert.deepEqual(d.get('Service.ExecStart'), ['/usr/local/bin/faasd up']);
  assert.deepEqual(d.get('Service.WorkingDirectory'), ['/var/lib/faasd']);
  assert.deepEqual(d.get('Service.Restart'), ['on-failure']);
  assert.deepEqual(d.get('Service.RestartSec'), ['10s']);
  assert.deepEqual(d.get('Service.MemoryMax'), ['500M']);
});

test('docker-compose.yaml: gateway talks to faasd-provider:8081 with basic auth from ./secrets', () => {
  const doc = parseYaml(renderTemplate('docker-compose.yaml.hbs', { gatewayListen: '8080' })) as {
    services: Record<string, { image: string; environment?: string[]; ports?: string[]; volumes?: { source: string }[] }>;
  };
  assert.deepEqual(Object.keys(doc.services).sort(), ['gateway', 'nats', 'prometheus', 'queue-worker']);
  const gw = doc.services.gateway!;
  assert.ok(gw.environment?.includes('functions_provider_url=http://faasd-provider:8081/'));
  assert.ok(gw.environment?.includes('basic_auth=true'));
  assert.ok(gw.environment?.includes('function_namespace=openfaas-fn'));
  assert.deepEqual(gw.ports, ['8080:8080']);
  assert.deepEqual(gw.volumes?.map((v) => v.source), ['./secrets/basic-auth-password', './secrets/basic-auth-user']);
});

// faasd 0.19.7's docker-compose.yaml (`git show 0.19.7:docker-compose.yaml` in openfaas/faasd):
// a release install fetches the tag's file, so these tags, not master's (gateway 0.27.13 came after).
const FAASD_0_19_7_IMAGES = {
  nats: 'docker.io/library/nats-streaming:0.25.6',
  prometheus: 'docker.io/prom/prometheus:v3.1.0',
  gateway: 'ghcr.io/openfaas/gateway:0.27.12',
  'queue-worker': 'ghcr.io/openfaas/queue-worker:0.14.2',
};

test('docker-compose.yaml: every image tag is the one faasd 0.19.7 pins', () => {
  const doc = parseYaml(renderTemplate('docker-compose.yaml.hbs', { gatewayListen: '8080' })) as { services: Record<string, { image: string }> };
  assert.deepEqual(Object.fromEntries(Object.entries(doc.services).map(([k, v]) => [k, v.image])), FAASD_0_19_7_IMAGES);
});

test('prometheus.yml scrapes the gateway and the provider', () => {
  const doc = parseYaml(renderTemplate('prometheus.yml.hbs', {})) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
  const targets = Object.fromEntries(doc.scrape_configs.map((s) => [s.job_name, s.static_configs[0]?.targets]));
  assert.deepEqual(targets, { prometheus: ['localhost:9090'], gateway: ['gateway:8082'], provider: ['faasd-provider:8081'] });
});

test('resolv.conf lists the name servers', () => {
  assert.equal(renderTemplate('resolv.conf.hbs', { nameservers: ['8.8.8.8'] }), 'nameserver 8.8.8.8\n');
  assert.equal(renderTemplate('resolv.conf.hbs', { nameservers: ['1.1.1.1', '9.9.9.9'] }), 'nameserver 1.1.1.1\nnameserver 9.9.9.9\n');
});

test('proxy drop-in sets HTTP_PROXY, HTTPS_PROXY and NO_PROXY', () => {
  const d = directives(renderTemplate('proxy.conf.hbs', { proxy: 'http://proxy:3128', noProxy: 'localhost' }));
  const env = d.get('Service.Environment') ?? [];
  assert.ok(env.includes('"HTTP_PROXY=http://proxy:3128"'));
  assert.ok(env.includes('"HTTPS_PROXY=http://proxy:3128"'));
  assert.ok(env.includes('"NO_PROXY=localhost"'));
});

test('proxy drop-in: a % in the URL reaches systemd as %% (no specifier expands, no assignment is dropped), template syntax stays text', () => {
  const r = proxyDropIn('faasd.service', { proxy: 'http://u:p%40ss@proxy.example:3128/%h/{{password}}', noProxy: 'localhost' });
  assert.ok(r instanceof FileResource);
  const env = directives(r.spec.content.toString('utf8')).get('Service.Environment') ?? [];
  assert.ok(env.includes('"HTTP_PROXY=http://u:p%%40ss@proxy.example:3128/%%h/{{password}}"'), env.join('\n'));
  assert.ok(env.includes('"https_proxy=http://u:p%%40ss@proxy.example:3128/%%h/{{password}}"'), env.join('\n'));
  assert.equal(unitValue('a\\b"c%d'), 'a\\\\b\\"c%%d');
  assert.throws(() => unitValue('http://proxy.example\nExecStartPre=/bin/touch /tmp/pwned'), /line break/);
});

test('proxy drop-in: a proxy URL with credentials makes a 0600 drop-in whose diff is masked, and the credentials are redacted everywhere', () => {
  const withAuth = proxyDropIn('containerd.service', { proxy: 'http://panel-user:s3cr%21t-proxy@proxy.example:3128', noProxy: 'localhost' });
  assert.ok(withAuth instanceof FileResource);
  assert.equal(withAuth.spec.mode, 0o600);
  assert.equal(withAuth.spec.secret, true);
  const [change] = planFile(withAuth.spec, { exists: false });
  assert.ok(change);
  assert.doesNotMatch(JSON.stringify({ ...change, script: undefined }), /s3cr|panel-user/, 'the plan shows no credential');
  assert.equal(redact('proxy http://panel-user:s3cr!t-proxy@x and s3cr%21t-proxy'), 'proxy http://********:********@x and ********');
  const plain = proxyDropIn('containerd.service', { proxy: 'http://proxy.example:3128', noProxy: 'localhost' });
  assert.ok(plain instanceof FileResource);
  assert.equal(plain.spec.mode, 0o644);
  assert.equal(plain.spec.secret, false);
});
