/**
 * The host state record: ONE file on the host, /var/lib/panel/state.json,
 * written only by the prelude's `panel_state_flush` (merge of the round
 * trip's journal, then rename) and read by the engine in the facts round
 * trip. It lists what panel created or changed (with the recipe, checksums
 * that double as the stat cache, whether it existed before panel and where
 * its pre-panel backup is), the restarts still pending, and the artifact sums
 * in use. Uninstall, `check` and benchmarks stand on it.
 *
 * Layout (so that bash + awk can update it without a JSON parser, and a
 * person can read it): three sections, one entry per line, keyed by id.
 *
 *   {
 *     "schema": "panel-state",
 *     "version": 1,
 *     "updated": "2026-11-22T13:00:00Z",
 *     "records": {
 *       "/etc/nginx/conf.d/panel.conf": {"kind":"file","recipe":"nginx",…},
 *       "package:nginx": {"kind":"package","recipe":"nginx",…}
 *     },
 *     "pending": {
 *       "nginx.service": {"action":"reload","at":"…"}
 *     },
 *     "artifacts": {
 *       "openfaas/faasd/releases/download/0.19.7/faasd": {"sha256":"…","source":"pinned","at":"…"}
 *     }
 *   }
 *
 * How something gets recorded: a Change lists what it records
 * (`Change.records`, the `Recorded` declarations below); after the change's
 * script succeeded the engine runs `recordScript()` for each, in the same
 * step, which appends a line to the round trip's journal. Path records are
 * measured on the host (sha256, size, mtime, inode); everything else is
 * fully described by the declaration.
 */
import { z } from 'zod';
import { err, ok, type Result } from '../result.js';
import { lines, sh, type Script } from '../shell.js';

export const STATE_DIR = '/var/lib/panel';
export const STATE_FILE = `${STATE_DIR}/state.json`;
export const STATE_VERSION = 1;
/** Where uninstall moves what the user changed or made, instead of deleting it (`--purge`, `--force`). */
export const KEPT_DIR = `${STATE_DIR}/kept`;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const absPath = z.string().startsWith('/');
const common = {
  /** Recipe whose resource created or changed it. */
  recipe: z.string(),
  /** Key of that resource, e.g. `download:/usr/local/bin/faasd`. */
  resource: z.string(),
  /** When it was last recorded (UTC, ISO 8601). */
  at: z.string(),
};

/** Files panel wrote; sha256/size/mtime/ino are the stat cache. */
const pathRecord = z
  .object({
    kind: z.enum(['file', 'unit', 'binary']),
    ...common,
    path: absPath,
    sha256,
    size: z.number().int().nonnegative(),
    /** `stat -c %.9Y`, kept as text so no precision is lost. */
    mtime: z.string(),
    ino: z.number().int().nonnegative().optional(),
    /** The path existed before panel first wrote it. */
    existed: z.boolean(),
    /** Copy of the version before panel first wrote it (null: nothing to restore). */
    backup: z.string().nullable(),
  })
  .strict();

const directoryRecord = z.object({ kind: z.literal('directory'), ...common, path: absPath, existed: z.boolean() }).strict();
/** A package panel installed; packages that were installed before panel are never recorded. */
const packageRecord = z.object({ kind: z.literal('package'), ...common, name: z.string(), existed: z.literal(false) }).strict();
const kmodRecord = z.object({ kind: z.literal('kmod'), ...common, name: z.string(), existed: z.boolean() }).strict();
const linkRecord = z.object({ kind: z.literal('link'), ...common, name: z.string(), existed: z.boolean() }).strict();
const sysctlRecord = z.object({ kind: z.literal('sysctl'), ...common, key: z.string(), value: z.string(), previous: z.string().nullable() }).strict();
const firewallRecord = z.object({ kind: z.literal('firewall'), ...common, rule: z.string(), existed: z.boolean() }).strict();
/**
 * An extracted archive: which sum was extracted where. Unpacked file by file
 * into a shared directory, its members are path records of their own; an
 * archive that is a directory of its own (`tree`) is one record: the digest
 * of its whole tree (types, modes, sizes, mtimes, link targets) as extracted,
 * and where the directory that was there before panel went (null: none).
 */
const archiveTree = z.object({ digest: sha256, entries: z.number().int().nonnegative(), backup: absPath.nullable() }).strict();
const archiveRecord = z
  .object({ kind: z.literal('archive'), ...common, url: z.string(), sha256, into: absPath, members: z.array(absPath), tree: archiveTree.optional() })
  .strict();

