/*
 * STAND-IN for OpenFaaS's container images on the panel testbed. NOT the real
 * gateway, queue-worker, Prometheus or NATS: those images cannot be fetched on
 * the test runners. One small static program, put in each image with that
 * image's user, entrypoint and environment; each role keeps what faasd and panel
 * rely on of its upstream image's runtime contract:
 *
 *   gateway       (image USER app, as openfaas/faas gateway/Dockerfile)
 *                 basic_auth=true: reads $secret_mount_path/basic-auth-user and
 *                 basic-auth-password at start; when it cannot, prints upstream's
 *                 error ("unable to load <path>", faas-provider auth.ReadBasicAuthFromDisk)
 *                 the way log.Panicf does and exits 2, as gateway/main.go does.
 *                 :8080 /healthz, /system/... (basic auth), /function/<name> are
 *                 forwarded to $functions_provider_url (direct_functions=false: upstream
 *                 proxies functions through the provider too) with $upstream_timeout
 *                 for the answer (a deploy's answer waits for the pull), the provider's name
 *                 looked up in /etc/hosts (faasd mounts /var/lib/faasd/hosts there);
 *                 /ui/ (basic auth) is a small page.
 *   queue-worker  (USER nonroot) reads the same secrets at start, exits 1 when it
 *                 cannot; then waits.
 *   prometheus    (runs as compose's user 65534) reads --config.file at start, exits 1
 *                 when it cannot; serves :9090 /-/healthy.
 *   nats          (compose's user 65534, entrypoint /nats-streaming-server as the
 *                 upstream image) serves :4222 (INFO line) and :8222 (/healthz).
 *   function      a test function (not an OpenFaaS image): :8080 answers any path
 *                 with "function <$fn_name> from <hostname> uid <uid>" and a second
 *                 line "address <A>" (A: the address the request reached, i.e. the
 *                 container's own);
 *                 /resolve?name=N resolves N through the container's /etc/resolv.conf
 *                 (a real DNS query over UDP) to prove name resolution from inside a
 *                 container; /secret?name=N answers the content of
 *                 /var/openfaas/secrets/N (where faasd mounts a function's secrets);
 *                 /status/CODE answers CODE (a failing health path). Each request is
 *                 logged on stderr, as of-watchdog logs them.
 *   crash         a test function that writes one line to stderr and exits 1 at once.
 *
 * The role is the program's file name (argv[0]'s base name) or argv[1].
 * Static build: gcc -static -O2 -o openfaas-standin openfaas-standin.c
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "standin-http.h"

static char user_[256], pass_[256];

static void logf_(const char *fmt, const char *arg) {
  time_t t = time(0);
  struct tm tm;
  gmtime_r(&t, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y/%m/%d %H:%M:%S", &tm);
  fprintf(stderr, "%s ", ts);
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
}

static int read_file(const char *path, char *out, size_t cap) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(out, 1, cap - 1, f);
  fclose(f);
  out[n] = 0;
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' ')) out[--n] = 0;
  return 1;
}

/* faas-provider auth.ReadBasicAuthFromDisk: the same two messages, in the same order. */
static const char *read_basic_auth(void) {
  static char msg[600];
  const char *dir = getenv("secret_mount_path");
  char p[512];
  if (!dir || !*dir) return "invalid SecretMountPath specified for reading secrets";
  snprintf(p, sizeof p, "%s/basic-auth-user", dir);
  if (!read_file(p, user_, sizeof user_)) return snprintf(msg, sizeof msg, "unable to load %s", p), msg;
  snprintf(p, sizeof p, "%s/basic-auth-password", dir);
  if (!read_file(p, pass_, sizeof pass_)) return snprintf(msg, sizeof msg, "Unable to load %s", p), msg;
  return 0;
}


static int authorized(const char *req) { return basic_auth_matches(req, user_, pass_); }

static void reply(int fd, int code, const char *type, const char *body, const char *extra) {
  const char *reason = code == 200 ? "OK" : code == 401 ? "Unauthorized" : code == 404 ? "Not Found" : code == 502 ? "Bad Gateway" : "Error";
  char head[1024];
  int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n", code,
                   reason, type, strlen(body), extra ? extra : "");
  if (write(fd, head, n) < 0 || write(fd, body, strlen(body)) < 0) return;
}

/* An IPv4 address for name: a literal, else /etc/hosts (what faasd gives its containers). */
static int lookup_hosts(const char *name, struct in_addr *out) {
  if (inet_pton(AF_INET, name, out) == 1) return 1;
  FILE *f = fopen("/etc/hosts", "r");
  if (!f) return 0;
  char line[512];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    char *save, *addr = strtok_r(line, " \t\r\n", &save);
    if (!addr || *addr == '#') continue;
    for (char *n = strtok_r(0, " \t\r\n", &save); n; n = strtok_r(0, " \t\r\n", &save))
      if (strcmp(n, name) == 0 && inet_pton(AF_INET, addr, out) == 1) found = 1;
  }
  fclose(f);
  return found;
}

