/**
 * A tiny static HTTP server for the apt repository and the artifact mirror, run
 * as its own detached process (so `testbed up` can exit and `down` can stop it):
 *   node --import tsx static-server.ts ADDR:PORT=DIR[+faults=RUNDIR] [ADDR:PORT=DIR …]
 * GET and HEAD only; no directory listings except index.html; paths are confined
 * to DIR. `+faults=RUNDIR` turns on the test-only fault switch for that root
 * (see mirror-faults.ts: RUNDIR/mirror-faults.json, RUNDIR/mirror-requests.log).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join, normalize, relative, resolve, sep } from 'node:path';
import { faultsFile, logRequest, parseFaults, readFaultsText, requestsLog, type MirrorFault } from './mirror-faults.js';

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

/** The fault switch of one served root: the faults now in force, and how often each path has answered its fault since they changed. */
class Faults {
  private text = '';
  private readonly hits = new Map<string, number>();
  constructor(private readonly runDir: string) {}

  /** The fault this request gets, if any (counting it). */
  async take(rel: string): Promise<MirrorFault | undefined> {
    const text = await readFaultsText(faultsFile(this.runDir));
    if (text !== this.text) {
      this.text = text;
      this.hits.clear();
    }
    let fault: MirrorFault | undefined;
    try {
      fault = parseFaults(text)[rel];
    } catch {
      return undefined; // a half-edited file by hand: serve normally
    }
    if (fault === undefined) return undefined;
    const n = (this.hits.get(rel) ?? 0) + 1;
    this.hits.set(rel, n);
    if (fault.kind === 'status' && fault.times !== undefined && n > fault.times) return undefined;
    return fault;
  }

  log(method: string, rel: string, status: number, fault: MirrorFault | undefined): void {
    void logRequest(requestsLog(this.runDir), { at: Date.now(), method, path: rel, status, ...(fault ? { fault: fault.kind } : {}) }).catch(() => undefined);
  }
}

/** Send the file at `bytesPerSecond` (in up to ten slices a second) until done or the client goes. */
function trickle(path: string, size: number, bytesPerSecond: number, res: ServerResponse): void {
  const slice = Math.max(1, Math.floor(bytesPerSecond / 10));
  const pause = Math.max(100, Math.round((1000 * slice) / bytesPerSecond));
  const stream = createReadStream(path, { highWaterMark: slice });
  res.writeHead(200, { 'content-type': typeOf(path), 'content-length': size });
  stream.on('data', (chunk) => {
    res.write(chunk);
    stream.pause();
    setTimeout(() => stream.resume(), pause);
  });
  stream.on('end', () => res.end());
  res.on('close', () => stream.destroy());
}

async function handle(root: string, req: IncomingMessage, res: ServerResponse, faults?: Faults): Promise<void> {
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
  const relPath = relative(root, path).split(sep).join('/');
  const fault = await faults?.take(relPath);
  if (fault?.kind === 'status') {
    faults?.log(req.method, relPath, fault.status, fault);
    res.writeHead(fault.status, { 'content-type': 'text/plain' }).end(`fault injected by the testbed: ${fault.status}\n`);
    return;
  }
  if (fault?.kind === 'body') {
    faults?.log(req.method, relPath, 200, fault);
    const body = Buffer.from(fault.body);
    res.writeHead(200, { 'content-type': typeOf(path), 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  try {
    let st = await stat(path);
    if (st.isDirectory()) {
      path = join(path, 'index.html');
      st = await stat(path);
    }
    faults?.log(req.method, relPath, 200, fault);
    if (fault?.kind === 'slow' && req.method === 'GET') {
      trickle(path, st.size, fault.bytesPerSecond, res);
      return;
    }
    res.writeHead(200, { 'content-type': typeOf(path), 'content-length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path).pipe(res);
  } catch {
    faults?.log(req.method, relPath, 404, undefined);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

for (const spec of process.argv.slice(2)) {
  const m = /^(.+):(\d+)=([^+]+)(?:\+faults=(.+))?$/.exec(spec);
  if (!m) throw new Error(`bad spec ${spec}: want ADDR:PORT=DIR[+faults=RUNDIR]`);
  const [, host, port, dir, faultsDir] = m as unknown as [string, string, string, string, string | undefined];
  const root = resolve(dir);
  const faults = faultsDir === undefined ? undefined : new Faults(faultsDir);
  createServer((req, res) => {
    handle(root, req, res, faults).catch(() => res.destroy());
  }).listen(Number(port), host, () => process.stdout.write(`serving ${root} on http://${host}:${port}\n`));
}
