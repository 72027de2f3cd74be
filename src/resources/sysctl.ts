/**
 * A kernel parameter: the runtime value (sysctl -w) and a drop-in under
 * /etc/sysctl.d that sets it at boot. The drop-in is panel's WHOLE file: its
 * content is exactly the one line (plus a header), so anything else in it —
 * an appended `net.ipv4.ip_forward=0`, a second line for the key — is drift
 * that `plan`/`check` show as a diff and `install` removes. Never appended
 * to, which is how upstream installers end up with duplicate lines.
 *
 * At boot systemd-sysctl reads every *.conf of the sysctl.d directories in
 * file-name order (a name in /etc masks the same name elsewhere), the last
 * value wins; on Debian /etc/sysctl.conf is read as /etc/sysctl.d/99-sysctl.conf,
 * which sorts after 99-panel.conf. A later file that sets the key to another
 * value is not panel's to edit: planning warns, naming that file.
 */
import { lines, type Script, sh } from '../shell.js';
import type { SysctlOptions } from './api.js';
import { file, type FileFacts, type FileResource, parseFileFacts } from './file.js';
import type { Change, FactOutput, PlanContext, Resource } from './types.js';
import { noStdin, one, parseKv } from './util.js';

/** A later file that sets the key (or an alias of it). */
export interface SysctlOverride {
  /** The file as systemd-sysctl reads it (the link name for a symlink). */
  readonly path: string;
  /** Where a symlink leads, when it is one (e.g. /etc/sysctl.conf). */
  readonly target: string | undefined;
  readonly value: string;
  /** The name it uses: the key itself or an alias (net.ipv4.ip_forward). */
  readonly key: string;
}

export interface SysctlFacts {
  /** `sysctl -n` output, whitespace-normalised; undefined when the key does not exist. */
  readonly runtime: string | undefined;
  readonly file: FileFacts;
  /** Files read after the drop-in at boot that set this key, in reading order. */
  readonly overrides: readonly SysctlOverride[];
}

const KEY = /^[a-z0-9_]+([./][A-Za-z0-9_@:-]+)+$/;
const norm = (v: string): string => v.trim().split(/\s+/).join(' ');

/** Names of one knob: setting either sets the other. */
const ALIASES: Readonly<Record<string, readonly string[]>> = {
  'net.ipv4.ip_forward': ['net.ipv4.conf.all.forwarding'],
  'net.ipv4.conf.all.forwarding': ['net.ipv4.ip_forward'],
};


/**
 * systemd-sysctl's directories are listed in precedence order for files of the same name.
 * Prints `override=VALUE<TAB>PATH<TAB>TARGET<TAB>KEY` for every file read after FILE's
 * name that sets one of KEYS (space-separated), then /etc/sysctl.conf when no
 * sysctl.d link already covers it (procps' `sysctl --system` reads it last).
 */
const OVERRIDES = sh.raw`
__me=\${__file##*/}
# The first file of each name (directory precedence) named after FILE, in
# byte order, as "NAME<TAB>PATH" in __later: listed and sorted by bash (C
# collation inside the function), no sort process.
__panel_later() {
  local LC_ALL=C d f n i j x
  local -A seen=()
  __later=()
  for d in /etc/sysctl.d /run/sysctl.d /usr/local/lib/sysctl.d /usr/lib/sysctl.d /lib/sysctl.d; do
    for f in "$d"/*.conf; do
      [ -f "$f" ] || continue
      n=\${f##*/}
      [ -z "\${seen[$n]+set}" ] || continue
      seen[$n]=1
      if [[ $n > $__me ]]; then __later+=("$n"$'\t'"$f"); fi
    done
  done
  for ((i = 1; i < \${#__later[@]}; i++)); do
    x=\${__later[i]}; j=$i
    while [ "$j" -gt 0 ] && [[ \${__later[j-1]%%$'\t'*} > \${x%%$'\t'*} ]]; do __later[j]=\${__later[j-1]}; j=$((j - 1)); done
    __later[j]=$x
  done
}
__panel_later
# Each file's last setting of one of the keys, read by bash, then /etc/sysctl.conf
# when no sysctl.d link covers it. A file's target (readlink) is asked only for a
# file that sets one: on a host with none, no process at all.
__panel_overrides() {
  local f t k v line last lastk found
  local -a w
  local -A want=()
  for k in $__keys; do want[$k]=1; done
  for f in "$@"; do
    found=0
    while IFS= read -r line || [ -n "$line" ]; do
      # The name: before the first '=', leading blanks and '-' (ignore errors) and trailing blanks off, '/' read as '.'.
      k=\${line%%=*}
      k=\${k#"\${k%%[!$' \t-']*}"}
      k=\${k%"\${k##*[!$' \t']}"}
      k=\${k//\//.}
      [ -n "$k" ] && [ -n "\${want[$k]+set}" ] || continue
      # The value: after the first '=', blanks at either end off, runs of blanks as one space.
      IFS=$' \t' read -r -a w <<<"\${line#*=}"
      printf -v v '%s ' "\${w[@]}"
      last=\${v% } lastk=$k found=1
    done <"$f"
    [ "$found" = 1 ] || continue
    t=
    if [ "$f" != /etc/sysctl.conf ]; then t=$(readlink -f -- "$f"); [ "$t" != "$f" ] || t=; fi
    printf 'override=%s\t%s\t%s\t%s\n' "$last" "$f" "$t" "$lastk"
  done
}
__files=("\${__later[@]#*$'\t'}")
__linked=0
for __f in "\${__files[@]}"; do [ "$__f" -ef /etc/sysctl.conf ] && __linked=1; done
if [ $__linked = 0 ] && [ -f /etc/sysctl.conf ]; then __files+=(/etc/sysctl.conf); fi
__panel_overrides "\${__files[@]}"
`;