/*
 * Seconds in a Go duration as the gateway reads its timeouts ("65s", "1m5s",
 * "500ms", or a bare integer: seconds, as parseIntOrDurationValue); fallback
 * when unset or unreadable.
 */
static long duration_seconds(const char *v, long fallback) {
  if (!v || !*v) return fallback;
  char *end;
  long whole = strtol(v, &end, 10);
  if (*end == 0) return whole > 0 ? whole : fallback;
  double total = 0;
  const char *p = v;
  while (*p) {
    double n = strtod(p, &end);
    if (end == p) return fallback;
    p = end;
    if (strncmp(p, "ms", 2) == 0) total += n / 1000, p += 2;
    else if (*p == 's') total += n, p++;
    else if (*p == 'm') total += n * 60, p++;
    else if (*p == 'h') total += n * 3600, p++;
    else return fallback;
  }
  return total >= 1 ? (long)total : 1;
}

/*
 * Forward the raw request to host:port and relay the answer; 502 when
 * unreachable. The upstream may take $upstream_timeout (faasd's compose file:
 * 65s) to answer, as the gateway's proxy client: a deploy answers only once
 * faasd-provider has pulled the image.
 */
static void forward(int fd, const char *req, size_t len, const char *host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (!lookup_hosts(host, &a.sin_addr)) {
    logf_("error resolving %s", host);
    return reply(fd, 502, "text/plain", "cannot resolve upstream\n", 0);
  }
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = {.tv_sec = duration_seconds(getenv("upstream_timeout"), 20)};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
    logf_("error connecting upstream: %s", strerror(errno));
    close(s);
    return reply(fd, 502, "text/plain", "upstream unreachable\n", 0);
  }
  if (write(s, req, len) < 0) {
    close(s);
    return reply(fd, 502, "text/plain", "upstream write failed\n", 0);
  }
  char buf[8192];
  ssize_t r;
  while ((r = read(s, buf, sizeof buf)) > 0)
    if (write(fd, buf, r) < 0) break;
  close(s);
}

/* host and port of a URL like http://faasd-provider:8081/ */
static void parse_url(const char *url, char *host, size_t cap, int *port) {
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  size_t n = strcspn(p, ":/");
  snprintf(host, cap, "%.*s", (int)n, p);
  *port = p[n] == ':' ? atoi(p + n + 1) : 80;
}

/* Read a request: headers and, when Content-Length says so, the body. */
static size_t read_request(int fd, char *req, size_t cap) {
  size_t len = 0;
  req[0] = 0;
  while (len < cap - 1) {
    char *end = strstr(req, "\r\n\r\n");
    if (end) {
      const char *cl = strcasestr(req, "\nContent-Length:");
      size_t want = (size_t)(end + 4 - req) + (cl && cl < end ? (size_t)atol(cl + 16) : 0);
      if (len >= want) break;
    }
    ssize_t r = read(fd, req + len, cap - 1 - len);
    if (r <= 0) break;
    len += r;
    req[len] = 0;
  }
  return len;
}

typedef void (*handler)(int fd, char *req, size_t len, const char *method, const char *path);

static void serve_forever(int port, handler h) {
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
    logf_("listen tcp :%s: bind failed", port == 8080 ? "8080" : "?");
    exit(1);
  }
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    if (fork() == 0) {
      close(s);
      struct timeval tv = {.tv_sec = 10};
      setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      static char req[1 << 16];
      size_t len = read_request(c, req, sizeof req);
      char method[16] = "", path[2048] = "";
      if (sscanf(req, "%15s %2047s", method, path) == 2) h(c, req, len, method, path);
      close(c);
      _exit(0);
    }
    close(c);
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
  }
}

/* ---- gateway ---- */
static char provider_host[256];
static int provider_port;

static void gateway_handler(int fd, char *req, size_t len, const char *method, const char *path) {
  (void)method;
  if (strcmp(path, "/healthz") == 0 || strncmp(path, "/function/", 10) == 0)
    return forward(fd, req, len, provider_host, provider_port);
  if (strncmp(path, "/system/", 8) == 0) {
    if (!authorized(req)) return reply(fd, 401, "text/plain", "Unauthorized\n", "WWW-Authenticate: Basic realm=\"Restricted\"\r\n");
    return forward(fd, req, len, provider_host, provider_port);
  }
  if (strcmp(path, "/ui") == 0 || strncmp(path, "/ui/", 4) == 0) {
    if (!authorized(req)) return reply(fd, 401, "text/plain", "Unauthorized\n", "WWW-Authenticate: Basic realm=\"Restricted\"\r\n");
    return reply(fd, 200, "text/html",
                 "<!doctype html><title>OpenFaaS Portal (STAND-IN)</title><h1>OpenFaaS Portal</h1>"
                 "<p>Served by the panel testbed's gateway stand-in image.</p>\n",
                 0);
  }
  if (strcmp(path, "/") == 0) return reply(fd, 301, "text/plain", "", "Location: /ui/\r\n");
  reply(fd, 404, "text/plain", "404 page not found\n", 0);
}

