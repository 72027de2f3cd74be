/**
 * Removal of what the host state record says a recipe created: the default
 * teardown of every recipe, and the last step of the stack's own teardowns.
 * Only recorded things are touched, and nothing the user made is lost:
 * - a file panel wrote is removed only while its content is still what panel
 *   recorded; a changed one stays where it is (with --purge it is moved to
 *   /var/lib/panel/kept/), and the recap says so;
 * - a file that existed before panel comes back from its backup only while
 *   panel's version is unchanged; otherwise the user's file stays, and the
 *   record (and so the backup it points at) too;
 * - packages panel installed stay unless asked (--remove-packages: apt-get
 *   remove; --purge), and stay whatever was asked while another installed
 *   package needs them, or their configuration directories hold a file
 *   neither panel nor the package made (--purge --force copies those to
 *   /var/lib/panel/kept/ first). Packages installed before panel were never
 *   recorded, so they stay.
 * Each removal forgets its record in the same step, so a second uninstall
 * (or one on a host panel never touched) plans nothing.
 *
 * Facts: which recorded paths, packages and links are still on the host, the
 * sha256 of each recorded file, and for each recorded package what would keep
 * it (read from state.json on the host, so the snippet needs no plan-time input).
 */
import { KEPT_DIR, type StateRecord } from '../engine/state.js';
import { lines, type Script, sh } from '../shell.js';
import type { Change, FactOutput, PlanContext, Resource, TeardownMode } from './types.js';
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
  /** Record ids whose thing is still on the host (paths, `package:…` installed, `link:…`). */
  readonly present: ReadonlySet<string>;
  /** sha256 of each recorded path that is a regular file now. */
  readonly sha256: ReadonlyMap<string, string>;
  /** `package:…` ids removed earlier whose configuration files are still there (dpkg's `rc`). */
  readonly configOnly: ReadonlySet<string>;
  /** Per recorded package: installed packages the user asked for that need it. */
  readonly neededBy: ReadonlyMap<string, readonly string[]>;
  /** Per recorded package: files in its configuration directories that the package did not ship (or shipped and were changed). */
  readonly userFiles: ReadonlyMap<string, readonly string[]>;
}

/**
 * Facts shell for one recorded package P: `needed-by=P Q` for every package
 * installed by hand that apt would remove with P, and `user-file=P PATH` for
 * every file of P's (and its automatic dependencies') configuration
 * directories — /etc/X holding their conffiles and no other package's — that
 * dpkg's file lists do not name (a link to a file they ship is the
 * maintainer scripts' own: sites-enabled/default), and every conffile whose
 * md5 differs from dpkg's. apt only simulates (-s); nothing is written.
 */
