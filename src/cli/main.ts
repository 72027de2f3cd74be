/**
 * `panel` command line. Flags keep panel.sh's letters (-d, -m, -p).
 * Every input error is one line `panel: …` and exit 1, before any connection.
 */
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import type { Mode } from '../engine/events.js';
import type { Recipe } from '../engine/recipe.js';
import { redact } from '../secret.js';
import { RENEW_RECIPE, renewConfig, renewRegistry } from '../acme/renew.js';
import { converge } from './converge.js';
import { orderRecipes } from '../engine/order.js';
import { resolveTargets } from './targets.js';
import { UsageError, type CommonFlags } from './options.js';
import { loadRegistry } from './registry.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function addCommon(cmd: Command): Command {
  return cmd
    .option('-d, --domain <name>', 'domain served by nginx and named in the certificate (repeatable)', collect)
    .option('-m, --mail <email>', 'ACME account contact e-mail')
    .option('-p, --password <password>', 'faasd admin password (default: generated on the host; env PANEL_PASSWORD)')
    .option('--password-file <file>', 'read the faasd admin password from a file')
    .option('--host <user@addr[:port]>', 'target host over SSH (repeatable); none and no inventory = this machine', collect)
    .option('-i, --inventory <fleet.yaml>', 'inventory of hosts and groups')
    .option('--limit <names>', 'only these hosts or groups of the inventory (comma-separated)')
    .option('--concurrency <n>', 'hosts provisioned at once', '10')
    .option('--recipes <ids>', 'recipes to converge, comma-separated (dependencies are added); see `panel recipes`')
    .option('--set <recipe.param=value>', 'recipe parameter, e.g. containerd.version=1.7.27 (repeatable)', collect)
    .option('--mirror <url>', 'replaces https://github.com in every artifact URL (keeps GitHub paths)')
    .option('--checksums <file>', 'sha256sum-format checksums for mirror artifacts (paths relative to the mirror)')
    .option('--proxy <url>', 'HTTP(S) proxy for containerd and faasd (systemd drop-ins)')
    .option('--no-proxy <list>', 'NO_PROXY list for --proxy')
    .option('--registry-auth <file>', 'docker config.json with registry credentials for faasd')
    .option('--acme-directory <url>', 'ACME directory URL (default: Let\'s Encrypt production)')
    .option('--staging', 'use Let\'s Encrypt staging')
    .option('--acme-ca <file>', 'PEM of a CA to trust for the ACME server\'s own HTTPS (private CAs, Pebble)')
    .option('--key <file>', 'SSH private key (default: ssh-agent)')
    .option('--known-hosts <file>', 'known_hosts file (default: ~/.ssh/known_hosts)')
    .option('--trust-new-host', 'accept and record the key of a host not yet in known_hosts')
    .option('--fingerprint <SHA256:…>', 'pinned host key fingerprint (single --host)')
    .option('--progress-dir <dir>', 'where progress.json and logs go on the host', '/var/lib/panel')
    .option('--retry-failed', 'only the hosts that failed in the last run (.panel/last-run.json)')
    .option('--json', 'NDJSON events on stdout instead of the progress display');
}

async function runConverge(mode: Mode, flags: CommonFlags, registry: ReadonlyMap<string, Recipe>): Promise<number> {
  const configs = await resolveTargets(flags, registry, mode);
  return converge({ mode, flags, configs, registry });
}

