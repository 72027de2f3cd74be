/**
 * code-server's recipe parameters and fixed locations. In their own module
 * because the nginx site (src/web/routes.ts) needs the port too.
 */
import { z } from 'zod';
import { ARTIFACTS, versionSchema } from '../artifacts/index.js';
import { BODY_SIZE } from '../web/body-size.js';

export const CODE_SERVER = {
  recipe: 'code-server',
  user: 'code-server',
  home: '/var/lib/code-server',
  configDir: '/var/lib/code-server/.config/code-server',
  config: '/var/lib/code-server/.config/code-server/config.yaml',
  unit: 'code-server.service',
  route: '/codeserver/',
  /** The shell the IDE's terminal starts ($SHELL in the unit); the account's own login shell stays nologin. */
  shell: '/bin/bash',
} as const;

/** Where a version's tarball is unpacked: a new version is a new directory, never files mixed over the old ones. */
export function installDir(version: string): string {
  return `/usr/local/lib/code-server-${version}`;
}

export const codeServerParams = z
  .object({
    version: versionSchema.default(ARTIFACTS['code-server'].defaultVersion),
    port: z.number().int().min(1024).max(65535).default(5000).describe('127.0.0.1 port code-server listens on (nginx proxies /codeserver/ to it)'),
    // Files dropped into the IDE are uploaded through nginx: an IDE's size, not the site's 64m for function calls.
    uploadMaxSize: z.string().regex(BODY_SIZE).default('1g').describe('largest upload to the IDE through nginx (nginx size: 512m, 1g, …)'),
    passwordFile: z
      .string()
      .min(1)
      .optional()
      .describe('file on the machine running panel with code-server\'s own password (default: the faasd admin password from -p/--password-file)'),
  })
  .strict();

export type CodeServerParams = z.output<typeof codeServerParams>;
