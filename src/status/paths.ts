/** Where the status page lives on a host, and how nginx serves it at /panel/. */
export const STATUS = {
  recipe: 'status',
  route: '/panel/',
  /** index.html, rewritten at the end of every install. */
  dir: '/var/www/panel-status',
  /** `user:hash` derived on the host from faasd's basic-auth secrets. */
  htpasswd: '/etc/nginx/panel-status.htpasswd',
  /** sha256 of the secrets the htpasswd was made from: remade only when they change. */
  htpasswdSource: '/etc/nginx/panel-status.htpasswd.src',
} as const;
