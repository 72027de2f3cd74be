/*
 * code-server STAND-IN for the panel testbed. This is NOT code-server: the
 * real release (a bundled Node.js and VS Code, ~100 MB) cannot be fetched on
 * the test runners, so this small program is packed in code-server's release
 * tarball layout (code-server-<ver>-linux-<arch>/bin/code-server) and behaves
 * as far as panel's route through nginx is concerned:
 *   code-server --config FILE [flags]  listens on FILE's `bind-addr:`
 *   GET /healthz   200 {"status":"alive"}
 *   GET /          a page that opens a WebSocket to ./echo and shows the echo
 *   GET /echo      WebSocket echo (text frames); like code-server it answers
 *                  403 when the Origin's host differs from the Host header
 *   GET /terminal  what the IDE's integrated terminal does (VS Code starts
 *                  $SHELL from the environment it was given): runs
 *                  `$SHELL -c 'echo terminal: $(id -un)'` and answers
 *                  "shell=$SHELL exit=N" and its output; a nologin shell
 *                  exits 1 with "This account is currently not available."
 *   code-server --version  prints a version line containing "stand-in"
 * It logs the SHELL it was given at start (stderr, the service's journal).
 * It refuses to start when the config has no `hashed-password:` line.
 * Static build: gcc -static -O2 -o code-server code-server-standin.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "standin-http.h"

#define VERSION "4.96.4-stand-in"

/* ---- SHA-1 (RFC 3174), only for Sec-WebSocket-Accept ---- */
static uint32_t rol(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }
static void sha1(const unsigned char *msg, size_t len, unsigned char out[20]) {
  uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
  size_t total = ((len + 8) / 64 + 1) * 64;
  unsigned char *m = calloc(total, 1);
  memcpy(m, msg, len);
  m[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) m[total - 1 - i] = (unsigned char)(bits >> (8 * i));
  for (size_t off = 0; off < total; off += 64) {
    uint32_t w[80];
    for (int i = 0; i < 16; i++) w[i] = (uint32_t)m[off + 4 * i] << 24 | (uint32_t)m[off + 4 * i + 1] << 16 | (uint32_t)m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
    for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (int i = 0; i < 80; i++) {
      uint32_t f, k;
      if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
      else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
      else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
      else { f = b ^ c ^ d; k = 0xCA62C1D6; }
      uint32_t t = rol(a, 5) + f + e + k + w[i];
      e = d; d = c; c = rol(b, 30); b = a; a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
  }
  free(m);
  for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++) out[4 * i + j] = (unsigned char)(h[i] >> (24 - 8 * j));
}


