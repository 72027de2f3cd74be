/**
 * A real OCI registry for the bed (Debian's docker-registry, distribution 2.8)
 * holding STAND-IN images under the names faasd's docker-compose.yaml pulls
 * (docker.io/library/nats-streaming, docker.io/prom/prometheus,
 * ghcr.io/openfaas/gateway, ghcr.io/openfaas/queue-worker) and a test function.
 * Each image is one layer with the static program openfaas-standin.c, in the
 * place, with the user and the entrypoint of its upstream image (see the top of
 * openfaas-standin.c for what each keeps of upstream's contract).
 *
 * How hosts reach it under those names — what a user's host does: the names
 * resolve (the hosts' /etc/hosts, written like a DNS answer) to the bridge,
 * where the registry serves HTTPS on 443 with a certificate for ghcr.io,
 * registry-1.docker.io and docker.io from a testbed CA that every host trusts in
 * its system store (/etc/ssl/certs/ca-certificates.crt, as update-ca-certificates
 * writes it). containerd, ctr and faasd verify TLS and resolve names exactly as
 * they do against the real registries: nothing panel installs is configured for
 * the testbed (no hosts.toml, no insecure registry, no mirror setting).
 *
 * Built once (cached by recipe hash): the images are pushed through the
 * registry's own HTTP API into its storage tree at build time; each bed serves a
 * hard-linked copy.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { cached } from './cache.js';
import { packageRoot, STANDIN_HEADER } from './mirror.js';
import { spawnDetached, terminate, waitPort, type ProcRecord } from './procs.js';
import { mustBash } from './run.js';

const SOURCE = join(packageRoot, 'test', 'testbed', 'openfaas-standin.c');

/** Names containerd's resolver uses for the registries (docker.io is served by registry-1.docker.io). */
export const REGISTRY_NAMES = ['ghcr.io', 'registry-1.docker.io', 'docker.io'] as const;

interface ImageSpec {
  /** Repository in the registry (docker.io/ prefix dropped, library/ kept). */
  repo: string;
  tags: string[];
  /** Where the program sits in the image (its base name selects the role). */
  path: string;
  user?: string;
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  env?: string[];
  exposed?: string[];
  /** passwd/group lines beyond root and nobody. */
  passwd?: string[];
  group?: string[];
  what: string;
}

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The images, as their upstream Dockerfiles make them. Tags: what panel's
 * docker-compose.yaml pins, and faasd 0.19.7's own where they differ (gateway 0.27.12).
 */
export const IMAGES: readonly ImageSpec[] = [
  {
    repo: 'library/nats-streaming',
    tags: ['0.25.6'],
    path: '/nats-streaming-server',
    entrypoint: ['/nats-streaming-server'],
    cmd: ['-m', '8222'],
    exposed: ['4222/tcp', '8222/tcp'],
    what: 'nats-streaming: scratch image, entrypoint /nats-streaming-server, no USER (compose sets 65534)',
  },
  {
    repo: 'prom/prometheus',
    tags: ['v3.1.0'],
    path: '/bin/prometheus',
    user: 'nobody',
    entrypoint: ['/bin/prometheus'],
    cmd: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus'],
    workingDir: '/prometheus',
    exposed: ['9090/tcp'],
    what: 'prometheus: USER nobody, reads --config.file at start, :9090',
  },
  {
    repo: 'openfaas/gateway',
    tags: ['0.27.13', '0.27.12'],
    path: '/home/app/gateway',
    user: 'app',
    cmd: ['./gateway'],
    workingDir: '/home/app',
    exposed: ['8080/tcp'],
    passwd: ['app:x:100:101:Linux User,,,:/home/app:/sbin/nologin'],
    group: ['app:x:101:app'],
    what: 'gateway: USER app; panics (exit 2) when it cannot read the basic-auth secrets; :8080',
  },
  {
    repo: 'openfaas/queue-worker',
    tags: ['0.14.2'],
    path: '/usr/bin/queue-worker',
    user: 'nonroot',
    entrypoint: ['/usr/bin/queue-worker'],
    passwd: ['nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin'],
    group: ['nonroot:x:65532:'],
    what: 'queue-worker: USER nonroot (65532, distroless); reads the basic-auth secrets at start',
  },
  {
    repo: 'openfaas-testbed/hello',
    tags: ['1.0', '1.1'],
    path: '/usr/bin/function',
    user: 'app',
    cmd: ['/usr/bin/function'],
    exposed: ['8080/tcp'],
    passwd: ['app:x:100:101:Linux User,,,:/home/app:/sbin/nologin'],
    group: ['app:x:101:app'],
    what: 'a test function (not an OpenFaaS image): :8080 answers with its name, address and uid; /secret?name=N reads /var/openfaas/secrets/N; /status/CODE answers CODE',
  },
  {
    repo: 'openfaas-testbed/echo',
    tags: ['1.0'],
    path: '/usr/bin/function',
    user: 'app',
    cmd: ['/usr/bin/function'],
    exposed: ['8080/tcp'],
    passwd: ['app:x:100:101:Linux User,,,:/home/app:/sbin/nologin'],
    group: ['app:x:101:app'],
    what: 'a second test function (not an OpenFaaS image): the program of hello',
  },
  {
    repo: 'openfaas-testbed/crash',
    tags: ['1.0'],
    path: '/usr/bin/crash',
    user: 'app',
    cmd: ['/usr/bin/crash'],
    exposed: ['8080/tcp'],
    passwd: ['app:x:100:101:Linux User,,,:/home/app:/sbin/nologin'],
    group: ['app:x:101:app'],
    what: 'a test function (not an OpenFaaS image) that writes one line to stderr and exits 1 at once',
  },
];

