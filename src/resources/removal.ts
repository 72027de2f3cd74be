/**
 * Removal of what the host state record says a recipe created: the default
 * teardown of every recipe, and the last step of the stack's own teardowns.
 * Only recorded things are touched; a file that existed before panel comes
 * back from its backup; a package installed before panel was never recorded,
 * so it stays. Each removal forgets its record in the same step, so a second
 * uninstall (or one on a host panel never touched) plans nothing.
 *
 * Facts: which recorded paths, packages and links are still on the host
 * (read from state.json on the host, so the snippet needs no plan-time input).
 */
import type { StateRecord } from '../engine/state.js';
import { lines, type Script, sh } from '../shell.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin } from './util.js';

export interface RemovalOptions {
  /** The recipe whose records are removed. */
  readonly recipe: string;
  /** --purge: remove kept records too. */
  readonly purge: boolean;
  /** Records left in place without --purge (secrets, certificates, volumes): reported as kept. */
  readonly keep?: (r: StateRecord) => boolean;
  /** Directories removed with everything below them (runtime files the program wrote), instead of only when empty. */
  readonly trees?: readonly string[];
  /** Paths removed after everything else (faasd: containerd's log driver of every task). */
  readonly last?: readonly string[];
  /** Shell run after the removals when there were any (e.g. reload nginx when it stays installed). */
  readonly then?: { readonly name: string; readonly script: Script };
}

export interface RemovalFacts {
  /** Record ids whose thing is still on the host (paths, `package:…`, `link:…`). */
  readonly present: ReadonlySet<string>;
}

/** The recorded thing as a person reads it in a plan or report. */
function label(id: string, r: StateRecord): string {
  return 'path' in r ? r.path : id;
}

export class RemovalResource implements Resource<RemovalFacts> {
  readonly key: string;
  constructor(readonly o: RemovalOptions) {
    this.key = `removal:${o.recipe}`;
  }

  facts(): Script {
    // Keys of this recipe's record lines; the value holds "recipe":"<id>".
    return noStdin(sh`[ -r "$PANEL_STATE_FILE" ] || exit 0
awk -v r=${`"recipe":${JSON.stringify(this.o.recipe)},`} '/^    "/ && index($0, r) { k = substr($0, 6); e = index(k, "\\": {"); if (e > 0) print substr(k, 1, e - 1) }' "$PANEL_STATE_FILE" |
while IFS= read -r __k; do
  case $__k in
    /*) if [ -e "$__k" ] || [ -L "$__k" ]; then printf 'present=%s\\n' "$__k"; fi ;;
    package:*) if dpkg-query -W -f='\${Status}\\n' "\${__k#package:}" 2>/dev/null | grep -q ' installed$'; then printf 'present=%s\\n' "$__k"; fi ;;
    link:*) if ip link show dev "\${__k#link:}" >/dev/null 2>&1; then printf 'present=%s\\n' "$__k"; fi ;;
    *) printf 'present=%s\\n' "$__k" ;;
  esac
done
true`);
  }

  parse(out: FactOutput): RemovalFacts {
    if (out.code !== 0) throw new Error(`${this.key}: fact script failed (exit ${out.code})`);
    const present = new Set<string>();
    for (const line of out.stdout.split('\n')) if (line.startsWith('present=')) present.add(line.slice('present='.length));
    return { present };
  }

