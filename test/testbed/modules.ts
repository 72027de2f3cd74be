/**
 * Kernel modules inside test hosts. The runner's kernel may have no loadable
 * modules at all (everything built in, no /lib/modules): then `modprobe overlay`
 * or `modprobe br_netfilter` in a host would fail where a real server succeeds.
 * So hosts get a /lib/modules/<release>/modules.builtin listing what the runner's
 * kernel really has built in (detected, never assumed), indexed with depmod, and
 * modprobe behaves as on a real host: built-ins succeed, anything else fails.
 * When the runner does have /lib/modules, hosts see it read-only instead.
 */
import { existsSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { must } from './run.js';

/** nspawn arguments for /lib/modules (bind the runner's when it has real modules). */
export function modulesNspawnArgs(): string[] {
  return existsSync(`/lib/modules/${release()}`) ? [`--bind-ro=/lib/modules/${release()}`] : [];
}

let builtins: Promise<string[]> | undefined;

/** Module names the runner's kernel has built in, from /sys/module and feature probes. */
function detectBuiltins(): Promise<string[]> {
  builtins ??= (async () => {
    const names = new Set(await readdir('/sys/module').catch(() => [] as string[]));
    const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    if (/\toverlay$/m.test(filesystems)) names.add('overlay');
    if (existsSync('/proc/sys/net/bridge')) names.add('br_netfilter').add('bridge');
    if (existsSync('/proc/net/ip_tables_names')) names.add('ip_tables').add('iptable_filter').add('iptable_nat');
    if (existsSync('/proc/net/nf_conntrack')) names.add('nf_conntrack').add('nf_nat');
    return [...names].sort();
  })();
  return builtins;
}

/**
 * Write modules.builtin into the host root and index it (only when the runner has
 * no modules). A host without kmod (the cloud-like profile) gets the index too,
 * made with its base's kmod run inside the host root from /run (a tmpfs at boot,
 * so the host never sees it): once panel installs kmod there, modprobe works as
 * on a real host.
 */
export async function writeBuiltinModules(root: string, baseRoot: string): Promise<void> {
  if (modulesNspawnArgs().length > 0) return;
  const dir = join(root, 'lib/modules', release());
  await mkdir(dir, { recursive: true });
  const list = (await detectBuiltins()).map((n) => `kernel/builtin/${n}.ko\n`).join('');
  await writeFile(join(dir, 'modules.builtin'), list);
  // lstat, not exists: depmod is an absolute symlink that only resolves inside the root.
  const has = async (p: string): Promise<boolean> => lstat(join(root, p)).then(() => true, () => false);
  if ((await has('usr/sbin/depmod')) || (await has('sbin/depmod'))) {
    await must(['chroot', root, 'depmod', release()]); // no -q: kmod 34 (trixie) dropped it
    return;
  }
  const tmp = join(root, 'run/panel-testbed-kmod');
  await mkdir(tmp, { recursive: true });
  try {
    // kmod is a multicall binary: named depmod, it is depmod.
    await copyFile(join(baseRoot, 'usr/bin/kmod'), join(tmp, 'depmod'));
    await chmod(join(tmp, 'depmod'), 0o755);
    await must(['chroot', root, '/run/panel-testbed-kmod/depmod', release()]);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
