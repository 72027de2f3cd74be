/**
 * code-server, the web IDE, at https://DOMAIN/codeserver/ (opt-in:
 * `--recipes …,code-server`). The release tarball (version pinned; upstream
 * publishes no sums, so the sum comes from --checksums or an explicit
 * --trust-artifact code-server, and the plan's artifact line says which) is
 * unpacked into a directory of its own per version; it runs as the unprivileged system user
 * `code-server`, bound to 127.0.0.1, with an argon2 hashed password; nginx
 * proxies /codeserver/ to it (src/web/routes.ts).
 */
import { readFileSync } from 'node:fs';
import { artifactsOf, fetchOf } from '../src/artifacts/index.js';
import { codeServerConfig } from '../src/codeserver/config.js';
import { CODE_SERVER, codeServerParams, installDir } from '../src/codeserver/params.js';
import type { HostConfig } from '../src/config.js';
import { defineRecipe } from '../src/engine/recipe.js';
import { archive, command, directory, service, unit } from '../src/resources/index.js';
import { renderTemplate } from '../src/resources/template.js';
import { Secret } from '../src/secret.js';
import { sh } from '../src/shell.js';
import { err, ok, type Result } from '../src/result.js';

/** The password code-server asks for: its own (passwordFile) or the faasd admin password. */
export function codeServerPassword(config: Pick<HostConfig, 'password'>, passwordFile: string | undefined): Result<Secret, string> {
  if (passwordFile !== undefined) {
    let v: string;
    try {
      v = readFileSync(passwordFile, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      return err(`passwordFile ${passwordFile}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    return v.length >= 8 ? ok(new Secret(v)) : err(`passwordFile ${passwordFile}: the password must have at least 8 characters`);
  }
  return config.password !== undefined ? ok(config.password) : err('code-server needs a password: give the faasd admin password (-p/--password-file/PANEL_PASSWORD) or --set code-server.passwordFile=FILE');
}

export default defineRecipe({
  id: CODE_SERVER.recipe,
  title: 'code-server web IDE at /codeserver/ (opt-in)',
  after: ['nginx'],
  params: codeServerParams,
  // Upstream publishes no sums: the engine takes the sum from --checksums, or
  // from the record of a first use that --trust-artifact code-server allowed.
  artifacts: (params) => [{ name: 'code-server', version: params.version }],
  precheck: ({ params, config }) => {
    const pw = codeServerPassword(config, params.passwordFile);
    return pw.ok ? undefined : pw.error;
  },
  resources: (ctx) => {
    const { params, config } = ctx;
    const art = artifactsOf(ctx).get('code-server', params.version);
    const password = codeServerPassword(config, params.passwordFile);
    if (!password.ok) throw new Error(password.error);
    const dir = installDir(params.version);
    const u = CODE_SERVER.user;
    const user = command({
      name: `system user ${u}`,
      check: sh`id -u ${u}`,
      run: sh`useradd --system --user-group --home-dir ${CODE_SERVER.home} --create-home --shell /usr/sbin/nologin ${u}`,
      reason: 'no such user',
    });
    // A directory of its own, ~10^4 files: one tree record; bin/code-server is a script that runs the bundled lib/node.
    const tarball = archive({ ...fetchOf(art), into: dir, strip: 1, ownDir: true, members: ['bin/code-server', 'lib/node'] });
    const config_ = codeServerConfig({ path: CODE_SERVER.config, port: params.port, password: password.value, owner: u });
    const unitFile = unit({
      name: CODE_SERVER.unit,
      content: renderTemplate('code-server.service.hbs', { user: u, home: CODE_SERVER.home, shell: CODE_SERVER.shell, bin: `${dir}/bin/code-server`, config: CODE_SERVER.config }),
    });
    return [
      user,
      tarball,
      directory({ path: CODE_SERVER.home, mode: 0o750, owner: u, group: u }),
      directory({ path: `${CODE_SERVER.home}/.config`, mode: 0o700, owner: u, group: u }),
      directory({ path: CODE_SERVER.configDir, mode: 0o700, owner: u, group: u }),
      config_,
      unitFile,
      service({ name: CODE_SERVER.unit, enabled: true, running: true, restartOn: [tarball, config_, unitFile] }),
    ];
  },
  verify: ({ params }) => [
    { name: 'code-server is active', script: sh`panel_units_active ${CODE_SERVER.unit}`, expect: /^active/ },
    {
      name: `code-server runs as ${CODE_SERVER.user}, not root`,
      script: sh`stat -c %U /proc/$(systemctl show -p MainPID --value ${CODE_SERVER.unit})`,
      expect: new RegExp(`^${CODE_SERVER.user}\\s*$`),
    },
    {
      name: `code-server answers on 127.0.0.1:${params.port}`,
      script: sh`curl -s -o /dev/null -w '%{http_code}\\n' ${`http://127.0.0.1:${params.port}/healthz`}`,
      expect: /^200/,
    },
  ],
});