  plan(f: RemovalFacts, ctx: PlanContext): Change[] {
    const mine = (ctx.state?.records ?? []).filter(([, r]) => r.recipe === this.o.recipe);
    if (mine.length === 0) return [];
    const base = { resource: this.key };
    const forget = (id: string) => ({ kind: 'forget' as const, id });
    const files: Change[] = [];
    const lastFiles: Change[] = [];
    const dirs: [string, Change][] = [];
    const others: Change[] = [];
    const gone: string[] = [];
    /** Recorded as existing before panel, and not panel's to remove: only the record goes. */
    const released: string[] = [];
    const packages: string[] = [];
    let units = false;

    for (const [id, r] of mine) {
      if (!this.o.purge && this.o.keep?.(r)) {
        ctx.keep?.(label(id, r));
        continue;
      }
      const here = f.present.has(id);
      switch (r.kind) {
        case 'file':
        case 'unit':
        case 'binary': {
          let c: Change;
          if (r.existed && r.backup !== null) {
            c = { ...base, action: 'update', target: r.path, reason: 'existed before panel: restore its backup', records: [forget(id)], script: sh`panel_restore ${r.backup} ${r.path}` };
          } else if (r.existed) {
            // Nothing to restore it from: leave the current version, stop owning it.
            ctx.keep?.(`${r.path} (existed before panel, no backup)`);
            c = { ...base, action: 'delete', target: `${r.path} from panel's record`, reason: 'existed before panel, no backup: left in place', records: [forget(id)], script: sh`true` };
          } else if (!here) {
            gone.push(id);
            continue;
          } else {
            c = { ...base, action: 'delete', target: r.path, reason: 'created by panel', records: [forget(id)], script: sh`rm -f -- ${r.path}` };
          }
          if (r.kind === 'unit') units = true;
          (this.o.last?.includes(r.path) ? lastFiles : files).push(c);
          break;
        }
        case 'directory': {
          if (r.existed) {
            released.push(id);
            continue;
          }
          if (!here) {
            gone.push(id);
            continue;
          }
          const tree = this.o.trees?.includes(r.path) ?? false;
          dirs.push([
            r.path,
            {
              ...base,
              action: 'delete',
              target: r.path,
              reason: tree ? 'created by panel (with what the service wrote in it)' : 'created by panel (if empty)',
              records: [forget(id)],
              // --one-file-system: never follow a mount point into another file system.
              script: tree ? sh`rm -rf --one-file-system -- ${r.path}` : sh`rmdir -- ${r.path} 2>/dev/null || [ -n "$(ls -A -- ${r.path} 2>/dev/null)" ] || [ ! -e ${r.path} ]`,
            },
          ]);
          break;
        }
        case 'package':
          if (here) packages.push(r.name);
          else gone.push(id);
          break;
        case 'link':
          if (r.existed) released.push(id);
          else if (!here) gone.push(id);
          else others.push({ ...base, action: 'delete', target: `link ${r.name}`, reason: 'created by panel', records: [forget(id)], script: sh`ip link del dev ${r.name} 2>/dev/null || ! ip link show dev ${r.name} >/dev/null 2>&1` });
          break;
        case 'sysctl':
          if (r.previous === null || r.previous === r.value) gone.push(id);
          else others.push({ ...base, action: 'set', target: `${r.key}=${r.previous}`, reason: 'value before panel', records: [forget(id)], script: sh`sysctl -q -w ${`${r.key}=${r.previous}`} >/dev/null || exit 1` });
          break;
        case 'firewall':
          if (r.existed) released.push(id);
          else others.push({ ...base, action: 'delete', target: `ufw rule ${r.rule}`, reason: 'added by panel', records: [forget(id)], script: sh`if command -v ufw >/dev/null 2>&1; then ufw delete ${r.rule.split(' ')} >/dev/null || exit 1; fi` });
          break;
        case 'kmod':
          // The module stays loaded (something else may use it); its modules-load.d entry is a file record of its own.
          gone.push(id);
          break;
        case 'archive':
          if (r.tree === undefined) {
            // Its members are path records of their own.
            gone.push(id);
            break;
          }
          // A directory of its own: everything in it came from the archive, so it goes whole;
          // a directory that was there before panel comes back.
          others.push({
            ...base,
            action: 'delete',
            target: r.into,
            reason: `extracted by panel (${r.tree.entries} entries)${r.tree.backup !== null ? `; ${r.tree.backup} put back` : ''}`,
            records: [forget(id)],
            script: lines(
              sh`rm -rf --one-file-system -- ${r.into} || exit 1`,
              ...(r.tree.backup !== null ? [sh`if [ -d ${r.tree.backup} ]; then mv -- ${r.tree.backup} ${r.into} || exit 1; fi`] : []),
            ),
          });
          break;
      }
    }

    const changes: Change[] = [...files];
    if (units) changes.push({ ...base, action: 'run', target: 'systemctl daemon-reload', reason: 'unit files removed', script: sh`systemctl daemon-reload || exit 1` });
    // Deepest first, so a parent is empty by the time its turn comes.
    dirs.sort(([a], [b]) => b.length - a.length || (a < b ? 1 : -1));
    changes.push(...dirs.map(([, c]) => c));
    if (packages.length > 0) {
      packages.sort();
      changes.push({
        ...base,
        action: 'remove',
        target: packages.join(' '),
        reason: 'installed by panel',
        records: packages.map((p) => forget(`package:${p}`)),
        // Purged (configuration files too) and with the dependencies they
        // pulled in: a package panel installed was never the user's, and a
        // removed-but-configured package would leave /etc behind with no
        // record left to purge it later.
        script: lines(sh`export DEBIAN_FRONTEND=noninteractive`, sh`panel_apt_get -y purge --auto-remove ${packages} || exit 1`),
      });
    }
    changes.push(...others, ...lastFiles);
    if (gone.length > 0) {
      changes.push({ ...base, action: 'delete', target: `${gone.length} entr${gone.length === 1 ? 'y' : 'ies'} of panel's record`, reason: 'already absent', records: gone.map(forget), script: sh`true` });
    }
    if (released.length > 0) {
      changes.push({ ...base, action: 'delete', target: `${released.length} entr${released.length === 1 ? 'y' : 'ies'} of panel's record`, reason: 'existed before panel: left as they are', records: released.map(forget), script: sh`true` });
    }
    if (this.o.then && changes.length > 0) changes.push({ ...base, action: 'run', target: this.o.then.name, reason: 'after the removals', script: this.o.then.script });
    return changes;
  }
}

export function removal(o: RemovalOptions): RemovalResource {
  return new RemovalResource(o);
}
