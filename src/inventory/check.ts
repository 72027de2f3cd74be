/**
 * Checks that need the whole inventory rather than one value: references
 * between groups and hosts, hosts that are really the same machine, a
 * domain claimed twice, recipe ids that do not exist. Each problem carries
 * the document path of the entry to fix.
 */
import { isIPv6 } from 'node:net';
import { prefixed, suggest } from './messages.js';
import { layersFor, pick } from './resolve.js';
import type { Inventory, Vars } from './schema.js';
import type { DocPath, Problem } from './types.js';

function checkGroups(inv: Inventory, out: Problem[]): void {
  const hostNames = Object.keys(inv.hosts);
  for (const [g, entry] of Object.entries(inv.groups ?? {})) {
    if (g in inv.hosts) {
      out.push({ path: ['groups', g], at: 'key', message: prefixed(['groups', g], `a group cannot have the same name as host "${g}" (--limit would be ambiguous)`) });
    }
    const seen = new Set<string>();
    (entry.hosts ?? []).forEach((h, i) => {
      const path: DocPath = ['groups', g, 'hosts', i];
      if (!(h in inv.hosts)) {
        const near = suggest(h, hostNames);
        out.push({ path, message: prefixed(path, `no host named "${h}" under hosts:${near !== undefined ? ` (did you mean "${near}"?)` : ''}`) });
      } else if (seen.has(h)) {
        out.push({ path, message: prefixed(path, `host "${h}" is listed twice in group "${g}"`) });
      }
      seen.add(h);
    });
  }
}

/** Lower-case names; IPv6 in its canonical short form so `2001:0db8::1` equals `2001:db8::1`. */
function canonicalAddress(address: string): string {
  if (isIPv6(address)) {
    try {
      return new URL(`http://[${address}]/`).hostname;
    } catch {
      return address.toLowerCase();
    }
  }
  return address.toLowerCase();
}

/** Two names for one machine would converge it twice, concurrently. */
function checkDuplicateHosts(inv: Inventory, out: Problem[]): void {
  const byEndpoint = new Map<string, string>();
  for (const [name, host] of Object.entries(inv.hosts)) {
    if (host.address === undefined) continue; // connection: local
    const port = pick(layersFor(inv, name).layers, 'port')?.value ?? 22;
    const endpoint = `${canonicalAddress(host.address)}:${port}`;
    const first = byEndpoint.get(endpoint);
    if (first !== undefined) {
      out.push({ path: ['hosts', name], at: 'key', message: prefixed(['hosts', name], `same address and port as host "${first}" (${endpoint}): one machine must be listed once`) });
    } else {
      byEndpoint.set(endpoint, name);
    }
  }
}

/** A name can point at one server only: two hosts would fight over its certificate. */
function checkDomains(inv: Inventory, out: Problem[]): void {
  const owner = new Map<string, string>();
  for (const [name, host] of Object.entries(inv.hosts)) {
    const mine = new Set<string>();
    (host.domains ?? []).forEach((d, i) => {
      const path: DocPath = ['hosts', name, 'domains', i];
      const other = owner.get(d);
      if (mine.has(d)) out.push({ path, message: prefixed(path, `domain "${d}" is listed twice`) });
      else if (other !== undefined) out.push({ path, message: prefixed(path, `domain "${d}" is already on host "${other}" (a domain can be served by one host only)`) });
      mine.add(d);
      if (other === undefined) owner.set(d, name);
    });
  }
}

function checkRecipesIn(vars: Vars, at: DocPath, known: ReadonlySet<string>, out: Problem[]): void {
  const hint = (id: string): string => {
    const near = suggest(id, [...known]);
    return near !== undefined ? ` (did you mean "${near}"?)` : ` (known: ${[...known].join(', ')})`;
  };
  const seen = new Set<string>();
  (vars.recipes ?? []).forEach((id, i) => {
    const path = [...at, 'recipes', i];
    if (!known.has(id)) out.push({ path, message: prefixed(path, `unknown recipe "${id}"${hint(id)}`) });
    else if (seen.has(id)) out.push({ path, message: prefixed(path, `recipe "${id}" is listed twice`) });
    seen.add(id);
  });
  for (const id of Object.keys(vars.params ?? {})) {
    const path = [...at, 'params', id];
    if (!known.has(id)) out.push({ path, at: 'key', message: prefixed([...at, 'params'], `unknown recipe "${id}"${hint(id)}`) });
  }
}

function checkRecipes(inv: Inventory, known: ReadonlySet<string>, out: Problem[]): void {
  if (inv.defaults) checkRecipesIn(inv.defaults, ['defaults'], known, out);
  for (const [g, entry] of Object.entries(inv.groups ?? {})) {
    if (entry.vars) checkRecipesIn(entry.vars, ['groups', g, 'vars'], known, out);
  }
  for (const [name, host] of Object.entries(inv.hosts)) checkRecipesIn(host, ['hosts', name], known, out);
}

export function checkInventory(inv: Inventory, knownRecipes: readonly string[] | undefined): Problem[] {
  const out: Problem[] = [];
  checkGroups(inv, out);
  checkDuplicateHosts(inv, out);
  checkDomains(inv, out);
  if (knownRecipes !== undefined) checkRecipes(inv, new Set(knownRecipes), out);
  return out;
}