/* Value of header `name` (case-insensitive) into out; 0 when absent. */
static int header(const char *req, const char *name, char *out, size_t cap) {
  size_t n = strlen(name);
  for (const char *p = strstr(req, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
    const char *l = p + 2;
    if (strncasecmp(l, name, n) == 0 && l[n] == ':') {
      l += n + 1;
      while (*l == ' ') l++;
      size_t i = 0;
      while (l[i] && l[i] != '\r' && i + 1 < cap) { out[i] = l[i]; i++; }
      out[i] = 0;
      return 1;
    }
  }
  return 0;
}

static void reply(int fd, const char *status, const char *type, const char *body) {
  char head[512];
  int n = snprintf(head, sizeof head, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", status, type, strlen(body));
  if (write(fd, head, n) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static int read_full(int fd, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0) return 0;
    got += r;
  }
  return 1;
}

/* Echo text/binary frames until the client closes. */
static void ws_echo(int fd) {
  for (;;) {
    unsigned char h[2], ext[8], mask[4];
    if (!read_full(fd, h, 2)) return;
    int op = h[0] & 15;
    uint64_t len = h[1] & 127;
    if (len == 126) { if (!read_full(fd, ext, 2)) return; len = ext[0] << 8 | ext[1]; }
    else if (len == 127) { if (!read_full(fd, ext, 8)) return; len = 0; for (int i = 0; i < 8; i++) len = len << 8 | ext[i]; }
    if (len > 65536) return;
    if ((h[1] & 128) && !read_full(fd, mask, 4)) return;
    unsigned char *p = malloc(len + 1);
    if (len && !read_full(fd, p, len)) { free(p); return; }
    if (h[1] & 128) for (uint64_t i = 0; i < len; i++) p[i] ^= mask[i % 4];
    unsigned char out[4];
    int hn = 2;
    out[0] = 0x80 | (op == 9 ? 10 : op);
    if (len < 126) out[1] = (unsigned char)len;
    else { out[1] = 126; out[2] = (unsigned char)(len >> 8); out[3] = (unsigned char)len; hn = 4; }
    if (write(fd, out, hn) < 0 || (len && write(fd, p, len) < 0)) { free(p); return; }
    free(p);
    if (op == 8) return;
  }
}

static const char PAGE[] =
    "<!doctype html><html><head><meta charset=utf-8><title>code-server (stand-in)</title></head><body>\n"
    "<h1>code-server STAND-IN</h1><p id=ws>connecting</p>\n"
    "<script>\n"
    "var u = new URL('echo', location.href); u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';\n"
    "var s = new WebSocket(u), el = document.getElementById('ws');\n"
    "s.onopen = function () { s.send('echo through nginx'); };\n"
    "s.onmessage = function (e) { el.textContent = 'echo: ' + e.data; };\n"
    "s.onerror = function () { el.textContent = 'websocket error'; };\n"
    "</script></body></html>\n";

/* Start $SHELL as the integrated terminal would and report what it said. */
static void terminal(int fd) {
  const char *shell = getenv("SHELL");
  char body[4096];
  int n = snprintf(body, sizeof body, "shell=%s ", shell ? shell : "");
  int p[2];
  if (!shell || !*shell || pipe(p) < 0) { snprintf(body + n, sizeof body - n, "exit=-1\nno SHELL in the environment\n"); reply(fd, "200 OK", "text/plain", body); return; }
  signal(SIGCHLD, SIG_DFL);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(p[1], 1); dup2(p[1], 2); close(p[0]); close(p[1]);
    execl(shell, shell, "-c", "echo terminal: $(id -un)", (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char out[2048];
  size_t got = 0;
  ssize_t r;
  while (got < sizeof out - 1 && (r = read(p[0], out + got, sizeof out - 1 - got)) > 0) got += r;
  out[got] = 0;
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  snprintf(body + n, sizeof body - n, "exit=%d\n%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1, out);
  reply(fd, "200 OK", "text/plain", body);
}

static void serve(int fd) {
  char req[8192];
  size_t n = 0;
  while (n < sizeof req - 1) {
    ssize_t r = read(fd, req + n, sizeof req - 1 - n);
    if (r <= 0) return;
    n += r;
    req[n] = 0;
    if (strstr(req, "\r\n\r\n")) break;
  }
  char path[1024] = "";
  sscanf(req, "%*s %1023s", path);
  char host[256] = "", origin[512] = "", key[128] = "", upgrade[64] = "";
  header(req, "Host", host, sizeof host);
  int has_origin = header(req, "Origin", origin, sizeof origin);
  header(req, "Sec-WebSocket-Key", key, sizeof key);
  header(req, "Upgrade", upgrade, sizeof upgrade);
  if (strcmp(path, "/healthz") == 0) { reply(fd, "200 OK", "application/json", "{\"status\":\"alive\"}"); return; }
  if (strcmp(path, "/echo") == 0 && strcasecmp(upgrade, "websocket") == 0 && key[0]) {
    if (has_origin) {
      /* code-server: the Origin's host must equal the Host header. */
      const char *oh = strstr(origin, "://");
      oh = oh ? oh + 3 : origin;
      if (strcasecmp(oh, host) != 0) { reply(fd, "403 Forbidden", "text/plain", "origin does not match host\n"); return; }
    }
    char buf[256];
    unsigned char digest[20];
    char accept[64];
    snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1((unsigned char *)buf, strlen(buf), digest);
    b64(digest, 20, accept);
    char head[256];
    int hn = snprintf(head, sizeof head, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", accept);
    if (write(fd, head, hn) < 0) return;
    ws_echo(fd);
    return;
  }
  if (strcmp(path, "/terminal") == 0) { terminal(fd); return; }
  if (strcmp(path, "/") == 0) { reply(fd, "200 OK", "text/html; charset=utf-8", PAGE); return; }
  reply(fd, "404 Not Found", "text/plain", "not found\n");
}

int main(int argc, char **argv) {
  const char *config = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--version") == 0) { printf("%s stand-in\n", VERSION); return 0; }
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
  }
  if (!config) { fprintf(stderr, "code-server stand-in: --config FILE is required\n"); return 2; }
  FILE *f = fopen(config, "r");
  if (!f) { perror(config); return 1; }
  char line[1024], addr[64] = "127.0.0.1";
  int port = 8080, hashed = 0;
  while (fgets(line, sizeof line, f)) {
    if (sscanf(line, "bind-addr: %63[^:]:%d", addr, &port) == 2) continue;
    if (strncmp(line, "hashed-password: \"$argon2", strlen("hashed-password: \"$argon2")) == 0) hashed = 1;
  }
  fclose(f);
  if (!hashed) { fprintf(stderr, "code-server stand-in: %s has no argon2 hashed-password\n", config); return 1; }
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, addr, &a.sin_addr) != 1 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) { perror("listen"); return 1; }
  fprintf(stderr, "code-server stand-in %s listening on %s:%d\n", VERSION, addr, port);
  fprintf(stderr, "code-server stand-in: terminal shell SHELL=%s\n", getenv("SHELL") ? getenv("SHELL") : "(unset)");
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    if (fork() == 0) { close(s); serve(c); close(c); _exit(0); }
    close(c);
  }
}
