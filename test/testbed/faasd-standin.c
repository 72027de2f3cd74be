/*
 * faasd STAND-IN for the panel testbed. This is NOT faasd: the real binary and
 * its container images cannot be fetched on the test runners, so this small
 * program serves the same ports and routes that panel's install checks use:
 *   faasd up        gateway on :8080  (/healthz, /ui/, /system/functions, /system/namespaces,
 *                   /system/function/<name>, /function/<name>); the gateway's /system/ answers
 *                   are JSON, a function's are "function <name> (faasd stand-in)", so a test
 *                   tells a gateway route from a function route
 *   faasd provider  provider on :8081 (/healthz, /system/functions)
 *   faasd version   prints a version line containing "stand-in"
 * Basic auth reads basic-auth-user / basic-auth-password from
 * $secret_mount_path (default /var/lib/faasd/secrets) on every request.
 * Static build: gcc -static -O2 -o faasd faasd-standin.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "standin-http.h"

#define VERSION "0.19.7-stand-in"

static const char *secrets_dir(void) {
  const char *d = getenv("secret_mount_path");
  return (d && *d) ? d : "/var/lib/faasd/secrets";
}

/* Read a whole small file, trailing newlines trimmed; 0 on failure. */
static int read_secret(const char *name, char *out, size_t cap) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", secrets_dir(), name);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(out, 1, cap - 1, f);
  fclose(f);
  out[n] = 0;
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = 0;
  return 1;
}


/* True when the request carries the credentials in $secret_mount_path. */
static int authorized(const char *req) {
  char user[256], pass[256];
  if (!read_secret("basic-auth-user", user, sizeof user)) return 0;
  if (!read_secret("basic-auth-password", pass, sizeof pass)) return 0;
  return basic_auth_matches(req, user, pass);
}

static void reply(int fd, int code, const char *type, const char *body, const char *extra) {
  const char *reason = code == 200 ? "OK" : code == 401 ? "Unauthorized" : code == 404 ? "Not Found" : "Bad Request";
  char head[1024];
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nServer: faasd-stand-in\r\n%sConnection: close\r\n\r\n",
                   code, reason, type, strlen(body), extra ? extra : "");
  if (write(fd, head, n) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static void unauthorized(int fd) {
  reply(fd, 401, "text/plain", "unauthorized\n", "WWW-Authenticate: Basic realm=\"Restricted\"\r\n");
}

static void serve(int fd, int gateway) {
  char req[8192] = "";
  size_t len = 0;
  while (len < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
    ssize_t r = read(fd, req + len, sizeof req - 1 - len);
    if (r <= 0) break;
    len += r;
    req[len] = 0;
  }
  req[len] = 0;
  char method[16], path[2048];
  if (sscanf(req, "%15s %2047s", method, path) != 2) return reply(fd, 400, "text/plain", "bad request\n", 0);
  fprintf(stderr, "%s %s\n", method, path);
  char *q = strchr(path, '?');
  if (q) *q = 0;
  if (strcmp(path, "/healthz") == 0) return reply(fd, 200, "text/plain", "OK\n", 0);
  if (strcmp(path, "/system/functions") == 0) {
    if (!authorized(req)) return unauthorized(fd);
    return reply(fd, 200, "application/json", "[]", 0);
  }
  /* What the UI (faas gateway/assets/script/bootstrap.js) lists and polls. */
  if (gateway && strcmp(path, "/system/namespaces") == 0) {
    if (!authorized(req)) return unauthorized(fd);
    return reply(fd, 200, "application/json", "[\"openfaas-fn\"]", 0);
  }
  if (gateway && strncmp(path, "/system/function/", 17) == 0 && path[17] && !strchr(path + 17, '/')) {
    if (!authorized(req)) return unauthorized(fd);
    char body[2300];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"namespace\":\"openfaas-fn\",\"replicas\":1,\"availableReplicas\":1}", path + 17);
    return reply(fd, 200, "application/json", body, 0);
  }
  if (gateway && (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0)) {
    if (!authorized(req)) return unauthorized(fd);
    return reply(fd, 200, "text/html",
                 "<!doctype html><title>OpenFaaS Portal (faasd stand-in)</title>"
                 "<h1>OpenFaaS Portal</h1><p>Served by the panel testbed's faasd stand-in.</p>\n", 0);
  }
  if (gateway && strncmp(path, "/function/", 10) == 0 && path[10]) {
    char body[2200];
    char *name = path + 10;
    name[strcspn(name, "/")] = 0;
    snprintf(body, sizeof body, "function %s (faasd stand-in)\n", name);
    return reply(fd, 200, "text/plain", body, 0);
  }
  reply(fd, 404, "text/plain", "not found\n", 0);
}

static int listen_on(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
    fprintf(stderr, "faasd (stand-in): cannot listen on :%d: %s\n", port, strerror(errno));
    exit(1);
  }
  return s;
}

static int run_server(int port, int gateway) {
  signal(SIGPIPE, SIG_IGN);
  int s = listen_on(port);
  fprintf(stderr, "faasd (stand-in) %s listening on :%d\n", gateway ? "gateway" : "provider", port);
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    serve(c, gateway);
    close(c);
  }
  return 0;
}

static void usage(FILE *f) {
  fprintf(f,
          "faasd " VERSION " -- a STAND-IN for faasd used by panel's testbed, not the real faasd.\n"
          "It runs no containers; it only serves the ports panel checks.\n\n"
          "Usage:\n"
          "  faasd up         serve the gateway stand-in on :8080\n"
          "  faasd provider   serve the provider stand-in on :8081\n"
          "  faasd version    print the version\n");
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "up") == 0) return run_server(8080, 1);
  if (strcmp(cmd, "provider") == 0) return run_server(8081, 0);
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("faasd version: " VERSION " (stand-in for tests, not the real faasd)\n");
    return 0;
  }
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