export const stateRecordSchema = z.discriminatedUnion('kind', [
  pathRecord,
  directoryRecord,
  packageRecord,
  kmodRecord,
  linkRecord,
  sysctlRecord,
  firewallRecord,
  archiveRecord,
]);
export type StateRecord = z.infer<typeof stateRecordSchema>;
export type PathRecord = z.infer<typeof pathRecord>;

export const artifactSourceSchema = z.enum(['pinned', 'checksums-file', 'release-asset', 'trusted-on-first-use']);
export type ArtifactSource = z.infer<typeof artifactSourceSchema>;

const pendingSchema = z.object({ action: z.enum(['restart', 'reload']), at: z.string() }).strict();
const artifactSchema = z.object({ sha256, source: artifactSourceSchema, at: z.string() }).strict();

export const hostStateSchema = z
  .object({
    schema: z.literal('panel-state'),
    version: z.literal(STATE_VERSION),
    updated: z.string(),
    records: z.record(z.string(), stateRecordSchema),
    pending: z.record(z.string(), pendingSchema),
    artifacts: z.record(z.string(), artifactSchema),
  })
  .strict();
export type HostStateData = z.infer<typeof hostStateSchema>;

/** The parsed record, with the lookups planning needs. Immutable: a plan sees the state as the facts found it. */
export class HostState {
  constructor(
    readonly data: HostStateData,
    /** Set when this is what could be read of a damaged state.json. */
    readonly damage?: { readonly problem: string; readonly unreadable: number },
  ) {}
  static empty(): HostState {
    return new HostState({ schema: 'panel-state', version: STATE_VERSION, updated: '', records: {}, pending: {}, artifacts: {} });
  }
  record(id: string): StateRecord | undefined {
    return Object.hasOwn(this.data.records, id) ? this.data.records[id] : undefined;
  }
  /** A restart or reload recorded by an earlier run that did not get to carry it out. */
  pending(unit: string): 'restart' | 'reload' | undefined {
    return Object.hasOwn(this.data.pending, unit) ? this.data.pending[unit]?.action : undefined;
  }
  artifact(path: string): z.infer<typeof artifactSchema> | undefined {
    return Object.hasOwn(this.data.artifacts, path) ? this.data.artifacts[path] : undefined;
  }
  get records(): ReadonlyArray<readonly [string, StateRecord]> {
    return Object.entries(this.data.records);
  }
}

/** Where a record went wrong: `state.json:LINE:COL: what`, the way an editor jumps to it. */
export interface StateProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/** One line naming the file and position of a record that cannot be used. */
export function describeStateProblem(p: StateProblem): string {
  return `${STATE_FILE}:${p.line}:${p.column}: ${p.message}`;
}

/** Line and column (1-based) of character `offset` of `text`. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split('\n').length;
  return { line, column: before.length - before.lastIndexOf('\n') };
}

/** The line of `text` holding `"key":` at an entry's indentation (1 when not found). */
function lineOf(text: string, key: string | number | undefined, indent: number): number {
  if (key === undefined) return 1;
  const at = text.split('\n').findIndex((l) => l.startsWith(`${' '.repeat(indent)}${JSON.stringify(String(key))}:`));
  return at < 0 ? 1 : at + 1;
}

/** state.json text (empty: panel never applied anything here) → HostState, or `state.json:LINE:COL: why` it cannot be used. */
export function parseHostState(text: string): Result<HostState, string> {
  const r = locateHostState(text);
  return r.ok ? r : err(describeStateProblem(r.error));
}

function locateHostState(text: string): Result<HostState, StateProblem> {
  if (text.trim() === '') return ok(HostState.empty());
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8 names the offset ("at position N"); a file cut short ends at its last character.
    const m = /position (\d+)/.exec((e as Error).message);
    const at = position(text, m ? Number(m[1]) : text.length);
    const what = m ? (e as Error).message.replace(/ in JSON at position \d+.*$/, '') : 'the record ends early (truncated?)';
    return err({ ...at, message: `not valid JSON: ${what}` });
  }
  const v = (json as { version?: unknown } | null)?.version;
  if (typeof v === 'number' && v > STATE_VERSION) {
    return err({ line: lineOf(text, 'version', 2), column: 3, message: `has version ${v}, newer than this panel understands (${STATE_VERSION}); upgrade panel` });
  }
  const parsed = hostStateSchema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const path = first?.path ?? [];
    // An entry's problem points at its line (sections hold one entry per line).
    const line = path.length >= 2 ? lineOf(text, path[1] as string, 4) : lineOf(text, path[0] as string | undefined, 2);
    return err({ line, column: 1, message: `does not match schema version ${STATE_VERSION}: ${first ? `${path.join('.')}: ${first.message}` : 'invalid'}` });
  }
  // The host updates the file line by line (one entry per line): a file
  // reformatted by hand would lose entries at the next merge, so refuse it.
  const d = parsed.data;
  const entries = Object.keys(d.records).length + Object.keys(d.pending).length + Object.keys(d.artifacts).length;
  const lines = text.split('\n').filter((l) => /^ {4}".*\},?$/.test(l)).length;
  if (lines !== entries) {
    return err({ line: 1, column: 1, message: `valid JSON but not in panel's one-entry-per-line layout (${entries} entries on ${lines} lines); restore the layout or move the file aside` });
  }
  return ok(new HostState(d));
}