const PACKAGE_BLOCKERS = sh`__auto= __pre= __pre_done=
__blockers() {
  local p=$1 q f sum rest d t o
  local -a set=() clo=("$1")
  local -A own=() dirs=()
  if [ -z "$__pre_done" ]; then
    __auto=$(apt-mark showauto 2>/dev/null)
    __pre=$(apt-get -s -o Debug::NoLocking=1 autoremove 2>/dev/null | awk '$1 == "Remv" { sub(/:.*/, "", $2); print $2 }')
    __pre_done=1
  fi
  mapfile -t set < <(apt-get -s -o Debug::NoLocking=1 remove --auto-remove "$p" 2>/dev/null | PRE=$__pre awk 'BEGIN { n = split(ENVIRON["PRE"], a, "\\n"); for (i = 1; i <= n; i++) skip[a[i]] = 1 } $1 == "Remv" { sub(/:.*/, "", $2); if (!($2 in skip)) print $2 }')
  for q in "\${set[@]}"; do
    [ "$q" = "$p" ] && continue
    if grep -qxF -- "$q" <<< "$__auto"; then clo+=("$q"); else printf 'needed-by=%s %s\\n' "$p" "$q"; fi
  done
  while IFS= read -r f; do [ -n "$f" ] && own[$f]=1; done < <(dpkg -L "\${clo[@]}" 2>/dev/null)
  for q in "\${clo[@]}"; do
    while read -r f sum rest; do
      case $f in /*) ;; *) continue ;; esac
      [ "$rest" = obsolete ] && continue
      if [ -f "$f" ] && [ "$(md5sum < "$f")" != "$sum  -" ]; then printf 'user-file=%s %s\\n' "$p" "$f"; fi
      case $f in /etc/*/*) d=\${f#/etc/}; dirs[/etc/\${d%%/*}]=1 ;; esac
    done < <(dpkg-query -W -f='\${Conffiles}\\n' "$q" 2>/dev/null)
  done
  for d in "\${!dirs[@]}"; do
    # Only a directory of these packages alone (/etc/nginx), never a shared one (/etc/default).
    for o in $(dpkg -S "$d" 2>/dev/null | sed -n "s|: $d\\$||p" | tr ',' ' '); do
      printf '%s\\n' "\${clo[@]}" | grep -qxF -- "\${o%%:*}" || continue 2
    done
    while IFS= read -r -d '' f; do
      [ -n "\${own[$f]:-}" ] && continue
      if [ -L "$f" ]; then t=$(readlink -f -- "$f"); [ -n "$t" ] && [ -n "\${own[$t]:-}" ] && continue; fi
      printf 'user-file=%s %s\\n' "$p" "$f"
    done < <(find "$d" -xdev \\( -type f -o -type l \\) -print0 2>/dev/null)
  done
}`;

/** Apply shell: apt-get ACTION the packages, then the dependencies they alone pulled in (not what was orphaned before). */
function aptTakeOff(action: 'remove' | 'purge', packages: readonly string[]): Script {
  return lines(
    sh`export DEBIAN_FRONTEND=noninteractive`,
    sh`__orphans() { apt-get -s -o Debug::NoLocking=1 autoremove 2>/dev/null | awk '$1 == "Remv" { sub(/:.*/, "", $2); print $2 }' | sort; }`,
    sh`__before=$(__orphans)`,
    sh`panel_apt_get -y ${action} ${packages} || exit 1`,
    sh`__new=$(__orphans | B=$__before awk 'BEGIN { n = split(ENVIRON["B"], a, "\\n"); for (i = 1; i <= n; i++) old[a[i]] = 1 } !($0 in old)')`,
    sh`if [ -n "$__new" ]; then panel_apt_get -y ${action} $__new || exit 1; fi`,
  );
}

/** Apply shell: PATH copied (or moved) to the same path below /var/lib/panel/kept/, never over an earlier copy. */
function toKept(path: string, how: 'copy' | 'move'): Script {
  // $PANEL_STATE is /var/lib/panel on a host (KEPT_DIR); tests running as a user point it elsewhere.
  return sh`__dst="$PANEL_STATE/kept"${path}
[ ! -e "$__dst" ] && [ ! -L "$__dst" ] || __dst="$__dst.$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p -- "$(dirname -- "$__dst")" && chmod 0700 "$PANEL_STATE/kept" || exit 1
cp -a -- ${path} "$__dst" || exit 1
${how === 'move' ? sh`rm -f -- ${path} || exit 1` : sh`true`}`;
}

