/**
 * `panel` command line. Flags keep panel.sh's letters (-d, -m, -p).
 * Every input error is one line `panel: …` and exit 1, before any connection.
 *
 * Each command loads what it needs when it runs (dynamic imports below):
 * `--help`, `--version`, `recipes` and `schema` must not pay for SSH, ACME or
 * rendering.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Mode } from '../engine/events.js';
import type { Recipe } from '../engine/recipe.js';
import { embedded } from '../embedded.js';
import { packageRoot } from '../paths.js';
import { redact } from '../secret.js';
import type { ConvergeInput } from './converge.js';
import { addCommon, type CommonFlags } from './flags.js';
import { guardOutput } from './output.js';
import { UsageError } from './usage-error.js';

const loadRegistry = async (): Promise<ReadonlyMap<string, Recipe>> => (await import('./registry.js')).loadRegistry();

/** Recipes that exist for panel's own tests: usable with --recipes, left out of `panel recipes`. */
const TEST_ONLY = new Set(['demo']);

function version(): string {
  if (embedded !== undefined) return embedded.version;
  return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
}

/** Control characters of a value quoted in a message, escaped: a message stays on its line. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * commander's message quotes the argument as typed (an unknown `--a<newline>b`):
 * it is one line `panel: …`, followed only by commander's own "(Did you mean …?)".
 */
function commanderError(text: string): string {
  const m = /^(?:error: )?([\s\S]*?)(\n\(Did you mean [^\n]*\?\))?\n?$/.exec(text);
  return `panel: ${printable(m?.[1] ?? text)}${m?.[2] ?? ''}\n`;
}

/** A UsageError holds one problem per line; each is printed as its own `panel: …` line. */
function usageLines(message: string): string {
  return message.split('\n').filter((l) => l !== '').map((l) => `panel: ${printable(redact(l))}\n`).join('');
}

/** What `main` reaches outside the process; tests pass a stand-in `connect` so no host is contacted. */
export interface MainOptions {
  readonly connect?: ConvergeInput['connect'];
}

