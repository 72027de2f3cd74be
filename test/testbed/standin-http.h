/*
 * Shared by the testbed's STAND-IN programs (faasd-standin.c,
 * openfaas-standin.c, code-server-standin.c): base64 and the check of an
 * "Authorization: Basic …" header. Included by each single-file static build.
 */
#ifndef PANEL_STANDIN_HTTP_H
#define PANEL_STANDIN_HTTP_H
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static inline void b64(const unsigned char *in, size_t len, char *out) {
  static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    unsigned v = in[i] << 16 | (i + 1 < len ? in[i + 1] << 8 : 0) | (i + 2 < len ? in[i + 2] : 0);
    out[o++] = t[(v >> 18) & 63];
    out[o++] = t[(v >> 12) & 63];
    out[o++] = i + 1 < len ? t[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < len ? t[v & 63] : '=';
  }
  out[o] = 0;
}

/* True when the request carries "Authorization: Basic base64(user:password)". */
static inline int basic_auth_matches(const char *req, const char *user, const char *pass) {
  char pair[520], want[800];
  snprintf(pair, sizeof pair, "%s:%s", user, pass);
  b64((const unsigned char *)pair, strlen(pair), want);
  const char *h = strcasestr(req, "\nAuthorization:");
  if (!h) return 0;
  h += strlen("\nAuthorization:");
  while (*h == ' ') h++;
  if (strncasecmp(h, "Basic ", 6) != 0) return 0;
  h += 6;
  size_t n = strcspn(h, "\r\n");
  return n == strlen(want) && strncmp(h, want, n) == 0;
}
#endif