function keptPath(path: string): string {
  return `${KEPT_DIR}${path}`;
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
${PACKAGE_BLOCKERS}
awk -v r=${`"recipe":${JSON.stringify(this.o.recipe)},`} '/^    "/ && index($0, r) { k = substr($0, 6); e = index(k, "\\": {"); if (e > 0) print substr(k, 1, e - 1) }' "$PANEL_STATE_FILE" |
while IFS= read -r __k; do
  case $__k in
    /*) if [ -e "$__k" ] || [ -L "$__k" ]; then
          printf 'present=%s\\n' "$__k"
          if [ -f "$__k" ]; then printf 'sha256=%s %s\\n' "$(panel_sha256 "$__k")" "$__k"; fi
        fi ;;
    package:*) case $(dpkg-query -W -f='\${Status}\\n' "\${__k#package:}" 2>/dev/null) in
        *' installed') printf 'present=%s\\n' "$__k"; __blockers "\${__k#package:}" ;;
        *' config-files') printf 'config=%s\\n' "$__k" ;;
      esac ;;
    link:*) if ip link show dev "\${__k#link:}" >/dev/null 2>&1; then printf 'present=%s\\n' "$__k"; fi ;;
    *) printf 'present=%s\\n' "$__k" ;;
  esac
done
true`);
  }

  parse(out: FactOutput): RemovalFacts {
    if (out.code !== 0) throw new Error(`${this.key}: fact script failed (exit ${out.code})`);
    const present = new Set<string>();
    const sha256 = new Map<string, string>();
    const configOnly = new Set<string>();
    const neededBy = new Map<string, string[]>();
    const userFiles = new Map<string, string[]>();
    const add = (m: Map<string, string[]>, rest: string): void => {
      const sp = rest.indexOf(' ');
      if (sp > 0) m.set(rest.slice(0, sp), [...(m.get(rest.slice(0, sp)) ?? []), rest.slice(sp + 1)]);
    };
    for (const line of out.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const [key, rest] = [line.slice(0, eq), line.slice(eq + 1)];
      if (key === 'present') present.add(rest);
      else if (key === 'config') configOnly.add(rest);
      else if (key === 'sha256') sha256.set(rest.slice(rest.indexOf(' ') + 1), rest.slice(0, rest.indexOf(' ')));
      else if (key === 'needed-by') add(neededBy, rest);
      else if (key === 'user-file') add(userFiles, rest);
    }
    return { present, sha256, configOnly, neededBy, userFiles };
  }

  plan(f: RemovalFacts, ctx: PlanContext): Change[] {
    const mine = (ctx.state?.records ?? []).filter(([, r]) => r.recipe === this.o.recipe);
    if (mine.length === 0) return [];
    const mode: TeardownMode = ctx.teardown ?? { purge: this.o.purge, packages: this.o.purge ? 'purge' : 'keep', force: false, rebuildRecord: false };
    const keep = (what: string, why?: string): void => ctx.keep?.(what, why);
    const base = { resource: this.key };
    const forget = (id: string) => ({ kind: 'forget' as const, id });
    const files: Change[] = [];
    const lastFiles: Change[] = [];
    const dirs: [string, Change][] = [];
    const others: Change[] = [];
    const gone: string[] = [];
    /** Recorded as existing before panel, and not panel's to remove: only the record goes. */
    const released: string[] = [];
    /** Paths that stay where they are because the user changed them. */
    const staying: string[] = [];
    const packages: string[] = [];
    const configOnly: string[] = [];
    const beforePackages: Change[] = [];
    let units = false;
    /** Every path and package panel records (any recipe): those are never "the user's". */
    const recorded = new Set((ctx.state?.records ?? []).flatMap(([id, r]) => ('path' in r ? [r.path] : r.kind === 'package' ? [r.name] : [id])));

    for (const [id, r] of mine) {
      if (!this.o.purge && this.o.keep?.(r)) {
        keep(label(id, r));
        continue;
      }
      const here = f.present.has(id);
      switch (r.kind) {
        case 'file':
        case 'unit':
        case 'binary': {
          // Changed since panel wrote it: the user's work now, never deleted.
          const changed = here && f.sha256.get(r.path) !== r.sha256;
          let c: Change;
          if (r.existed && r.backup !== null && changed) {
            keep(r.path, `changed since panel wrote it: left as it is; the version from before panel stays in ${r.backup}`);
            staying.push(r.path);
            continue;
          } else if (r.existed && r.backup !== null) {
            c = { ...base, action: 'update', target: r.path, reason: 'existed before panel: restore its backup', records: [forget(id)], script: sh`panel_restore ${r.backup} ${r.path}` };
          } else if (r.existed) {
            // Nothing to restore it from: leave the current version, stop owning it.
            keep(`${r.path} (existed before panel, no backup)`);
            c = { ...base, action: 'delete', target: `${r.path} from panel's record`, reason: 'existed before panel, no backup: left in place', records: [forget(id)], script: sh`true` };
          } else if (!here) {
            gone.push(id);
            continue;
          } else if (changed && mode.purge) {
            keep(r.path, `changed since panel wrote it: moved to ${keptPath(r.path)}`);
            c = { ...base, action: 'update', target: `${r.path} → ${keptPath(r.path)}`, reason: 'changed since panel wrote it: moved, not deleted', records: [forget(id)], script: toKept(r.path, 'move') };
          } else if (changed) {
            keep(r.path, 'changed since panel wrote it: left in place (--purge moves it to /var/lib/panel/kept/)');
            staying.push(r.path);
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
          // A tree holding a file the user changed is only removed when empty: that file stays.
          const tree = (this.o.trees?.includes(r.path) ?? false) && !staying.some((p) => p.startsWith(`${r.path}/`));
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
        case 'package': {
          if (f.configOnly.has(id)) {
            if (mode.packages === 'purge') configOnly.push(r.name);
            else keep(`package ${r.name}`, 'removed earlier, its configuration files kept (--purge purges them)');
            break;
          }
          if (!here) {
            gone.push(id);
            break;
          }
          const needed = (f.neededBy.get(r.name) ?? []).filter((q) => !recorded.has(q));
          const users = (f.userFiles.get(r.name) ?? []).filter((p) => !recorded.has(p));
          if (mode.packages === 'keep') {
            keep(`package ${r.name}`, `installed by panel, kept (--remove-packages removes it, --purge purges it)${blockers(needed, users)}`);
          } else if (needed.length > 0 || (users.length > 0 && !(mode.packages === 'purge' && mode.force))) {
            keep(`package ${r.name}`, `kept${blockers(needed, users)}${needed.length === 0 ? ' (--purge --force copies those files to /var/lib/panel/kept/ and purges it)' : ''}`);
          } else {
            for (const p of users) {
              keep(p, `not panel's nor package ${r.name}'s: copied to ${keptPath(p)} before the purge (--force)`);
              beforePackages.push({ ...base, action: 'update', target: `${p} → ${keptPath(p)}`, reason: `not panel's nor package ${r.name}'s: copied before the purge (--force)`, script: toKept(p, 'copy') });
            }
            packages.push(r.name);
          }
          break;
        }
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
    changes.push(...beforePackages);
    if (packages.length > 0) {
      packages.sort();
      const purge = mode.packages === 'purge';
      changes.push({
        ...base,
        action: 'remove',
        target: packages.join(' '),
        reason: purge ? 'installed by panel (--purge: configuration files too)' : 'installed by panel (--remove-packages: configuration files kept)',
        // Purged packages leave nothing to record; removed ones keep their
        // record while their configuration is there, so --purge can finish.
        ...(purge ? { records: packages.map((p) => forget(`package:${p}`)) } : {}),
        script: purge
          ? aptTakeOff('purge', packages)
          : lines(aptTakeOff('remove', packages), sh`for __p in ${packages}; do case $(dpkg-query -W -f='\${Status}' "$__p" 2>/dev/null) in *config-files) ;; *) panel_state_del records "package:$__p" ;; esac; done`),
      });
    }
    if (configOnly.length > 0) {
      configOnly.sort();
      changes.push({ ...base, action: 'remove', target: configOnly.join(' '), reason: 'configuration files of packages panel installed and removed earlier (--purge)', records: configOnly.map((p) => forget(`package:${p}`)), script: aptTakeOff('purge', configOnly) });
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

/** `: needed by X; /etc/nginx/conf.d/mysite.conf is neither panel's nor the package's` — why a package stays. */
function blockers(needed: readonly string[], users: readonly string[]): string {
  const parts = [
    ...(needed.length > 0 ? [`needed by ${needed.join(', ')} (installed after panel)`] : []),
    ...(users.length > 0 ? [`${users.join(', ')} ${users.length === 1 ? 'is' : 'are'} neither panel's nor the package's`] : []),
  ];
  return parts.length > 0 ? `: ${parts.join('; ')}` : '';
}

export function removal(o: RemovalOptions): RemovalResource {
  return new RemovalResource(o);
}
