/**
 * What recipes other than nginx add to the one nginx site (which nginx's
 * site resource alone writes): code-server's websocket route and the status
 * page, each only when its recipe is asked for on the host.
 */
import type { HostConfig } from '../config.js';
import { CODE_SERVER, codeServerParams } from '../codeserver/params.js';
import { STATUS } from '../status/paths.js';

export interface ContributedRoute {
  readonly path: string;
  readonly upstream: string;
  /** An app that upgrades to WebSockets and checks Origin against Host (code-server). */
  readonly websocket: true;
  /** It asks for a password: HTTPS only. */
  readonly login: true;
  readonly clientMaxBodySize: string;
}

export interface StatusPageSite {
  readonly path: string;
  readonly dir: string;
  readonly htpasswd: string;
  /** progress.json of the run in progress, served at <path>progress.json. */
  readonly progressFile: string;
}

export function contributedRoutes(config: Pick<HostConfig, 'recipes' | 'params'>): ContributedRoute[] {
  if (!config.recipes.includes(CODE_SERVER.recipe)) return [];
  const p = codeServerParams.parse(config.params[CODE_SERVER.recipe] ?? {});
  // The trailing slash on the upstream strips /codeserver/: code-server serves at its root.
  return [{ path: CODE_SERVER.route, upstream: `http://127.0.0.1:${p.port}/`, websocket: true, login: true, clientMaxBodySize: p.uploadMaxSize }];
}

export function statusPageSite(config: Pick<HostConfig, 'recipes' | 'progressDir'>): StatusPageSite | undefined {
  if (!config.recipes.includes(STATUS.recipe)) return undefined;
  return { path: STATUS.route, dir: STATUS.dir, htpasswd: STATUS.htpasswd, progressFile: `${config.progressDir.replace(/\/$/, '')}/progress.json` };
}
