/**
 * `--proxy`: the same HTTP(S)_PROXY/NO_PROXY drop-in for every service that
 * fetches from the internet (containerd pulls images; faasd checks
 * reachability before starting) — seed 000's slow-network setup.
 */
import type { HostConfig } from '../config.js';
import { unit } from '../resources/index.js';
import { unitValue } from '../resources/unit.js';
import { registerSecret } from '../secret.js';
import type { Resource } from '../resources/types.js';
import { renderTemplate as render } from '../resources/template.js';
import { OPENFAAS_NET } from './openfaas-net.js';

/** Local traffic must never go through the proxy: the gateway, the provider on openfaas0, the mirror host. */
export const DEFAULT_NO_PROXY = `localhost,127.0.0.1,::1,${OPENFAAS_NET.subnet},faasd-provider,gateway,nats,prometheus`;

export function proxyDropIn(service: string, config: Pick<HostConfig, 'proxy' | 'noProxy'>): Resource | undefined {
  if (config.proxy === undefined) return undefined;
  // Credentials in the proxy URL are a secret: masked wherever panel prints
  // (plan diffs, --json, errors) and kept in a 0600 drop-in, not a world-readable one.
  const url = new URL(config.proxy);
  for (const part of [url.password, url.username]) {
    if (part === '') continue;
    registerSecret(part);
    registerSecret(decodeURIComponent(part));
  }
  const content = render('proxy.conf.hbs', { proxy: unitValue(config.proxy), noProxy: unitValue(config.noProxy ?? DEFAULT_NO_PROXY) });
  return unit({ name: service, dropIn: 'panel-proxy', content, secret: url.password !== '' || url.username !== '' });
}
