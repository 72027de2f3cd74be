/**
 * The release artifacts of a host's recipes, resolved before planning: the
 * URL and the sum each will be verified against (see
 * src/artifacts/release-asset.ts for where a release's checksum asset is
 * fetched and why). Planning then stays pure and synchronous.
 */
import {
  artifactSource,
  ArtifactSet,
  hostFetchScript,
  locateArtifact,
  parseHostFetch,
  resolveArtifact,
  type DeclaredArtifact,
  type AssetFetch,
  type ReleaseSums,
  TrustedSums,
} from '../artifacts/index.js';
import type { HostConfig } from '../config.js';
import type { Arch, HostInfo } from '../host-info.js';
import { err, ok, type Result } from '../result.js';
import type { Transport } from '../transport/types.js';
import { orderRecipes } from './order.js';
import type { Recipe } from './recipe.js';

const ARCHES: readonly Arch[] = ['amd64', 'arm64'];

/** What a recipe declared for these (already parsed) parameters. */
export function declaredArtifacts(recipe: Recipe, params: unknown): readonly DeclaredArtifact[] {
  return recipe.artifacts?.(params) ?? [];
}

/**
 * Start fetching the checksum assets a host will need while it is still
 * being connected. Unless an earlier run saw the host's architecture
 * (`arch`), it is not known yet, so both builds' assets are asked for (a few
 * hundred bytes each); failures are kept for planning to report only if that
 * asset turns out to be needed, and planning fetches what a wrong guess missed.
 */
export function prefetchArtifacts(config: HostConfig, registry: ReadonlyMap<string, Recipe>, sums: ReleaseSums, arch?: Arch): void {
  if (config.requirePinned) return;
  const order = orderRecipes(config.recipes, registry);
  if (!order.ok) return;
  let source;
  try {
    source = artifactSource(config);
  } catch {
    return; // planning reports the --checksums file's problem
  }
  for (const recipe of order.value) {
    const parsed = recipe.params.safeParse(config.params[recipe.id] ?? {});
    if (!parsed.success) continue;
    for (const ref of declaredArtifacts(recipe, parsed.data)) {
      for (const a of arch ? [arch] : ARCHES) {
        try {
          const loc = locateArtifact(ref.name, ref.version, a, source);
          // A trusted artifact is not fetched ahead: the whole file, only for the host's own architecture.
          if (!loc.known && loc.asset) void sums.fetch(loc.asset.url);
        } catch {
          // a bad version is reported by planning
        }
      }
    }
  }
}

/** Resolve one recipe's artifacts for this host; an error is one line (the changed-sum refusal comes later, with the host's record). */
export async function resolveHostArtifacts(
  refs: readonly DeclaredArtifact[],
  info: HostInfo,
  config: HostConfig,
  sums: ReleaseSums,
  transport: Transport,
  trusted: TrustedSums = new TrustedSums(),
): Promise<Result<ArtifactSet, string>> {
  if (refs.length === 0) return ok(ArtifactSet.empty);
  const arch = info.arch;
  if (arch === undefined) return err(`no ${refs[0]!.name} build for this architecture (${info.rawArch})`);
  let source;
  try {
    source = artifactSource(config);
  } catch (e) {
    return err((e as Error).message);
  }
  // The machine running panel could not reach the mirror at all: the host may (a mirror on its private network).
  const fetchAsset = async (url: string): Promise<AssetFetch> => {
    const here = await sums.fetch(url);
    if (here.ok || here.reached) return here;
    const run = await transport.exec(hostFetchScript(url).text);
    const there = parseHostFetch(run.stdout, run.code, run.stderr);
    return there.ok || there.reached ? there : { ok: false, reached: false, error: `${here.error} here; ${there.error}` };
  };
  const resolved = [];
  for (const ref of refs) {
    let loc;
    try {
      loc = locateArtifact(ref.name, ref.version, arch, source);
    } catch (e) {
      return err((e as Error).message);
    }
    const r = await resolveArtifact(loc, {
      fetchAsset,
      ...(config.requirePinned ? { requirePinned: true } : {}),
      ...(config.checksumsFile !== undefined ? { checksumsFile: config.checksumsFile } : {}),
      ...(config.trustArtifacts?.includes(ref.name) ? { trustOnFirstUse: (l: typeof loc) => trusted.sum(l) } : {}),
    });
    if (!r.ok) return r;
    resolved.push(r.value);
  }
  return ok(new ArtifactSet(resolved));
}
