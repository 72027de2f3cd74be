/**
 * The parsed YAML text, kept alongside its node tree so that any document
 * path (from zod or from the semantic checks) can be mapped back to the
 * line and column the user has to fix.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import type { DocPath } from './types.js';

export interface Position {
  readonly line: number;
  readonly col: number;
}

export interface SourceError extends Position {
  readonly message: string;
}

export interface Source {
  readonly doc: Document.Parsed;
  readonly lines: LineCounter;
  readonly text: string;
}

/** Maps yaml's error codes to messages that say what to fix. */
function syntaxMessage(code: string, message: string, snippet: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return `duplicate key ${JSON.stringify(snippet)} (each key may appear once per mapping)`;
    case 'MULTIPLE_DOCS':
      return 'only one YAML document is allowed (remove the extra "---")';
    case 'TAB_AS_INDENT':
      return 'YAML syntax error: tabs cannot be used for indentation';
    default:
      // yaml's messages are already one line when prettyErrors is off.
      return `YAML syntax error: ${message.split('\n')[0] ?? message}`;
  }
}

export function parseSource(text: string): { source: Source; errors: SourceError[] } {
  const lines = new LineCounter();
  // YAML 1.2 core schema: `yes`/`no` stay strings, so a typo becomes a type error, not a surprise boolean.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const errors = doc.errors.map((e) => {
    const start = e.pos[0];
    // yaml's range for a duplicate key covers one character; show the whole key as written.
    const snippet = (/^[^:\n]*/.exec(text.slice(start))?.[0] ?? '').trim().replace(/^["']|["']$/g, '');
    return { ...lines.linePos(start), message: syntaxMessage(e.code, e.message, snippet) };
  });
  const source = { doc, lines, text };
  return { source, errors: errors.length > 0 ? errors : cyclicAliases(source) };
}

/**
 * `a: &x { b: *x }` parses but makes a cyclic object, which no setting
 * can be and which would send any recursive walk (params merging) into
 * endless recursion; an alias without anchor parses too but makes toJS
 * throw. Refuse both at the alias, with its position.
 */
function cyclicAliases(source: Source): SourceError[] {
  const out: SourceError[] = [];
  visit(source.doc, {
    Alias(_key, node, path) {
      const target = node.resolve(source.doc);
      const at = source.lines.linePos(node.range?.[0] ?? 0);
      if (target === undefined) out.push({ ...at, message: `alias *${node.source} has no anchor &${node.source} before it` });
      else if ((path as readonly unknown[]).includes(target)) out.push({ ...at, message: `alias *${node.source} refers to a node that contains it (a cycle)` });
    },
  });
  return out;
}

function keyMatches(key: unknown, seg: string | number): boolean {
  if (isScalar(key)) return String(key.value) === String(seg);
  return String(key) === String(seg);
}

interface Located {
  /** The deepest node reached along the path. */
  readonly node: Node | null;
  /** The key node of the pair holding `node`, when it is a mapping value. */
  readonly key: Node | null;
  /** Whether the whole path was found (false: a key is missing). */
  readonly complete: boolean;
}

function walk(source: Source, path: DocPath): Located {
  let node: Node | null = source.doc.contents;
  let key: Node | null = null;
  for (const seg of path) {
    // Descend through aliases so `*ref` values still get a position (the anchor's).
    const here: unknown = node !== null && isAlias(node) ? node.resolve(source.doc) : node;
    let next: { node: Node | null; key: Node | null } | undefined;
    if (isMap(here)) {
      const pair = here.items.find((p) => keyMatches(p.key, seg));
      if (pair !== undefined) next = { node: (pair.value ?? null) as Node | null, key: (pair.key ?? null) as Node | null };
    } else if (isSeq(here) && typeof seg === 'number') {
      const item = here.items[seg];
      if (item !== undefined) next = { node: item as Node, key: null };
    }
    if (next === undefined) return { node, key, complete: false };
    node = next.node;
    key = next.key;
  }
  return { node, key, complete: true };
}

function startOf(source: Source, node: Node | null): Position | undefined {
  const offset = node?.range?.[0];
  return offset === undefined ? undefined : source.lines.linePos(offset);
}

/**
 * Position for a problem at `path`. A missing key points at the mapping
 * that should hold it (its key, i.e. `web1:`), an empty value at its key,
 * otherwise at the value itself — or at the key when `at` is 'key'.
 */
export function locate(source: Source, path: DocPath, at: 'key' | 'value' = 'value'): Position {
  const found = walk(source, path);
  const emptyValue = found.node === null || (isScalar(found.node) && found.node.value === null && found.node.source === '');
  const preferKey = at === 'key' || !found.complete || emptyValue;
  const pos = (preferKey ? startOf(source, found.key) : undefined) ?? startOf(source, found.node) ?? startOf(source, found.key);
  return pos ?? { line: 1, col: 1 };
}
