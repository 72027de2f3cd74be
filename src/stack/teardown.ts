/**
 * Taking the container stack off a host, in the order that frees things
 * (REFERENCE §6): faasd and its provider stopped; every containerd namespace
 * of OpenFaaS emptied and removed; leftover shims of those namespaces killed
 * by pid; the openfaas CNI network's iptables rules, IPAM state and result
 * cache removed; containerd stopped and what it left mounted unmounted,
 * deepest first. What cannot be freed is reported as "reboot required" and
 * left for the next run; nothing after it that depends on it is removed.
 *
 * Every step is a guarded command: its check runs with the facts, so a host
 * with nothing left (a second uninstall, a host panel never touched) plans
 * nothing. The stack's steps only act where the state record says panel
 * installed the recipe.
 */
import type { Resource, Change, FactOutput, PlanContext } from '../resources/types.js';
import { command } from '../resources/index.js';
import { sh, type Script } from '../shell.js';
import { OPENFAAS_NET } from './openfaas-net.js';

/** Runs `inner` only on a host where the state record lists something of `recipe`. */
class WhenRecorded<F> implements Resource<F> {
  readonly key: string;
  constructor(
    readonly recipe: string,
    readonly inner: Resource<F>,
  ) {
    this.key = inner.key;
  }
  facts(): Script {
    return this.inner.facts();
  }
  parse(out: FactOutput): F {
    return this.inner.parse(out);
  }
  plan(facts: F, ctx: PlanContext): Change[] {
    const ours = (ctx.state?.records ?? []).some(([, r]) => r.recipe === this.recipe);
    return ours ? this.inner.plan(facts, ctx) : [];
  }
}

export function whenRecorded<F>(recipe: string, inner: Resource<F>): Resource<F> {
  return new WhenRecorded(recipe, inner);
}

/** Seconds each ctr call may take before the step gives up on it. */
const CTR_TIMEOUT = 20;

/** Prints the containerd namespaces of OpenFaaS: openfaas, openfaas-fn and any labelled openfaas. */
const OPENFAAS_NAMESPACES = sh`__ctr() { timeout ${CTR_TIMEOUT} ctr "$@"; }
__openfaas_namespaces() {
  command -v ctr >/dev/null 2>&1 && systemctl is-active -q containerd 2>/dev/null || return 0
  __ctr namespaces ls 2>/dev/null | awk 'NR > 1 && ($1 == "openfaas" || $1 == "openfaas-fn" || $2 ~ /(^|,)openfaas(=|,|$)/) { print $1 }'
}`;

export function openfaasNamespaces(): Resource {
  return command({
    name: 'remove the containerd namespaces of OpenFaaS',
    reason: 'tasks, containers, images or leases left',
    check: sh`${OPENFAAS_NAMESPACES}
[ -z "$(__openfaas_namespaces)" ]`,
    // images rm --sync: content and snapshots go before namespaces rm (GC is
    // otherwise asynchronous and the namespace is refused as not empty).
    // Each ctr call has a timeout; a namespace that will not empty is left
    // (the shim step and containerd's state removal come after).
    run: sh`${OPENFAAS_NAMESPACES}
for __ns in $(__openfaas_namespaces); do
  for __t in $(__ctr -n "$__ns" tasks ls -q 2>/dev/null); do __ctr -n "$__ns" tasks kill -a -s SIGKILL "$__t" >/dev/null 2>&1 || true; done
  for __t in $(__ctr -n "$__ns" tasks ls -q 2>/dev/null); do __ctr -n "$__ns" tasks rm -f "$__t" >/dev/null 2>&1 || true; done
  for __c in $(__ctr -n "$__ns" containers ls -q 2>/dev/null); do __ctr -n "$__ns" containers rm "$__c" >/dev/null 2>&1 || true; done
  for __i in $(__ctr -n "$__ns" images ls -q 2>/dev/null); do __ctr -n "$__ns" images rm --sync "$__i" >/dev/null 2>&1 || true; done
  for __l in $(__ctr -n "$__ns" leases ls -q 2>/dev/null); do __ctr -n "$__ns" leases rm "$__l" >/dev/null 2>&1 || true; done
  if ! __out=$(__ctr namespaces rm "$__ns" 2>&1); then printf 'panel: containerd namespace %s not removed: %s\\n' "$__ns" "$__out" >&2; fi
done
true`,
  });
}