/**
 * What can still be read of a damaged record: every entry line (one per
 * line, in its section) that is whole JSON and matches the schema, as the
 * host's merge keeps them. What was lost (a cut-off tail) is not panel's any
 * more: uninstall leaves it on the host, the safe direction.
 */
export function salvageHostState(text: string): { readonly state: HostState; readonly unreadable: number } {
  const data: HostStateData = { schema: 'panel-state', version: STATE_VERSION, updated: '', records: {}, pending: {}, artifacts: {} };
  let section: 'records' | 'pending' | 'artifacts' | undefined;
  let unreadable = 0;
  for (const l of text.split('\n')) {
    const head = /^ {2}"(records|pending|artifacts)": \{/.exec(l);
    if (head) {
      section = head[1] as 'records' | 'pending' | 'artifacts';
      continue;
    }
    if (/^ {2}\}/.test(l)) section = undefined;
    if (section === undefined || !l.startsWith('    "')) continue;
    let entry: unknown;
    try {
      entry = JSON.parse(`{${l.trim().replace(/,$/, '')}}`);
    } catch {
      unreadable++;
      continue;
    }
    const [id, value] = Object.entries(entry as Record<string, unknown>)[0] ?? [];
    const schema = section === 'records' ? stateRecordSchema : section === 'pending' ? pendingSchema : artifactSchema;
    const ok = id === undefined ? undefined : schema.safeParse(value);
    if (id === undefined || !ok?.success) {
      unreadable++;
      continue;
    }
    (data[section] as Record<string, unknown>)[id] = ok.data;
  }
  return { state: new HostState(data), unreadable };
}

/**
 * The record a run plans with. A damaged one is never used silently: install
 * and check go on from what is readable (and the host's facts), with a
 * warning; uninstall refuses, since it removes what the record lists, unless
 * asked to rebuild it (`--rebuild-record`), which plans with what is readable.
 */
export function readHostState(
  text: string,
  teardown?: { readonly rebuildRecord: boolean },
): { readonly ok: true; readonly value: HostState; readonly warning?: string } | { readonly ok: false; readonly error: string } {
  const parsed = parseHostState(text);
  if (parsed.ok) return { ok: true, value: parsed.value };
  const problem = parsed.error;
  if (teardown && !teardown.rebuildRecord) {
    return { ok: false, error: `${problem}; uninstall removes nothing while panel's record is unreadable: fix the file, or run uninstall with --rebuild-record (add --dry-run to see what it would then consider panel's)` };
  }
  const { state, unreadable } = salvageHostState(text);
  const entries = state.records.length;
  const value = new HostState(state.data, { problem, unreadable });
  return teardown
    ? { ok: true, value, warning: `${problem}; record rebuilt from its ${entries} readable entr${entries === 1 ? 'y' : 'ies'} (${unreadable} unreadable line${unreadable === 1 ? '' : 's'} dropped): only those are panel's` }
    : { ok: true, value, warning: `${problem}; going on from the host's facts and the record's ${entries} readable entr${entries === 1 ? 'y' : 'ies'}; the next change rewrites the record` };
}

/** Apply shell that replaces the record with `state` (a rebuilt one): the journal starts over, then every entry again. */
export function rebuildScript(state: HostState): Script {
  const parts: Script[] = [sh`panel_state_reset`];
  for (const section of ['records', 'pending', 'artifacts'] as const) {
    for (const [id, v] of Object.entries(state.data[section])) {
      const { at: _, ...rest } = v as { at: string };
      parts.push(sh`panel_state_set ${section} ${id} ${JSON.stringify(rest)}`);
    }
  }
  return lines(...parts);
}

/**
 * What a Change declares it records once its script succeeded. The engine
 * turns each into a journal line (recordScript) inside the change's step,
 * with the recipe and resource filled in. When a thing is recorded again,
 * the host keeps `existed`, `backup` and `previous` of its FIRST record:
 * they describe the host before panel.
 *
 * Things only the host knows (every file an archive contained) are recorded
 * by the change's own script with `panel_record_path KIND PATH EXISTED`, or
 * for an archive that is a directory of its own, its tree digest with
 * `panel_record_tree`.
 */