export async function main(argv: readonly string[]): Promise<number> {
  const registry = await loadRegistry();
  let exitCode = 0;
  const program = new Command('panel')
    .description('Turn Debian/Ubuntu servers into a faasd serverless panel (containerd, CNI, faasd, nginx, ACME) — idempotently, over SSH.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  addCommon(
    program
      .command('install')
      .description('converge hosts: apply what differs, verify, report')
      .option('-y, --yes', 'apply without asking (asked only on a terminal)')
      .option('--reinstall', 'uninstall (keeping secrets, certificates, volumes) and install again, in one run'),
  ).action(async (flags: CommonFlags & { reinstall?: boolean }) => {
    if (!flags.reinstall) {
      exitCode = await runConverge('install', flags, registry);
      return;
    }
    // Everything the install converges is taken off first, dependencies included.
    const configs = (await resolveTargets(flags, registry, 'install')).map((c) => {
      const order = orderRecipes(c.recipes, registry);
      return order.ok ? { ...c, recipes: order.recipes.map((r) => r.id) } : c;
    });
    exitCode = await converge({ mode: 'install', flags, configs, registry, teardown: { purge: false }, reinstall: true });
  });
  addCommon(
    program
      .command('uninstall')
      .description('take recipes off: only what panel created (state record), pre-existing files restored; exit 3 = reboot required')
      .option('--purge', 'also remove what is kept by default: faasd secrets and volumes, certificates, registry credentials')
      .option('--dry-run', 'show the removal plan; change nothing')
      .option('-y, --yes', 'apply without asking (asked only on a terminal)'),
  ).action(async (flags: CommonFlags & { purge?: boolean; dryRun?: boolean }) => {
    const mode: Mode = flags.dryRun ? 'plan' : 'install';
    // Without --recipes: every recipe (the state record says what is there).
    const all: CommonFlags = flags.recipes ? flags : { ...flags, recipes: [...registry.keys()].join(',') };
    const configs = await resolveTargets(all, registry, 'plan');
    exitCode = await converge({ mode, flags: all, configs, registry, teardown: { purge: flags.purge ?? false } });
  });
  addCommon(program.command('plan').description('dry run: every change with its reason and diff; changes nothing')).action(async (flags: CommonFlags) => {
    exitCode = await runConverge('plan', flags, registry);
  });
  addCommon(program.command('check').description('verify only: exit 0 converged, 2 drift found, 1 error').option('--deep', 'rehash every file instead of trusting the stat cache')).action(async (flags: CommonFlags) => {
    exitCode = await runConverge('check', flags, registry);
  });
  addCommon(program.command('renew').description('renew certificates with less than a third of their lifetime left (only the certificate recipe)')).action(async (flags: CommonFlags) => {
    // Only the certificate recipe, without its dependencies: a renewal must
    // not re-render the nginx site from whatever flags the timer passes.
    const only = renewRegistry(registry);
    const renewFlags: CommonFlags = { ...flags, recipes: RENEW_RECIPE, yes: true };
    const configs = (await resolveTargets(renewFlags, only, 'install')).map(renewConfig);
    exitCode = await converge({ mode: 'install', flags: renewFlags, configs, registry: only });
  });
  program
    .command('recipes')
    .description('list recipes, their dependencies and parameters')
    .option('--json', 'as JSON')
    .action((flags: { json?: boolean }) => {
      const rows = [...registry.values()].map((r) => ({ id: r.id, title: r.title, after: r.after, params: z.toJSONSchema(r.params, { io: 'input', unrepresentable: 'any' }) }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const r of rows) {
        process.stdout.write(`${r.id.padEnd(12)} ${r.title}${r.after.length ? `  (after: ${r.after.join(', ')})` : ''}\n`);
        const props = (r.params as { properties?: Record<string, { type?: string; default?: unknown; description?: string }> }).properties ?? {};
        for (const [k, v] of Object.entries(props)) {
          process.stdout.write(`${''.padEnd(12)}   --set ${r.id}.${k}=<${v.type ?? 'value'}>${v.default !== undefined ? ` (default ${JSON.stringify(v.default)})` : ''}${v.description ? `  ${v.description}` : ''}\n`);
        }
      }
    });
  program
    .command('schema')
    .description('print the JSON Schema of fleet.yaml (for editor completion)')
    .action(async () => {
      const { inventoryJsonSchema } = await import('../inventory/json-schema.js');
      process.stdout.write(JSON.stringify(inventoryJsonSchema([...registry.keys()]), null, 2) + '\n');
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`panel: ${redact(e.message)}\n`);
      return 1;
    }
    process.stderr.write(`panel: ${redact((e as Error).stack ?? String(e))}\n`);
    return 1;
  }
  return exitCode;
}

export { Option };