/** Prints `pid namespace id` of every containerd-shim-runc-v2 serving an OpenFaaS namespace (read from /proc, no procps needed). */
const OPENFAAS_SHIMS = sh`__openfaas_shims() {
  local p a0 cmd ns id
  for p in /proc/[0-9]*; do
    IFS= read -r -d '' a0 < "$p/cmdline" 2>/dev/null || [ -n "$a0" ] || continue
    case $a0 in containerd-shim-runc-v2*|*/containerd-shim-runc-v2*) ;; *) continue ;; esac
    cmd=$(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null) || continue
    ns=$(printf '%s\\n' "$cmd" | sed -nE 's/.*-namespace ([^ ]+).*/\\1/p')
    id=$(printf '%s\\n' "$cmd" | sed -nE 's/.* -id ([^ ]+).*/\\1/p')
    case $ns in openfaas|openfaas-fn|openfaas-*) printf '%s %s %s\\n' "\${p#/proc/}" "$ns" "\${id:--}" ;; esac
  done
}
__children() { local c; for c in /proc/[0-9]*; do [ "$(sed 's/.*) //' "$c/stat" 2>/dev/null | cut -d' ' -f2)" = "$1" ] && printf '%s\\n' "\${c#/proc/}"; done; }`;

export function openfaasShims(): Resource {
  return command({
    name: 'kill leftover shims of the OpenFaaS namespaces',
    reason: 'containerd-shim-runc-v2 still running',
    check: sh`${OPENFAAS_SHIMS}
[ -z "$(__openfaas_shims)" ]`,
    // The shim's own children (the container's processes) first, then the
    // shim, each by pid; one that survives SIGKILL is stuck in the kernel.
    run: sh`${OPENFAAS_SHIMS}
__shims=$(__openfaas_shims)
while read -r __pid __ns __id; do
  [ -n "$__pid" ] || continue
  for __c in $(__children "$__pid"); do kill -KILL "$__c" 2>/dev/null || true; done
  kill -KILL "$__pid" 2>/dev/null || true
done <<< "$__shims"
for __i in $(seq 1 20); do [ -z "$(__openfaas_shims)" ] && break; sleep 0.5; done
while read -r __pid __ns __id; do
  [ -n "$__pid" ] || continue
  panel_reboot_required "/proc/$__pid" "containerd-shim-runc-v2 of $__ns/$__id will not die"
done <<< "$(__openfaas_shims)"
true`,
  });
}

/**
 * The iptables-restore input that removes what the openfaas CNI network left:
 * nat rules commented with its name and the per-container CNI-… chains they
 * jump to; the firewall plugin's per-address rules for its subnet; and
 * CNI-FORWARD/CNI-ADMIN with FORWARD's jump to them only when nothing else
 * is in them and no other network list uses the firewall plugin. Empty when
 * there is nothing to remove.
 */
