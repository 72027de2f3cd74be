/**
 * Image references as containerd names them after a pull: faasd normalises
 * `req.Image` with docker's `reference.ParseNormalizedNamed` + `TagNameOnly`,
 * so the gateway reports `docker.io/library/alpine:latest` for `alpine`.
 * Both sides are normalised before they are compared, or every deploy of a
 * short name would look like an update.
 */
export function normalizeImage(ref: string): string {
  let rest = ref.trim();
  let digest = '';
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at);
    rest = rest.slice(0, at);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  // docker's rule: the first component is a registry when it has a dot or a port, or is localhost.
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  let domain = hasDomain ? first : 'docker.io';
  let path = hasDomain ? rest.slice(slash + 1) : rest;
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  const lastSlash = path.lastIndexOf('/');
  const hasTag = path.slice(lastSlash + 1).includes(':');
  if (!hasTag && digest === '') path = `${path}:latest`;
  return `${domain}/${path}${digest}`;
}