/** A deployable test function's image, as a user would name it. */
export const FUNCTION_IMAGE = 'ghcr.io/openfaas-testbed/hello:1.0';

/** The layer of an image: tar of the rootfs (reproducible), gzipped; prints the uncompressed tar's sha256. */
const PACK_LAYER = String.raw`
set -eo pipefail
tar -C "$ROOT" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n > "$LAYER"
gzip -dc "$LAYER" | sha256sum | cut -d' ' -f1
`;

function sha256(b: Buffer | string): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** A blob upload in two requests: POST opens the session, PUT with the digest sends it whole (distribution's API). */
async function pushBlob(base: string, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const open = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  const location = open.headers.get('location');
  if (open.status !== 202 || !location) throw new Error(`registry: upload to ${repo} answered ${open.status}: ${await open.text()}`);
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  const r = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: new Uint8Array(blob) });
  if (r.status !== 201) throw new Error(`registry: blob upload to ${repo} answered ${r.status}: ${await r.text()}`);
  return digest;
}

async function buildImage(base: string, program: string, work: string, img: ImageSpec): Promise<void> {
  const root = join(work, 'rootfs');
  await rm(root, { recursive: true, force: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await mkdir(join(root, 'tmp'), { mode: 0o1777 });
  await chmod(join(root, 'tmp'), 0o1777);
  await mkdir(join(root, dirname(img.path)), { recursive: true });
  await copyFile(program, join(root, img.path));
  await chmod(join(root, img.path), 0o755);
  const lines = (xs: string[]): string => xs.map((x) => `${x}\n`).join('');
  await writeFile(join(root, 'etc/passwd'), lines(['root:x:0:0:root:/root:/sbin/nologin', 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin', ...(img.passwd ?? [])]));
  await writeFile(join(root, 'etc/group'), lines(['root:x:0:', 'nogroup:x:65534:', ...(img.group ?? [])]));
  await writeFile(join(root, 'STAND-IN'), `STAND-IN image of the panel testbed, not the real one: ${img.what}\n`);
  const layerFile = join(work, 'layer.tar.gz');
  const diffId = `sha256:${(await mustBash(PACK_LAYER, { env: { ...process.env, ROOT: root, LAYER: layerFile } })).trim()}`;
  const layer = await readFile(layerFile);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {
        ...(img.user ? { User: img.user } : {}),
        Env: [PATH, ...(img.env ?? [])],
        ...(img.entrypoint ? { Entrypoint: img.entrypoint } : {}),
        ...(img.cmd ? { Cmd: img.cmd } : {}),
        ...(img.workingDir ? { WorkingDir: img.workingDir } : {}),
        ...(img.exposed ? { ExposedPorts: Object.fromEntries(img.exposed.map((p) => [p, {}])) } : {}),
        Labels: { 'org.opencontainers.image.description': `STAND-IN (panel testbed): ${img.what}` },
      },
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'panel testbed: openfaas-standin.c (STAND-IN)' }],
    }),
  );
  const layerDigest = await pushBlob(base, img.repo, layer);
  const configDigest = await pushBlob(base, img.repo, config);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: layer.length }],
    annotations: { 'org.opencontainers.image.description': `STAND-IN (panel testbed): ${img.what}` },
  });
  for (const tag of img.tags) {
    const r = await fetch(`${base}/v2/${img.repo}/manifests/${tag}`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
    });
    if (r.status !== 201) throw new Error(`registry: manifest ${img.repo}:${tag} answered ${r.status}: ${await r.text()}`);
  }
}