export type Recorded =
  /** A file written by the change: sha256/size/mtime/inode measured on the host afterwards, backup from panel_put. */
  | { readonly kind: 'file' | 'unit' | 'binary'; readonly path: string; readonly existed: boolean }
  | { readonly kind: 'directory'; readonly path: string; readonly existed: boolean }
  /** A package the change installed (it was absent before). */
  | { readonly kind: 'package'; readonly name: string }
  | { readonly kind: 'kmod'; readonly name: string; readonly existed: boolean }
  | { readonly kind: 'link'; readonly name: string; readonly existed: boolean }
  | { readonly kind: 'sysctl'; readonly key: string; readonly value: string; readonly previous: string | null }
  | { readonly kind: 'firewall'; readonly rule: string; readonly existed: boolean }
  | { readonly kind: 'archive'; readonly url: string; readonly sha256: string; readonly into: string; readonly members: readonly string[] }
  /** An artifact sum in use, keyed by its path below the mirror root. */
  | { readonly kind: 'artifact'; readonly path: string; readonly sha256: string; readonly source: ArtifactSource }
  /** Drop a record (uninstall removed the thing). */
  | { readonly kind: 'forget'; readonly id: string };

/** The id a thing is recorded under: its path, or `<kind>:<name>`. */
export function recordId(r: Exclude<Recorded, { kind: 'artifact' | 'forget' }>): string {
  switch (r.kind) {
    case 'file':
    case 'unit':
    case 'binary':
    case 'directory':
      return r.path;
    case 'package':
    case 'kmod':
    case 'link':
      return `${r.kind}:${r.name}`;
    case 'sysctl':
      return `sysctl:${r.key}`;
    case 'firewall':
      return `firewall:${r.rule}`;
    case 'archive':
      return `archive:${r.into}:${r.url.slice(r.url.lastIndexOf('/') + 1)}`;
  }
}

/** Which resource and recipe a record belongs to. */
export interface RecordOwner {
  readonly recipe: string;
  readonly resource: string;
}

/** Shell setting the owner for the prelude's record functions; starts every apply step. */
export function ownerScript(owner: RecordOwner): Script {
  return sh`PANEL_RECIPE=${owner.recipe} PANEL_RESOURCE=${owner.resource}`;
}

/** Shell (run in the change's step, after its script succeeded, after ownerScript) that journals `r`. */
export function recordScript(r: Recorded, owner: RecordOwner): Script {
  if (r.kind === 'forget') return sh`panel_state_del records ${r.id}`;
  if (r.kind === 'artifact') return sh`panel_state_set artifacts ${r.path} ${json({ sha256: r.sha256, source: r.source })}`;
  const id = recordId(r);
  const base = { kind: r.kind, recipe: owner.recipe, resource: owner.resource };
  switch (r.kind) {
    case 'file':
    case 'unit':
    case 'binary':
      return sh`panel_record_path ${r.kind} ${r.path} ${r.existed ? 1 : 0}`;
    case 'directory':
      return sh`panel_record_dir ${r.path} ${r.existed ? 1 : 0}`;
    case 'package':
      return sh`panel_state_set records ${id} ${json({ ...base, name: r.name, existed: false })}`;
    case 'kmod':
    case 'link':
      return sh`panel_state_set records ${id} ${json({ ...base, name: r.name, existed: r.existed })}`;
    case 'firewall':
      return sh`panel_state_set records ${id} ${json({ ...base, rule: r.rule, existed: r.existed })}`;
    case 'sysctl':
      return sh`panel_state_set records ${id} ${json({ ...base, key: r.key, value: r.value, previous: r.previous })}`;
    case 'archive':
      return sh`panel_state_set records ${id} ${json({ ...base, url: r.url, sha256: r.sha256, into: r.into, members: [...r.members] })}`;
  }
}

/** One JSON line with the `at` field left to the host (`panel_state_set` adds it). */
function json(v: Record<string, unknown>): string {
  return JSON.stringify(v);
}

/** Fact-round-trip snippet printing the record between markers (read-only). */
export const STATE_BEGIN = '@@panel-state-begin';
export const STATE_END = '@@panel-state-end';

/** Cut the record out of a fact batch's stdout. */
export function extractState(stdout: string): string | undefined {
  const b = stdout.indexOf(`${STATE_BEGIN}\n`);
  const e = stdout.indexOf(`\n${STATE_END}`);
  if (b < 0 || e < 0 || e < b) return undefined;
  return stdout.slice(b + STATE_BEGIN.length + 1, e + 1);
}