export async function main(argv: readonly string[], options: MainOptions = {}): Promise<number> {
  const via = options.connect ? { connect: options.connect } : {};
  const runConverge = async (mode: Mode, flags: CommonFlags): Promise<number> => {
    const [registry, { resolveTargets }, { converge }] = await Promise.all([loadRegistry(), import('./targets.js'), import('./converge.js')]);
    const configs = await resolveTargets(flags, registry);
    return converge({ mode, flags, configs, registry, ...via });
  };
  guardOutput();
  let exitCode = 0;
  const program = new Command('panel')
    .description('Turn Debian/Ubuntu servers into a faasd serverless panel (containerd, CNI, faasd, nginx, ACME) — idempotently, over SSH.')
    .version(version(), '-V, --version', 'print panel\'s version')
    // Usage errors read like panel's own (`panel: …`); subcommands inherit this.
    .configureOutput({ outputError: (text, write) => write(commanderError(text)) })
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  addCommon(
    program
      .command('install')
      .description('converge hosts: apply what differs, verify, report')
      .option('-y, --yes', 'apply without asking (asked only on a terminal)')
      .option('--reinstall', 'uninstall (keeping secrets, certificates, volumes) and install again, in one run')
      .option('--schedule-renewal', 'also schedule the certificates\' renewal on this machine (as `panel renew … --schedule`)'),
  ).action(async (flags: CommonFlags & { reinstall?: boolean; scheduleRenewal?: boolean }) => {
    // Remote certificates are renewed from here: the run ends by scheduling that, or by saying how.
    const renewal = { installArgs: argv.slice(argv.indexOf('install') + 1), schedule: flags.scheduleRenewal ?? false };
    if (!flags.reinstall) {
      const [registry, { resolveTargets }, { converge }] = await Promise.all([loadRegistry(), import('./targets.js'), import('./converge.js')]);
      const configs = await resolveTargets(flags, registry);
      exitCode = await converge({ mode: 'install', flags, configs, registry, renewal, ...via });
      return;
    }
    const [registry, { resolveTargets }, { converge }, { orderRecipes }] = await Promise.all([loadRegistry(), import('./targets.js'), import('./converge.js'), import('../engine/order.js')]);
    // Everything the install converges is taken off first, dependencies included.
    const configs = (await resolveTargets(flags, registry)).map((c) => {
      const order = orderRecipes(c.recipes, registry);
      return order.ok ? { ...c, recipes: order.value.map((r) => r.id) } : c;
    });
    exitCode = await converge({ mode: 'install', flags, configs, registry, teardown: { purge: false, packages: 'keep', force: false, rebuildRecord: false }, reinstall: true, renewal, ...via });
  });
  addCommon(
    program
      .command('uninstall')
      .description('take recipes off: only what panel created (state record) and the user did not change since; pre-existing files restored; packages stay unless asked; exit 3 = reboot required')
      .option('--remove-packages', 'also remove the packages panel installed (apt-get remove: their configuration stays)')
      .option('--purge', 'also remove what is kept by default (faasd secrets and volumes, certificates, registry credentials) and purge the packages panel installed; files the user changed go to /var/lib/panel/kept/')
      .option('--force', 'with --purge: purge a package even when its configuration directories hold files of the user (copied to /var/lib/panel/kept/ first)')
      .option('--rebuild-record', "when /var/lib/panel/state.json is damaged: rebuild it from its readable entries (with --dry-run: show what would then be panel's)")
      .option('--dry-run', 'show the removal plan and what is kept and why; change nothing')
      .option('-y, --yes', 'apply without asking (asked only on a terminal)'),
  ).action(async (flags: CommonFlags & { purge?: boolean; removePackages?: boolean; force?: boolean; rebuildRecord?: boolean; dryRun?: boolean }) => {
    if (flags.force && !flags.purge) throw new UsageError('--force only goes with --purge (it purges packages whose configuration holds files of the user, after copying them to /var/lib/panel/kept/)');
    const purge = flags.purge ?? false;
    const teardown = { purge, packages: purge ? ('purge' as const) : flags.removePackages ? ('remove' as const) : ('keep' as const), force: flags.force ?? false, rebuildRecord: flags.rebuildRecord ?? false };
    const [registry, { resolveTargets }, { converge }] = await Promise.all([loadRegistry(), import('./targets.js'), import('./converge.js')]);
    const mode: Mode = flags.dryRun ? 'plan' : 'install';
    // Without --recipes: every recipe (the state record says what is there).
    const all: CommonFlags = flags.recipes ? flags : { ...flags, recipes: [...registry.keys()].join(',') };
    const configs = await resolveTargets(all, registry);
    exitCode = await converge({ mode, flags: all, configs, registry, teardown, ...via });
  });
  addCommon(program.command('plan').description('dry run: every change with its reason and diff; changes nothing')).action(async (flags: CommonFlags) => {
    exitCode = await runConverge('plan', flags);
  });
  addCommon(program.command('check').description('verify only: exit 0 converged, 2 drift found, 1 error').option('--deep', 'rehash every file instead of trusting the stat cache')).action(async (flags: CommonFlags) => {
    exitCode = await runConverge('check', flags);
  });
  addCommon(program.command('renew').description('renew certificates inside the CA\'s renewal window when it offers ARI, else with less than a third of their lifetime left, half under 10 days (only the certificate recipe)').option('--schedule', 'instead of renewing now, install a systemd timer on this machine that runs this renew twice a day (or print the cron line)')).action(async (flags: CommonFlags & { schedule?: boolean }) => {
    const [registry, { RENEW_RECIPE, renewConfig, renewRegistry }, { resolveTargets }, { converge }] = await Promise.all([
      loadRegistry(),
      import('../acme/renew.js'),
      import('./targets.js'),
      import('./converge.js'),
    ]);
    if (flags.schedule) {
      // The schedule repeats this command: its inputs are checked now, as the renewal itself would check them.
      await resolveTargets({ ...flags, recipes: RENEW_RECIPE }, registry);
      const { installSchedule, scheduleDoneMessage, scheduleOf } = await import('../acme/schedule.js');
      let s;
      try {
        s = scheduleOf(argv.slice(argv.indexOf('renew') + 1), process.cwd());
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      process.stdout.write(scheduleDoneMessage(installSchedule(s)));
      return;
    }
    // Only the certificate recipe, without its dependencies: a renewal must
    // not re-render the nginx site from whatever flags the timer passes.
    const only = renewRegistry(registry);
    const renewFlags: CommonFlags = { ...flags, recipes: RENEW_RECIPE, yes: true };
    // Inputs are checked against every recipe (an inventory names them all); only the certificate runs.
    const configs = (await resolveTargets(renewFlags, registry)).map(renewConfig);
    exitCode = await converge({ mode: 'install', flags: renewFlags, configs, registry: only, ...via });
  });
  addCommon(
    program
      .command('deploy')
      .description('deploy the functions of an OpenFaaS stack file through each host\'s gateway: plan, diff, apply what differs, wait until ready')
      .requiredOption('-f, --file <stack.yml>', 'OpenFaaS stack file (faas-cli\'s format)')
      .option('--dry-run', 'show what would be deployed, updated or removed, with diffs; change nothing')
      .option('--prune', 'remove functions the gateway runs that the stack does not name')
      .option('--secret <name[=@file]>', 'create or update a faasd secret from a file, or from PANEL_SECRET_<NAME> (repeatable)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
      .option('--wait <seconds>', 'how long a deployed function may take to become ready', '60')
      .option('--health-path <path>', 'invoked through the gateway once a function is ready; 2xx passes (e.g. /_/health)')
      .option('-y, --yes', 'apply without asking (asked only on a terminal)'),
  ).action(async (flags: CommonFlags & { file: string; dryRun?: boolean; prune?: boolean; secret?: string[]; wait: string; healthPath?: string }) => {
    const [registry, { resolveTargets }, { converge }, { loadStack }, { formatInventoryError }, { parseSecretFlags }, { deployRunner }] = await Promise.all([
      loadRegistry(),
      import('./targets.js'),
      import('./converge.js'),
      import('../deploy/stack.js'),
      import('../inventory/types.js'),
      import('../deploy/secret-flags.js'),
      import('../deploy/run.js'),
    ]);
    const stack = loadStack(flags.file);
    if (!stack.ok) throw new UsageError(stack.error.map(formatInventoryError).join('\n'));
    const secrets = parseSecretFlags(flags.secret ?? [], process.env, process.cwd());
    if (!secrets.ok) throw new UsageError(secrets.error.join('\n'));
    const wait = Number(flags.wait);
    if (!Number.isInteger(wait) || wait < 1 || wait > 3600) throw new UsageError(`--wait ${JSON.stringify(flags.wait)}: whole seconds from 1 to 3600`);
    if (flags.healthPath !== undefined && !/^\/[\x21-\x7e]*$/.test(flags.healthPath)) throw new UsageError(`--health-path ${JSON.stringify(flags.healthPath)}: a path starting with /`);
    const mode: Mode = flags.dryRun ? 'plan' : 'install';
    // Hosts are chosen as for install (--host, -i, --limit); the recipes are not run.
    const configs = await resolveTargets({ ...flags, recipes: flags.recipes ?? 'faasd' }, registry);
    const runner = deployRunner(configs, {
      stack: stack.value,
      secrets: secrets.value,
      prune: flags.prune ?? false,
      waitSeconds: wait,
      ...(flags.healthPath !== undefined ? { healthPath: flags.healthPath } : {}),
      dryRun: flags.dryRun ?? false,
      ...(options.connect ? { connect: options.connect } : {}),
    });
    exitCode = await converge({ mode, flags, configs, registry, runner, ...via });
  });
  program
    .command('recipes')
    .description(`list recipes, their dependencies and parameters (test-only recipes: ${[...TEST_ONLY].join(', ')}; shown with --all, usable with --recipes)`)
    .option('--json', 'as JSON')
    .option('--all', 'include the recipes that exist for panel\'s own tests')
    .action(async (flags: { json?: boolean; all?: boolean }) => {
      const [registry, { z }] = await Promise.all([loadRegistry(), import('zod')]);
      const rows = [...registry.values()].filter((r) => flags.all || !TEST_ONLY.has(r.id)).map((r) => ({ id: r.id, title: r.title, after: r.after, params: z.toJSONSchema(r.params, { io: 'input', unrepresentable: 'any' }) }));
      if (flags.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return;
      }
      for (const r of rows) {
        process.stdout.write(`${r.id.padEnd(12)} ${r.title}${r.after.length ? `  (after: ${r.after.join(', ')})` : ''}\n`);
        const props = (r.params as { properties?: Record<string, { type?: string; default?: unknown; description?: string }> }).properties ?? {};
        for (const [k, v] of Object.entries(props)) {
          const kind = v.type === 'array' ? 'list: a,b or JSON' : v.type === 'object' ? 'JSON' : (v.type ?? 'value');
          process.stdout.write(`${''.padEnd(12)}   --set ${r.id}.${k}=<${kind}>${v.default !== undefined ? ` (default ${JSON.stringify(v.default)})` : ''}${v.description ? `  ${v.description}` : ''}\n`);
        }
      }
    });
  program
    .command('schema')
    .description('print the JSON Schema of fleet.yaml (for editor completion)')
    .action(async () => {
      const [registry, { inventoryJsonSchema }] = await Promise.all([loadRegistry(), import('../inventory/json-schema.js')]);
      process.stdout.write(JSON.stringify(inventoryJsonSchema([...registry.keys()]), null, 2) + '\n');
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 1;
    }
    if (e instanceof UsageError) {
      process.stderr.write(usageLines(e.message));
      return 1;
    }
    process.stderr.write(`panel: ${redact((e as Error).stack ?? String(e))}\n`);
    return 1;
  }
  return exitCode;
}

export { Option };