/** The CA every host trusts and the registry's certificate for REGISTRY_NAMES. */
const MAKE_CERTS = String.raw`
set -e
cd "$DIR"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
  -subj "/CN=panel testbed registry CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=ghcr.io" \
  -keyout registry-key.pem -out registry.csr 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$SANS" > registry.ext
openssl x509 -req -in registry.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
  -extfile registry.ext -out registry-cert.pem 2>/dev/null
rm -f registry.csr registry.ext ca.srl
`;

function registryConfig(storage: string, addr: string, tls?: { cert: string; key: string }): string {
  return [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: ${addr}`,
    ...(tls ? ['  tls:', `    certificate: ${tls.cert}`, `    key: ${tls.key}`] : []),
    '',
  ].join('\n');
}

export interface ImagesCache {
  /** The registry's storage tree (served read-only in spirit: beds serve a hard-linked copy). */
  storage: string;
  caPem: string;
  cert: string;
  key: string;
}

const REGISTRY_BIN = '/usr/bin/docker-registry';

export async function ensureImages(log?: (m: string) => void): Promise<ImagesCache> {
  const source = await readFile(SOURCE, 'utf8');
  const header = await readFile(STANDIN_HEADER, 'utf8');
  const dir = await cached(
    'oci-images',
    JSON.stringify({ v: 2, IMAGES, source, header, PACK_LAYER, MAKE_CERTS, REGISTRY_NAMES }),
    async (tmp) => {
      const work = join(tmp, 'work');
      await mkdir(work, { recursive: true });
      const program = join(work, 'openfaas-standin');
      await mustBash('gcc -static -O2 -Wall -Werror -o "$OUT" "$SRC" && strip "$OUT"', { env: { ...process.env, OUT: program, SRC: SOURCE } });
      await mustBash(MAKE_CERTS, { env: { ...process.env, DIR: tmp, SANS: REGISTRY_NAMES.map((n) => `DNS:${n}`).join(',') } });
      const storage = join(tmp, 'storage');
      const port = 20000 + (process.pid % 20000);
      const cfg = join(work, 'registry.yml');
      await writeFile(cfg, registryConfig(storage, `127.0.0.1:${port}`));
      const reg = await spawnDetached([REGISTRY_BIN, 'serve', cfg], join(work, 'registry.log'), 'docker-registry (image build)');
      try {
        await waitPort('127.0.0.1', port, 20_000, reg);
        for (const img of IMAGES) await buildImage(`http://127.0.0.1:${port}`, program, work, img);
      } finally {
        await terminate(reg);
      }
      await rm(work, { recursive: true, force: true });
    },
    log,
  );
  return {
    storage: join(dir, 'storage'),
    caPem: await readFile(join(dir, 'ca.pem'), 'utf8'),
    cert: join(dir, 'registry-cert.pem'),
    key: join(dir, 'registry-key.pem'),
  };
}

/** Start the bed's registry on bridge:443 over HTTPS, serving a hard-linked copy of the cached storage. */
export async function startRegistry(images: ImagesCache, runDir: string, addr: string, record: (p: ProcRecord) => Promise<void>): Promise<void> {
  const storage = join(runDir, 'registry');
  await mustBash(`rm -rf "$DST" && (cp -a --link "$SRC" "$DST" 2>/dev/null || { rm -rf "$DST"; cp -a "$SRC" "$DST"; })`, {
    env: { ...process.env, SRC: images.storage, DST: storage },
  });
  const cfg = join(runDir, 'registry.yml');
  await writeFile(cfg, registryConfig(storage, `${addr}:443`, { cert: images.cert, key: images.key }));
  const reg = await spawnDetached([REGISTRY_BIN, 'serve', cfg], join(runDir, 'registry.log'), 'docker-registry');
  await record(reg);
  await waitPort(addr, 443, 20_000, reg);
}

/**
 * What makes a host reach the registry as it reaches the real ones: the names
 * in /etc/hosts, the CA in the system trust store (the bundle as
 * update-ca-certificates writes it, plus the source file it rebuilds it from).
 */
export async function registryHostFiles(baseRoot: string, caPem: string, bridgeAddress: string): Promise<{ hostsLines: string; files: Record<string, string> }> {
  const bundle = await readFile(join(baseRoot, 'etc/ssl/certs/ca-certificates.crt'), 'utf8').catch(() => '');
  return {
    hostsLines: `${bridgeAddress} ${REGISTRY_NAMES.join(' ')}\n`,
    files: {
      'usr/local/share/ca-certificates/panel-testbed-registry.crt': caPem,
      'etc/ssl/certs/ca-certificates.crt': `${bundle}${bundle === '' || bundle.endsWith('\n') ? '' : '\n'}${caPem}`,
    },
  };
}