static int gateway(void) {
  const char *url = getenv("functions_provider_url");
  if (!url || !*url) {
    logf_("%s", "You must provide an external provider via 'functions_provider_url' env-var.");
    return 1;
  }
  printf("OpenFaaS Gateway - Community Edition (CE) STAND-IN\nFunction provider: %s\n\n", url);
  fflush(stdout);
  const char *ba = getenv("basic_auth");
  if (ba && strcmp(ba, "true") == 0) {
    const char *err = read_basic_auth();
    if (err) {
      /* log.Panicf: the message logged, then a panic with it; Go exits 2 on a panic. */
      logf_("%s", err);
      fprintf(stderr, "panic: %s\n\ngoroutine 1 [running]:\nmain.main()\n", err);
      return 2;
    }
  }
  parse_url(url, provider_host, sizeof provider_host, &provider_port);
  serve_forever(8080, gateway_handler);
  return 0;
}

/* ---- queue-worker ---- */
static int queue_worker(void) {
  const char *ba = getenv("basic_auth");
  if (ba && strcmp(ba, "true") == 0) {
    const char *err = read_basic_auth();
    if (err) {
      logf_("%s", err);
      return 1;
    }
  }
  logf_("%s", "queue-worker STAND-IN: credentials read, waiting");
  for (;;) pause();
}

/* ---- prometheus ---- */
static void prometheus_handler(int fd, char *req, size_t len, const char *method, const char *path) {
  (void)req, (void)len, (void)method;
  if (strncmp(path, "/-/healthy", 10) == 0 || strncmp(path, "/-/ready", 8) == 0)
    return reply(fd, 200, "text/plain", "Prometheus Server is Healthy.\n", 0);
  reply(fd, 404, "text/plain", "404 page not found\n", 0);
}

static int prometheus(int argc, char **argv) {
  const char *cfg = "/etc/prometheus/prometheus.yml";
  for (int i = 1; i < argc; i++)
    if (strncmp(argv[i], "--config.file=", 14) == 0) cfg = argv[i] + 14;
  char buf[4096];
  if (!read_file(cfg, buf, sizeof buf)) {
    fprintf(stderr, "Error loading config (--config.file=%s): open %s: %s\n", cfg, cfg, strerror(errno));
    return 1;
  }
  logf_("Prometheus STAND-IN: loaded %s", cfg);
  serve_forever(9090, prometheus_handler);
  return 0;
}

/* ---- nats ---- */
static void nats_handler(int fd, char *req, size_t len, const char *method, const char *path) {
  (void)req, (void)len, (void)method, (void)path;
  reply(fd, 200, "text/plain", "ok\n", 0);
}

static int nats(void) {
  if (fork() == 0) serve_forever(8222, nats_handler);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(4222), .sin_addr.s_addr = htonl(INADDR_ANY)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) return 1;
  logf_("%s", "nats-streaming STAND-IN listening on :4222");
  for (;;) {
    int c = accept(s, 0, 0);
    if (c < 0) continue;
    const char *info = "INFO {\"server_id\":\"stand-in\",\"version\":\"stand-in\",\"max_payload\":1048576}\r\n";
    if (write(c, info, strlen(info)) < 0) {
    }
    close(c);
  }
}