export class SysctlResource implements Resource<SysctlFacts> {
  readonly key: string;
  readonly path: string;
  readonly dropIn: FileResource;
  constructor(readonly o: SysctlOptions) {
    this.key = `sysctl:${o.key}`;
    this.path = o.file ?? '/etc/sysctl.d/99-panel.conf';
    this.dropIn = file({
      path: this.path,
      content: `# Written by panel, which owns this whole file: any other line here is drift that panel removes.\n# To set another value, use a file of your own.\n${o.key} = ${norm(o.value)}\n`,
    });
  }
  /** Its drop-in's stat is read with the batch's (prelude: panel_files_prefetch). */
  get paths(): readonly string[] {
    return this.dropIn.paths;
  }
  facts(): Script {
    const keys = [this.o.key, ...(ALIASES[this.o.key] ?? [])].join(' ');
    return noStdin(
      lines(
        // /proc/sys read by bash is what sysctl -n prints; sysctl itself for a key with a slash (an interface name with a dot).
        // Read whole (trailing newlines dropped, as $(<file) did) with no subshell.
        sh`__k=${this.o.key}; __p=/proc/sys/\${__k//.//}; __v=
if [[ $__k != */* ]] && [ -r "$__p" ] && { IFS= read -r -d '' __v <"$__p"; [ -n "$__v" ]; }; then __v=\${__v%"\${__v##*[!$'\\n']}"}; echo "runtime=\${__v//[$'\\t\\n']/ }"
elif __v=$(sysctl -n "$__k" 2>/dev/null); then echo "runtime=\${__v//[$'\\t\\n']/ }"; else echo runtime=-; fi`,
        sh`__file=${this.path}; __keys=${keys}`,
        OVERRIDES,
        this.dropIn.facts(),
      ),
    );
  }
  parse(out: FactOutput): SysctlFacts {
    const own: string[] = [];
    const rest: string[] = [];
    for (const line of out.stdout.split('\n')) (/^(runtime|override)=/.test(line) ? own : rest).push(line);
    const kv = parseKv(this.key, { stdout: own.join('\n'), code: out.code });
    const runtime = one(this.key, kv, 'runtime');
    const overrides = (kv.get('override') ?? []).map((l): SysctlOverride => {
      const [value = '', path = '', target = '', key = this.o.key] = l.split('\t');
      if (!path.startsWith('/')) throw new Error(`${this.key}: unexpected override fact: ${JSON.stringify(l.slice(0, 120))}`);
      return { path, target: target === '' ? undefined : target, value: norm(value), key };
    });
    return {
      runtime: runtime === '-' ? undefined : norm(runtime),
      file: parseFileFacts(this.key, { stdout: rest.join('\n'), code: out.code }),
      overrides,
    };
  }
  plan(f: SysctlFacts, ctx: PlanContext): Change[] {
    const want = norm(this.o.value);
    const changes = this.dropIn.plan(f.file, ctx).map((c) => ({ ...c, resource: this.key }));
    if (f.runtime !== want) {
      changes.push({
        resource: this.key,
        action: 'set',
        target: this.o.key,
        reason: f.runtime === undefined ? 'unknown key at runtime' : `runtime ${f.runtime} → ${want}`,
        records: [{ kind: 'sysctl', key: this.o.key, value: want, previous: f.runtime ?? null }],
        script: sh`sysctl -q -w ${`${this.o.key}=${this.o.value}`} >/dev/null || exit 1`,
      });
    }
    for (const o of f.overrides) {
      if (o.value === want) continue;
      const name = o.target ? `${o.target} (read as ${o.path})` : o.path;
      ctx.warn?.(`${name} sets ${o.key} = ${o.value}, and it is read after ${this.path}, so after a reboot ${this.o.key} will be ${o.value}, not ${want}: remove that line or set it to ${want}`);
    }
    return changes;
  }
}

export function sysctl(o: SysctlOptions): SysctlResource {
  if (!KEY.test(o.key)) throw new Error(`sysctl: not a sysctl key: ${JSON.stringify(o.key)}`);
  if (/[\n\r]/.test(o.value)) throw new Error(`sysctl ${o.key}: value contains a newline`);
  if (o.file !== undefined && !o.file.startsWith('/')) throw new Error(`sysctl ${o.key}: file must be absolute`);
  return new SysctlResource(o);
}
