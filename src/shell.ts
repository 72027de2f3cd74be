/**
 * The one place where text becomes shell. A `Script` can only be made here:
 * by the `sh` tag (literal parts are trusted script written in this
 * repository, interpolated values are quoted), by `sh.raw` (a literal whose
 * backslashes reach bash untouched) or by `sh.file` for the prelude's `.sh`
 * files. Anything typed `Script` — a Change's script, a
 * fact snippet, a check, a validator — therefore never contains an unquoted
 * value, and a plain string cannot be passed where a script is expected.
 */

/** POSIX single-quote a value: 'it'\''s' — safe for any byte except NUL. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a shell');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

let make: (text: string) => Script;

/** Shell text made by `sh` (values quoted) or `sh.raw` (the prelude). */
export class Script {
  readonly #text: string;
  private constructor(text: string) {
    this.#text = text;
  }
  static {
    make = (text) => new Script(text);
  }
  get text(): string {
    return this.#text;
  }
  toString(): string {
    return this.#text;
  }
  get length(): number {
    return this.#text.length;
  }
  /** Does the script text contain `s` (tests, assertions). */
  includes(s: string): boolean {
    return this.#text.includes(s);
  }
}

export type ShellValue = string | number | Script | ReadonlyArray<string>;

/**
 * Tagged template: literal parts are trusted script, interpolated values are
 * quoted (arrays become several quoted words; a `Script` is embedded as is).
 *   sh`install -m ${mode} ${src} ${dest}`
 */
function tag(strings: TemplateStringsArray, ...values: ReadonlyArray<ShellValue>): Script {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (v instanceof Script) out += v.text;
    else if (typeof v === 'string' || typeof v === 'number') out += quote(v);
    else out += v.map((x) => quote(x)).join(' ');
    out += strings[i + 1] ?? '';
  });
  return make(out);
}

/**
 * The prelude's tag: the raw text (backslashes reach bash untouched); `\${`
 * stands for `${` (JavaScript would interpolate it otherwise). No values.
 */
function rawTag(strings: TemplateStringsArray): Script {
  return make(strings.raw.join('').replace(/\\\$\{/g, '${'));
}

/** The text of panel's own `.sh` files (the prelude, src/resources/prelude.ts): trusted as written, no values. */
function ownFile(text: string): Script {
  return make(text);
}

export const sh: typeof tag & { readonly raw: typeof rawTag; readonly file: typeof ownFile } = Object.assign(tag, { raw: rawTag, file: ownFile });

/** A script passed as ONE quoted word to a command that evals it (validators, fill commands). */
export function arg(s: Script | undefined): Script {
  return make(quote(s?.text ?? ''));
}

/** Scripts one after the other (undefined and empty parts dropped). */
export function lines(...parts: ReadonlyArray<Script | undefined>): Script {
  return join(parts, '\n');
}

/** Scripts joined by a shell operator. */
export function join(parts: ReadonlyArray<Script | undefined>, op: '\n' | ' && ' | ' || ' | ' | ' | '; '): Script {
  return make(
    parts
      .filter((p): p is Script => p !== undefined && p.text !== '')
      .map((p) => p.text)
      .join(op),
  );
}

/** `cmd` reading `bytes` (base64) on stdin from a heredoc; a failure of `cmd` exits the step. The one way bytes travel inside a script. */
export function withBytes(cmd: Script, bytes: Buffer): Script {
  const b64 = bytes.toString('base64').replace(/.{1,76}/g, '$&\n');
  return make(`${cmd.text} <<'__PANEL_B64__' || exit 1\n${b64}__PANEL_B64__`);
}

/**
 * The last non-empty lines of a command's output (the engine's own `@@panel-`
 * markers left out): the one helper behind every "exit N: <last lines>" error.
 * On the host, the prelude's panel_tail does the same.
 */
export function outputTail(text: string, lines = 6, sep = '\n'): string {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('@@panel-'))
    .slice(-lines)
    .join(sep);
}
