/**
 * panel_http_code and panel_base64 (src/resources/shell/fetch.sh), the HTTP
 * checks of a converged host without curl: real bash against a real HTTP
 * server in this process, with PATH emptied so that any external command
 * (curl, base64, cat) would fail the test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageRoot } from '../../../src/paths.js';
import { tempDir } from '../../support/temp.js';

const FETCH_SH = readFileSync(join(packageRoot, 'src', 'resources', 'shell', 'fetch.sh'), 'utf8');
const dir = tempDir('panel-http-code-');
const PASSWORD = `s3cr:et "q" \\ 'x' é`;
writeFileSync(join(dir, 'user'), 'admin\n');
writeFileSync(join(dir, 'password'), `${PASSWORD}\n\n`);

const seen: IncomingMessage[] = [];
let server: Server;
let silent: ReturnType<typeof createTcpServer>;
let port = 0;
let silentPort = 0;
let closedPort = 0;

before(async () => {
  server = createServer((req, res) => {
    seen.push(req);
    const expected = `Basic ${Buffer.from(`admin:${PASSWORD}`).toString('base64')}`;
    if (req.url === '/system/functions') res.writeHead(req.headers.authorization === expected ? 200 : 401);
    else res.writeHead(req.url === '/healthz' ? 200 : 404);
    res.end('body\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  // Accepts and never answers.
  silent = createTcpServer(() => undefined);
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as AddressInfo).port;
  const probe = createTcpServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
});

after(() => {
  server.close();
  silent.close();
  rmSync(dir, { recursive: true, force: true });
});

/** bash (async: the server answers from this process) with the helpers loaded and no PATH. */
function bash(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/bash', ['-c', `${FETCH_SH}\nPATH=/nonexistent\n${script}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('panel_base64 encodes as base64(1) does, padding and bytes above 127 included', () => {
  for (const s of ['', 'a', 'ab', 'abc', 'abcd', `admin:${PASSWORD}`, '\u00ff\u0080~ \t']) {
    const r = spawnSync('/bin/bash', ['-c', `${FETCH_SH}\npanel_base64 "$1"; printf '%s' "$PANEL_B64"`, 'x', s], { encoding: 'utf8' });
    assert.equal(r.stdout, Buffer.from(s).toString('base64'), JSON.stringify(s));
  }
});

test('panel_http_code prints the status as curl -w %{http_code} does, with no process started', async () => {
  assert.deepEqual(await bash(`panel_http_code http://127.0.0.1:${port}/healthz; echo " $? $PANEL_HTTP_CODE"`), { code: 0, stdout: '200 0 200\n', stderr: '' });
  assert.deepEqual(await bash(`panel_http_code http://127.0.0.1:${port}/nothing`), { code: 0, stdout: '404', stderr: '' });
  const get = seen.at(-1)!;
  assert.equal(get.method, 'GET');
  assert.equal(get.headers.host, `127.0.0.1:${port}`);
});

test('basic auth from the two files, trailing newlines dropped; a wrong password is 401', async () => {
  const ok = await bash(`panel_http_code http://127.0.0.1:${port}/system/functions ${dir}/user ${dir}/password`);
  assert.deepEqual(ok, { code: 0, stdout: '200', stderr: '' });
  writeFileSync(join(dir, 'wrong'), 'nope\n');
  const wrong = await bash(`panel_http_code http://127.0.0.1:${port}/system/functions ${dir}/user ${dir}/wrong`);
  assert.deepEqual(wrong, { code: 0, stdout: '401', stderr: '' });
  assert.ok(!(ok.stdout + ok.stderr + wrong.stdout + wrong.stderr).includes('s3cr'));
});

test('nothing listening, no answer within 5 s, or not an http://IPv4 URL: 000, one line on stderr, non-zero', async () => {
  const refused = await bash(`panel_http_code http://127.0.0.1:${closedPort}/healthz`);
  assert.deepEqual(refused, { code: 1, stdout: '000', stderr: `panel: http://127.0.0.1:${closedPort}/healthz: cannot connect\n` });
  const mute = await bash(`panel_http_code http://127.0.0.1:${silentPort}/healthz`);
  assert.deepEqual(mute, { code: 1, stdout: '000', stderr: `panel: http://127.0.0.1:${silentPort}/healthz: no HTTP answer within 5 s\n` });
  const https = await bash('panel_http_code https://127.0.0.1:443/');
  assert.deepEqual(https, { code: 2, stdout: '000', stderr: 'panel: panel_http_code: not an http://IPv4:PORT/PATH URL: https://127.0.0.1:443/\n' });
});
