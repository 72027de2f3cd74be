/**
 * Recipe parameters, checked against each recipe's own zod schema before
 * any connection: in every level of the inventory and in `--set`. A `--set`
 * value is text; it is turned into the type the schema expects at that key
 * (list, number, boolean, JSON), never by guessing from the text alone.
 */
import type { z } from 'zod';
import { errorMap, prefixed, suggest } from './messages.js';
import { err, ok, type Result } from '../result.js';
import type { DocPath, Problem } from './types.js';

export type RecipeParams = ReadonlyMap<string, z.ZodType>;
export type Params = Record<string, Record<string, unknown>>;

interface Def {
  readonly type: string;
  readonly innerType?: z.ZodType;
  readonly in?: z.ZodType;
  readonly options?: readonly z.ZodType[];
  readonly element?: z.ZodType;
  readonly shape?: Readonly<Record<string, z.ZodType>>;
  readonly getter?: () => z.ZodType;
}

const def = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

/** The base types a schema accepts as input, through optional/default/pipe/union wrappers. */
function kinds(s: z.ZodType, depth = 0): Set<string> {
  const d = def(s);
  if (depth > 20) return new Set();
  if (d.innerType !== undefined) return kinds(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in !== undefined) return kinds(d.in, depth + 1);
  if (d.type === 'lazy' && d.getter !== undefined) return kinds(d.getter(), depth + 1);
  if (d.type === 'union' && d.options !== undefined) return new Set(d.options.flatMap((o) => [...kinds(o, depth + 1)]));
  return new Set([d.type]);
}

/** The element schema of the (first) list a schema accepts. */
function elementOf(s: z.ZodType, depth = 0): z.ZodType | undefined {
  const d = def(s);
  if (depth > 20) return undefined;
  if (d.type === 'array') return d.element;
  if (d.innerType !== undefined) return elementOf(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in !== undefined) return elementOf(d.in, depth + 1);
  if (d.type === 'union' && d.options !== undefined) {
    for (const o of d.options) {
      const e = elementOf(o, depth + 1);
      if (e !== undefined) return e;
    }
  }
  return undefined;
}

/** Parameter names of a recipe (its schema's object shape). */
export function paramNames(schema: z.ZodType): string[] {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined && i < 20; i++) {
    const d = def(s);
    if (d.type === 'object') return Object.keys(d.shape ?? {});
    s = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
  }
  return [];
}

function paramSchema(schema: z.ZodType, key: string): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (let i = 0; s !== undefined && i < 20; i++) {
    const d = def(s);
    if (d.type === 'object') return d.shape?.[key];
    s = d.innerType ?? (d.type === 'pipe' ? d.in : undefined);
  }
  return undefined;
}

const NUMBER = /^-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]+)?$/;

/** Text → the value the schema expects; JSON for lists and mappings written as JSON. */
export function coerce(raw: string, schema: z.ZodType | undefined): Result<unknown, string> {
  if (schema === undefined) return ok(raw);
  const k = kinds(schema);
  const structured = k.has('array') || k.has('object') || k.has('record') || k.has('tuple');
  const text = raw.trim();
  if (structured && /^[[{]/.test(text)) {
    try {
      return ok(JSON.parse(text) as unknown);
    } catch (e) {
      return err(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  if (k.has('boolean') && (raw === 'true' || raw === 'false')) return ok(raw === 'true');
  if (k.has('number') && NUMBER.test(raw)) return ok(Number(raw));
  if (k.has('array') && !k.has('string')) {
    const element = elementOf(schema);
    const items: unknown[] = [];
    for (const part of raw.split(',').map((p) => p.trim())) {
      const v = coerce(part, element);
      if (!v.ok) return v;
      items.push(v.value);
    }
    return ok(items);
  }
  return ok(raw);
}

function defineOwn<T>(target: Record<string, unknown>, key: string, value: T): T {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}

const SET = /^([a-z][a-z0-9-]*)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/**
 * `--set recipe.param=value` (repeatable) → params, each value typed by the
 * recipe's schema. Unknown recipes and parameters are left for the
 * inventory's check, which reports them with "did you mean".
 */
export function parseSetFlags(sets: readonly string[], schemas: RecipeParams): Result<Params, string[]> {
  const out: Params = {};
  const errors: string[] = [];
  for (const s of sets) {
    const m = SET.exec(s);
    if (!m) {
      errors.push(`--set ${JSON.stringify(s)}: expected recipe.param=value (e.g. containerd.version=1.7.27)`);
      continue;
    }
    const [, recipe, key, raw] = m as unknown as [string, string, string, string];
    const schema = schemas.get(recipe);
    const v = coerce(raw, schema === undefined ? undefined : paramSchema(schema, key));
    if (!v.ok) errors.push(`--set ${recipe}.${key}: ${v.error}`);
    else {
      // Own properties only: `--set constructor.prototype=1` must name an (unknown) recipe, not reach Object.
      const bag = Object.hasOwn(out, recipe) ? out[recipe]! : defineOwn(out, recipe, {});
      defineOwn(bag, key, v.value);
    }
  }
  return errors.length > 0 ? err(errors) : ok(out);
}

function unknownParam(recipe: string, key: string, schema: z.ZodType): string {
  const names = paramNames(schema);
  const near = suggest(key, names);
  const hint = near !== undefined ? ` (did you mean "${near}"?)` : names.length > 0 ? ` (parameters: ${names.join(', ')})` : ' (it takes no parameters)';
  return `unknown parameter "${key}" of recipe ${recipe}${hint}`;
}

/**
 * Where a level's params live and how to name a parameter in a message:
 * a document path (`hosts.web1.params.nginx.x`) or a flag (`--set nginx.x`).
 */
export interface ParamsSite {
  readonly path: DocPath;
  readonly label?: (recipe: string, keyPath: readonly (string | number)[]) => string;
}

/**
 * Problems with one level's params. `complete` is false for a level that
 * others are merged into: a parameter missing there may come from elsewhere.
 */
export function paramProblems(params: Readonly<Record<string, Readonly<Record<string, unknown>>>> | undefined, schemas: RecipeParams, site: ParamsSite, complete: boolean): Problem[] {
  const out: Problem[] = [];
  for (const [recipe, values] of Object.entries(params ?? {})) {
    const schema = schemas.get(recipe);
    if (schema === undefined) continue; // unknown recipe ids are reported by the recipe-id check
    const parsed = schema.safeParse(values, { error: errorMap });
    if (parsed.success) continue;
    for (const iss of parsed.error.issues) {
      const rel = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
      const missing = iss.code === 'invalid_type' && iss.message.startsWith('missing required key');
      if (missing && !complete) continue;
      const keys = iss.code === 'unrecognized_keys' ? iss.keys.map((k) => [...rel, k]) : [rel];
      for (const keyPath of keys) {
        const message = iss.code === 'unrecognized_keys' ? unknownParam(recipe, String(keyPath[keyPath.length - 1]), schema) : iss.message;
        const path = [...site.path, 'params', recipe, ...keyPath];
        const text = site.label ? `${site.label(recipe, keyPath)}: ${message}` : prefixed(iss.code === 'unrecognized_keys' ? [...site.path, 'params', recipe] : path, message);
        out.push({ path, ...(iss.code === 'unrecognized_keys' ? { at: 'key' as const } : {}), message: text });
      }
    }
  }
  return out;
}
