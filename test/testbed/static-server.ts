/**
 * A tiny static HTTP server for the apt repository and the artifact mirror, run
 * as its own detached process (so `testbed up` can exit and `down` can stop it):
 *   node --import tsx static-server.ts ADDR:PORT=DIR [ADDR:PORT=DIR …]
 * GET and HEAD only; no directory listings except index.html; paths are confined
 * to DIR.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, normalize, resolve, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.sha256': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip',
  '.tgz': 'application/gzip',
  '.deb': 'application/vnd.debian.binary-package',
};

function typeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot >= 0 && TYPES[path.slice(dot)]) || 'application/octet-stream';
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405).end();
    return;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  } catch {
    res.writeHead(400).end();
    return;
  }
  let path = resolve(root, `.${normalize(`/${rel}`)}`);
  if (path !== root && !path.startsWith(root + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    let st = await stat(path);
    if (st.isDirectory()) {
      path = join(path, 'index.html');
      st = await stat(path);
    }
    res.writeHead(200, { 'content-type': typeOf(path), 'content-length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path).pipe(res);
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

for (const spec of process.argv.slice(2)) {
  const m = /^(.+):(\d+)=(.+)$/.exec(spec);
  if (!m) throw new Error(`bad spec ${spec}: want ADDR:PORT=DIR`);
  const [, host, port, dir] = m as unknown as [string, string, string, string];
  const root = resolve(dir);
  createServer((req, res) => {
    handle(root, req, res).catch(() => res.destroy());
  }).listen(Number(port), host, () => process.stdout.write(`serving ${root} on http://${host}:${port}\n`));
}
