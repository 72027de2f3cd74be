/**
 * The terminal tree (host → recipe → step), driven purely by engine events:
 * the engine does not know listr2 exists. Each host task waits for its
 * `host-start` to learn its recipes, each recipe task for its `recipe-end`.
 */
import { DefaultRenderer, Listr, ListrLogger, ProcessOutput, type ListrTaskWrapper, type SimpleRenderer } from 'listr2';
import type { EngineEvent, Mode } from '../engine/events.js';
import { redact } from '../secret.js';
import { statusWord } from './words.js';

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

interface RecipeState {
  readonly end: Deferred<{ status: string; error?: string; changes: number }>;
  readonly lines: string[];
  warnings: number;
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
}

interface HostState {
  readonly start: Deferred<readonly string[]>;
  readonly end: Deferred<{ status: string; error?: string; summary: string }>;
  readonly recipes: Map<string, RecipeState>;
  task?: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>;
  /** Shown in the host's title while it waits for another run's host lock. */
  waiting?: string;
}

/**
 * listr2 picks its renderer by looking at stdout; panel draws the tree on
 * stderr (stdout stays for results), so the tree must not depend on stdout.
 */
class TreeOnStream extends DefaultRenderer {
  static override nonTTY = true;
  /** The stream the tree is drawn on; its width is the one that counts. */
  static stream: { columns?: number } | undefined;

  /**
   * listr2 wraps at `process.stdout.columns - indent`: the wrong stream, and
   * a terminal that reports 0 columns (serial consoles, some containers)
   * would get one character per line. Wrap at a usable width instead.
   */
  protected override format(message: string, icon: string, level: number): string[] {
    const stdout = process.stdout as { columns?: number };
    const own = Object.getOwnPropertyDescriptor(stdout, 'columns');
    stdout.columns = usableColumns(TreeOnStream.stream?.columns ?? stdout.columns);
    try {
      return super.format(message, icon, level);
    } finally {
      if (own) Object.defineProperty(stdout, 'columns', own);
      else delete stdout.columns;
    }
  }
}

/** A terminal width to wrap at: what the terminal says, unless it says something unusable (0, tiny, unknown). */
export function usableColumns(reported: number | undefined): number {
  return reported !== undefined && Number.isFinite(reported) && reported >= 20 ? reported : 80;
}

export interface ListrSink {
  readonly emit: (e: EngineEvent) => void;
  /** Resolves when every host task has finished rendering. */
  readonly done: Promise<void>;
}

export function listrSink(hostNames: readonly string[], stream: NodeJS.WriteStream, mode: Mode = 'install'): ListrSink {
  const hosts = new Map<string, HostState>();
  const hostState = (name: string): HostState => {
    let s = hosts.get(name);
    if (!s) {
      s = { start: deferred(), end: deferred(), recipes: new Map() };
      hosts.set(name, s);
    }
    return s;
  };
  const recipeState = (h: HostState, id: string): RecipeState => {
    let r = h.recipes.get(id);
    if (!r) {
      r = { end: deferred(), lines: [], warnings: 0 };
      h.recipes.set(id, r);
    }
    return r;
  };
  for (const n of hostNames) hostState(n);
  TreeOnStream.stream = stream;

  const list = new Listr(
    hostNames.map((name) => ({
      title: name,
      task: async (_ctx: unknown, task: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>) => {
        const h = hostState(name);
        h.task = task;
        if (h.waiting) task.title = `${name}: ${h.waiting}`;
        const recipes = await Promise.race([h.start.promise, h.end.promise.then(() => [] as readonly string[])]);
        if (recipes.length === 0) {
          const end = await h.end.promise;
          if (end.status === 'failed' || end.status === 'interrupted') throw new Error(redact(end.error ?? end.status));
          return;
        }
        return task.newListr(
          recipes.map((id) => ({
            title: id,
            task: async (_c: unknown, rt: ListrTaskWrapper<unknown, typeof DefaultRenderer, typeof SimpleRenderer>) => {
              const r = recipeState(h, id);
              r.task = rt;
              if (r.lines.length) rt.output = r.lines.join('\n');
              const end = await Promise.race([r.end.promise, h.end.promise.then((e) => ({ status: 'skipped', changes: 0, error: e.error }))]);
              if (end.status === 'failed') throw new Error(redact(end.error ?? 'failed'));
              if (end.status === 'skipped') rt.skip(`${id}: not reached`);
              else rt.title = `${id}: ${statusWord(mode, end.status)}${end.changes ? ` (${end.changes})` : ''}${r.warnings ? `, ${r.warnings} warning${r.warnings > 1 ? 's' : ''} (in the recap)` : ''}`;
            },
          })),
          { concurrent: false, exitOnError: false, rendererOptions: { collapseSubtasks: false } },
        );
      },
    })),
    {
      concurrent: true,
      exitOnError: false,
      registerSignalListeners: false,
      // The caller already chose the tree for a terminal on `stream`; listr2
      // would otherwise look at stdout and fall back when stdout is piped.
      fallbackRendererCondition: false,
      renderer: TreeOnStream,
      rendererOptions: {
        collapseSubtasks: false,
        collapseErrors: false,
        showErrorMessage: true,
        logger: new ListrLogger({ processOutput: new ProcessOutput(stream, stream) }),
      },
    },
  );

  const done = list.run().then(
    () => undefined,
    () => undefined,
  );

  const emit = (e: EngineEvent): void => {
    const h = 'host' in e ? hostState(e.host) : undefined;
    switch (e.type) {
      case 'host-start':
        h!.start.resolve(e.recipes);
        break;
      case 'change': {
        const r = recipeState(h!, e.recipe);
        r.lines.push(redact(`${e.status === 'failed' ? '✖' : e.status === 'planned' ? '~' : '✔'} ${e.change.summary}`));
        if (r.task) r.task.output = r.lines.slice(-8).join('\n');
        break;
      }
      case 'warning': {
        const r = recipeState(h!, e.recipe);
        r.warnings++;
        r.lines.push(redact(`⚠ ${e.message}`));
        if (r.task) r.task.output = r.lines.slice(-8).join('\n');
        break;
      }
      case 'lock-wait':
        h!.waiting = redact(`waiting for the host lock, held by ${e.holder} (up to ${e.waitSeconds} s, --lock-wait)`);
        if (h!.task) h!.task.title = `${e.host}: ${h!.waiting}`;
        break;
      case 'recipe-start':
        if (h!.waiting && h!.task) {
          h!.waiting = undefined;
          h!.task.title = e.host;
        }
        break;
      case 'recipe-end':
        recipeState(h!, e.recipe).end.resolve({ status: e.status, changes: e.changes, ...(e.error ? { error: e.error } : {}) });
        break;
      case 'host-end':
        h!.start.resolve([]);
        h!.end.resolve({ status: e.result.status, summary: e.result.status, ...(e.result.error ? { error: e.result.error } : {}) });
        break;
      default:
        break;
    }
  };
  return { emit, done };
}
