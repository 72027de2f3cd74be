/**
 * An OpenFaaS stack file (faas-cli's stack.yml: `version`, `provider`,
 * `functions`), parsed with the same YAML positions and "did you mean" hints
 * as fleet.yaml. The schema follows faas-cli's `stack/schema.go`; keys that
 * only matter to `faas-cli build` (lang, handler, build_options, …) are
 * accepted and ignored, so the same file serves both tools. Anything else is
 * refused with file:line:col before a host is contacted.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { errorMap, issueProblems, prefixed } from '../inventory/messages.js';
import { locate, parseSource, type Source } from '../inventory/source.js';
import { formatInventoryError, type InventoryError } from '../inventory/types.js';
import type { DocPath } from '../inventory/types.js';
import { err, ok, type Result } from '../result.js';

/** OpenFaaS function names: DNS-1123 labels (the gateway and faasd refuse others). */
export const FUNCTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SECRET_NAME = /^[a-zA-Z0-9]([-._a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const stringMap = z.record(z.string(), z.string({ error: 'values must be strings (quote numbers and booleans)' }));
const envMap = z.record(z.string().regex(ENV_NAME, { error: 'an environment variable name is letters, digits and _' }), z.string({ error: 'values must be strings (quote numbers and booleans)' }));

/** `128Mi`, `0.5`, `100m`: a Kubernetes quantity, as faasd parses limits. */
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const resources = z.strictObject({
  memory: z.string().regex(QUANTITY, { error: 'memory must be a quantity like 128Mi' }).optional(),
  cpu: z.string().regex(QUANTITY, { error: 'cpu must be a quantity like 100m' }).optional(),
});

export const stackFunction = z.strictObject({
  // A missing image falls through to errorMap's "missing required key".
  image: z.string({ error: (iss) => (iss.input === undefined ? undefined : 'image must be a string like registry.example.com/fn:1.0') }).min(1),
  fprocess: z.string().optional(),
  environment: envMap.optional(),
  environment_file: z.array(z.string()).optional(),
  secrets: z.array(z.string().regex(SECRET_NAME, { error: 'a secret name is letters, digits, -, . and _' })).optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  limits: resources.optional(),
  requests: resources.optional(),
  readonly_root_filesystem: z.boolean().optional(),
  constraints: z.array(z.string()).optional(),
  namespace: z.string().regex(FUNCTION_NAME).optional(),
  // Build-time keys of faas-cli: accepted, not used by a deploy.
  lang: z.string().optional(),
  handler: z.string().optional(),
  skip_build: z.boolean().optional(),
  build_options: z.array(z.string()).optional(),
  build_args: stringMap.optional(),
  platforms: z.string().optional(),
  registry_auth: z.string().optional(),
});

export const stackSchema = z.strictObject({
  // `version: 1.0` is a YAML number (1): read back as written.
  version: z.union([z.string(), z.number()]).transform((v) => (typeof v === 'number' ? v.toFixed(1) : v)).refine((v) => v === '1.0', { error: 'version must be 1.0 (the OpenFaaS stack format)' }),
  provider: z.strictObject({
    name: z.literal(['openfaas', 'faas'], { error: 'provider.name must be openfaas' }),
    gateway: z.string().optional(),
    network: z.string().optional(),
  }),
  functions: z.record(z.string().regex(FUNCTION_NAME, { error: 'a function name is lower-case letters, digits and - (a DNS label)' }), stackFunction),
  configuration: z.strictObject({ templates: z.array(z.unknown()).optional(), copy: z.array(z.string()).optional() }).optional(),
});

export type StackFunction = z.output<typeof stackFunction>;
export type StackFile = z.output<typeof stackSchema>;

/** One function as the stack asks for it, environment files already merged in (in order, as faas-cli does). */
export interface WantedFunction {
  readonly name: string;
  readonly spec: StackFunction;
  readonly env: Readonly<Record<string, string>>;
}

export interface Stack {
  readonly file: string;
  readonly functions: readonly WantedFunction[];
}

function allowedAt(path: DocPath): readonly string[] {
  if (path.length === 0) return Object.keys(stackSchema.shape);
  if (path[0] === 'provider') return ['name', 'gateway', 'network'];
  if (path[0] === 'configuration') return ['templates', 'copy'];
  if (path[0] === 'functions' && path.length === 2) return Object.keys(stackFunction.shape);
  if (path[0] === 'functions' && (path[2] === 'limits' || path[2] === 'requests')) return ['memory', 'cpu'];
  return [];
}

const envFileSchema = z.strictObject({ environment: envMap });

function located(file: string, source: Source, path: DocPath, message: string, at: 'key' | 'value' = 'value'): InventoryError {
  return { file, ...locate(source, path, at), message };
}

function parseYaml(text: string, file: string): Result<{ source: Source; data: unknown }, InventoryError[]> {
  const { source, errors } = parseSource(text);
  if (errors.length > 0) return err(errors.map((e) => ({ file, ...e })));
  try {
    return ok({ source, data: source.doc.toJS({ maxAliasCount: 1000 }) as unknown });
  } catch (e) {
    return err([{ file, message: `cannot expand YAML aliases: ${e instanceof Error ? e.message : String(e)}` }]);
  }
}

function readText(file: string, what: string): Result<string, InventoryError[]> {
  try {
    return ok(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : e instanceof Error ? e.message : String(e);
    return err([{ file, message: `cannot read the ${what}: ${why}` }]);
  }
}

/** An `environment_file`: YAML with one `environment:` mapping (faas-cli's EnvironmentFile). */
function loadEnvFile(path: string, shownAs: string): Result<Record<string, string>, InventoryError[]> {
  const text = readText(path, 'environment file');
  if (!text.ok) return text;
  const y = parseYaml(text.value, shownAs);
  if (!y.ok) return y;
  const parsed = envFileSchema.safeParse(y.value.data, { error: errorMap });
  if (!parsed.success) {
    return err(issueProblems(parsed.error.issues, (p) => (p.length === 0 ? ['environment'] : [])).map((p) => located(shownAs, y.value.source, p.path, p.message, p.at)));
  }
  return ok(parsed.data.environment);
}

/** Parse a stack file's text; `baseDir` resolves its environment files. */
export function parseStack(text: string, file: string, baseDir: string): Result<Stack, InventoryError[]> {
  const y = parseYaml(text, file);
  if (!y.ok) return y;
  const { source, data } = y.value;
  const parsed = stackSchema.safeParse(data ?? {}, { error: errorMap });
  if (!parsed.success) {
    const problems = issueProblems(parsed.error.issues, allowedAt).map((p) => located(file, source, p.path, p.message, p.at));
    problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    return err(problems);
  }
  const errors: InventoryError[] = [];
  const functions: WantedFunction[] = [];
  for (const [name, spec] of Object.entries(parsed.data.functions)) {
    const env: Record<string, string> = { ...(spec.environment ?? {}) };
    (spec.environment_file ?? []).forEach((rel, i) => {
      const loaded = loadEnvFile(resolve(baseDir, rel), rel);
      if (!loaded.ok) {
        errors.push(located(file, source, ['functions', name, 'environment_file', i], prefixed(['functions', name, 'environment_file'], `${rel}: ${loaded.error.map(formatInventoryError).join('; ')}`)));
        return;
      }
      Object.assign(env, loaded.value);
    });
    functions.push({ name, spec, env });
  }
  if (errors.length > 0) return err(errors);
  if (functions.length === 0) return err([{ file, ...locate(source, ['functions']), message: 'functions: the stack has no function' }]);
  return ok({ file, functions });
}

export function loadStack(path: string, cwd: string = process.cwd()): Result<Stack, InventoryError[]> {
  const full = resolve(cwd, path);
  const text = readText(full, 'stack file');
  if (!text.ok) return err(text.error.map((e) => ({ ...e, file: path })));
  return parseStack(text.value, path, dirname(full));
}
