/**
 * `--proxy`: the same HTTP(S)_PROXY/NO_PROXY drop-in for every service that
 * fetches from the internet (containerd pulls images; faasd checks
 * reachability before starting) — seed 000's slow-network setup.
 */
import type { HostConfig } from '../src/config.js';
import { unit } from '../src/resources/index.js';
import { unitValue } from '../src/resources/unit.js';
import type { Resource } from '../src/resources/types.js';
import { renderTemplate as render } from '../src/resources/template.js';

/** Local traffic must never go through the proxy: the gateway, the provider on openfaas0, the mirror host. */
export const DEFAULT_NO_PROXY = 'localhost,127.0.0.1,::1,10.62.0.0/16,faasd-provider,gateway,nats,prometheus';

export function proxyDropIn(service: string, config: Pick<HostConfig, 'proxy' | 'noProxy'>): Resource | undefined {
  if (config.proxy === undefined) return undefined;
  const content = render('proxy.conf.hbs', { proxy: unitValue(config.proxy), noProxy: unitValue(config.noProxy ?? DEFAULT_NO_PROXY) });
  return unit({ name: service, dropIn: 'panel-proxy', content });
}