const CNI_RULES = sh`__cni_rules() {
  command -v iptables-save >/dev/null 2>&1 || return 0
  local nat filter fip rest others=0 f has
  nat=$(iptables-save -t nat 2>/dev/null | grep '^-A ' | grep -F ${`"name: \\"${OPENFAAS_NET.networkName}\\"`})
  filter=$(iptables-save -t filter 2>/dev/null)
  fip=$(printf '%s\\n' "$filter" | grep -E '^-A CNI-FORWARD .*-[sd] 10\\.62\\.[0-9]+\\.[0-9]+/32( |$)')
  rest=$(printf '%s\\n' "$filter" | grep -E '^-A CNI-(FORWARD|ADMIN) ' | grep -vE -- '-[sd] 10\\.62\\.[0-9]+\\.[0-9]+/32( |$)|-j CNI-ADMIN( |$)')
  has=$(printf '%s\\n' "$filter" | grep -E '^:CNI-(FORWARD|ADMIN) ')
  for f in /etc/cni/net.d/*; do
    [ -f "$f" ] && [ "$f" != /etc/cni/net.d/10-openfaas.conflist ] && grep -q '"firewall"' "$f" && others=1
  done
  if [ -n "$nat" ]; then
    echo '*nat'
    printf '%s\\n' "$nat" | sed 's/^-A /-D /'
    for f in $(printf '%s\\n' "$nat" | grep -oE '(-A|-j) CNI-[0-9a-f]+( |$)' | awk '{ print $2 }' | sort -u); do echo "-F $f"; echo "-X $f"; done
    echo COMMIT
  fi
  if [ -n "$fip" ] || { [ -n "$has" ] && [ -z "$rest" ] && [ "$others" = 0 ]; }; then
    echo '*filter'
    [ -z "$fip" ] || printf '%s\\n' "$fip" | sed 's/^-A /-D /'
    if [ -n "$has" ] && [ -z "$rest" ] && [ "$others" = 0 ]; then
      printf '%s\\n' "$filter" | grep -E '^-A [A-Z]+ .*-j CNI-FORWARD( |$)' | sed 's/^-A /-D /'
      for f in CNI-FORWARD CNI-ADMIN; do printf '%s\\n' "$filter" | grep -q "^:$f " && echo "-F $f"; done
      for f in CNI-FORWARD CNI-ADMIN; do printf '%s\\n' "$filter" | grep -q "^:$f " && echo "-X $f"; done
    fi
    echo COMMIT
  fi
  return 0
}`;

export function cniRules(): Resource {
  return command({
    name: `remove the iptables rules of ${OPENFAAS_NET.networkName}`,
    reason: 'rules or chains left',
    check: sh`${CNI_RULES}
[ -z "$(__cni_rules)" ]`,
    run: sh`${CNI_RULES}
__in=$(__cni_rules)
[ -z "$__in" ] || printf '%s\\n' "$__in" | iptables-restore --noflush || exit 1`,
  });
}

const CNI_STATE = [`${OPENFAAS_NET.dataDir}/${OPENFAAS_NET.networkName}`, '/var/lib/cni/results'] as const;

export function cniState(): Resource {
  const [ipam] = CNI_STATE;
  return command({
    name: `remove the IPAM state and result cache of ${OPENFAAS_NET.networkName}`,
    reason: 'left by the CNI plugins',
    check: sh`[ ! -e ${ipam} ] && ! ls /var/lib/cni/results/${OPENFAAS_NET.networkName}-* >/dev/null 2>&1`,
    // The directories the plugins made go too, when nothing else is in them.
    run: sh`rm -rf -- ${ipam} /var/lib/cni/results/${OPENFAAS_NET.networkName}-*
rmdir -- /var/lib/cni/results /var/lib/cni ${OPENFAAS_NET.dataDir} 2>/dev/null || true`,
  });
}

const STATE_DIRS = ['/run/containerd', '/var/lib/containerd'] as const;

/**
 * containerd's mounts, and shims still running: `__shims all`, or `__shims
 * foreign` for those of other namespaces than OpenFaaS's (the user's own
 * containers; OpenFaaS's are killed by faasd's teardown earlier in the run).
 */
const CONTAINERD_LEFT = sh`__mounts() { awk '$2 ~ "^/(run|var/lib)/containerd(/|$)" { print $2 }' /proc/self/mounts | sort -r; }
__shims() {
  local p a0
  for p in /proc/[0-9]*; do
    IFS= read -r -d '' a0 < "$p/cmdline" 2>/dev/null || [ -n "$a0" ] || continue
    case $a0 in containerd-shim*|*/containerd-shim*) ;; *) continue ;; esac
    if [ "$1" = foreign ]; then
      case " $(tr '\\0' ' ' < "$p/cmdline" 2>/dev/null) " in *" -namespace openfaas "*|*" -namespace openfaas-"*) continue ;; esac
    fi
    echo "\${p#/proc/}"
  done
}`;

export function containerdState(): Resource {
  return command({
    name: 'unmount and remove what containerd left',
    reason: 'mounts or state left',
    check: sh`${CONTAINERD_LEFT}
[ -n "$(__shims foreign)" ] && exit 0
[ -z "$(__mounts)" ] && [ ! -e ${STATE_DIRS[0]} ] && [ ! -e ${STATE_DIRS[1]} ]`,
    // Deepest first; a mount that stays busy means a reboot, and nothing under
    // it is removed. Shims of other namespaces (the user's containers) keep
    // containerd's state where it is.
    run: sh`${CONTAINERD_LEFT}
# A shim still running (another namespace's, or one that would not die) keeps its state where it is.
if [ -n "$(__shims all)" ]; then echo "panel: containerd state under /run/containerd and /var/lib/containerd kept: containerd-shim processes still run" >&2; exit 0; fi
for __m in $(__mounts); do umount -- "$__m" 2>/dev/null || true; done
__left=$(__mounts)
if [ -n "$__left" ]; then
  while read -r __m; do panel_reboot_required "$__m" busy; done <<< "$__left"
  exit 0
fi
rm -rf --one-file-system -- ${STATE_DIRS}
rmdir -- /opt/containerd/bin /opt/containerd/lib /opt/containerd 2>/dev/null || true`,
  });
}