/* ---- function ---- */
/* One A record for name from the first nameserver in /etc/resolv.conf (RFC 1035 over UDP). */
static int resolve_dns(const char *name, char *out, size_t cap) {
  char conf[2048], ns[64] = "";
  if (!read_file("/etc/resolv.conf", conf, sizeof conf)) return snprintf(out, cap, "no /etc/resolv.conf"), 0;
  for (char *l = strtok(conf, "\n"); l; l = strtok(0, "\n"))
    if (sscanf(l, " nameserver %63s", ns) == 1) break;
  if (!*ns) return snprintf(out, cap, "no nameserver in /etc/resolv.conf"), 0;
  unsigned char q[512] = {0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  size_t n = 12;
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s", name);
  for (char *lab = strtok(tmp, "."); lab; lab = strtok(0, ".")) {
    size_t l = strlen(lab);
    if (l > 63 || n + l + 6 > sizeof q) return snprintf(out, cap, "bad name"), 0;
    q[n++] = l;
    memcpy(q + n, lab, l);
    n += l;
  }
  q[n++] = 0, q[n++] = 0, q[n++] = 1, q[n++] = 0, q[n++] = 1;
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(53)};
  inet_pton(AF_INET, ns, &a.sin_addr);
  struct timeval tv = {.tv_sec = 3};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char r[1500];
  ssize_t got = -1;
  if (sendto(s, q, n, 0, (struct sockaddr *)&a, sizeof a) == (ssize_t)n) got = recv(s, r, sizeof r, 0);
  close(s);
  if (got < 12) return snprintf(out, cap, "no answer from %s", ns), 0;
  int an = r[6] << 8 | r[7];
  size_t p = n; /* the question is echoed back as sent */
  for (int i = 0; i < an && p + 12 <= (size_t)got; i++) {
    if ((r[p] & 0xc0) == 0xc0) p += 2;
    else { while (p < (size_t)got && r[p]) p += r[p] + 1; p++; }
    int type = r[p] << 8 | r[p + 1], rdlen = r[p + 8] << 8 | r[p + 9];
    p += 10;
    if (type == 1 && rdlen == 4 && p + 4 <= (size_t)got) {
      snprintf(out, cap, "%s %u.%u.%u.%u via %s", name, r[p], r[p + 1], r[p + 2], r[p + 3], ns);
      return 1;
    }
    p += rdlen;
  }
  return snprintf(out, cap, "no A record for %s from %s (rcode %d)", name, ns, r[3] & 15), 0;
}

static void function_handler(int fd, char *req, size_t len, const char *method, const char *path) {
  (void)req, (void)len;
  char body[600], host[128] = "", line[2200];
  int code = 200;
  if (strncmp(path, "/resolve?name=", 14) == 0) {
    char ans[400];
    code = resolve_dns(path + 14, ans, sizeof ans) ? 200 : 502;
    snprintf(body, sizeof body, "%s\n", ans);
  } else if (strncmp(path, "/secret?name=", 13) == 0) {
    const char *name = path + 13;
    char file[300];
    static char value[4096];
    size_t n = 0;
    if (!*name || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(name) || strlen(name) > 200) {
      snprintf(body, sizeof body, "bad secret name\n");
      code = 400;
    } else {
      snprintf(file, sizeof file, "/var/openfaas/secrets/%s", name);
      FILE *f = fopen(file, "r");
      if (f) {
        n = fread(value, 1, sizeof value - 1, f);
        fclose(f);
        value[n] = 0;
        /* The value itself, byte for byte (never logged). */
        snprintf(line, sizeof line, "%s %s 200", method, "/secret");
        logf_("%s", line);
        return reply(fd, 200, "text/plain", value, 0);
      }
      snprintf(body, sizeof body, "unable to read %s: %s\n", file, strerror(errno));
      code = 404;
    }
  } else if (strncmp(path, "/status/", 8) == 0 && atoi(path + 8) >= 100 && atoi(path + 8) <= 599) {
    code = atoi(path + 8);
    snprintf(body, sizeof body, "status %d as asked\n", code);
  } else {
    struct sockaddr_in me;
    socklen_t ml = sizeof me;
    char addr[INET_ADDRSTRLEN] = "?";
    if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0) inet_ntop(AF_INET, &me.sin_addr, addr, sizeof addr);
    gethostname(host, sizeof host - 1);
    const char *fn = getenv("fn_name");
    snprintf(body, sizeof body, "function %s from %s uid %d\naddress %s\n", fn ? fn : "?", host, (int)getuid(), addr);
  }
  snprintf(line, sizeof line, "%s %s %d", method, path, code);
  logf_("%s", line);
  reply(fd, code, "text/plain", body, 0);
}

int main(int argc, char **argv) {
  const char *role = strrchr(argv[0], '/');
  role = role ? role + 1 : argv[0];
  static const char *roles[] = {"gateway", "queue-worker", "prometheus", "nats-streaming-server", "function", "crash"};
  int known = 0;
  for (size_t i = 0; i < sizeof roles / sizeof *roles; i++) known |= strcmp(role, roles[i]) == 0;
  if (!known && argc > 1) role = argv[1], argv++, argc--;
  if (strcmp(role, "gateway") == 0) return gateway();
  if (strcmp(role, "queue-worker") == 0) return queue_worker();
  if (strcmp(role, "prometheus") == 0) return prometheus(argc, argv);
  if (strcmp(role, "nats-streaming-server") == 0) return nats();
  if (strcmp(role, "function") == 0) {
    serve_forever(8080, function_handler);
    return 0;
  }
  if (strcmp(role, "crash") == 0) {
    fprintf(stderr, "crash: exiting at once (STAND-IN function that cannot start)\n");
    return 1;
  }
  fprintf(stderr, "openfaas-standin: unknown role %s (STAND-IN images of the panel testbed)\n", role);
  return 2;
}
