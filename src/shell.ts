/**
 * The one place where values become shell words. Every value that reaches a
 * remote shell goes through `quote` (directly or via the `sh` template tag),
 * so injection is impossible by construction rather than by care.
 */

/** POSIX single-quote a value: 'it'\''s' — safe for any byte except NUL. */
export function quote(value: string | number): string {
  const s = String(value);
  if (s.includes('\0')) throw new Error('a NUL byte cannot be passed to a shell');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Shell text panel produced itself (tightened to a branded type next). */
export type Script = string;

/** A fragment of shell that is already safe and must not be quoted again. */
export class Raw {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export const raw = (text: string): Raw => new Raw(text);

/**
 * Tagged template: literal parts are trusted script, interpolated values are
 * quoted (arrays become several quoted words; `Raw` passes through).
 *   sh`install -m ${mode} ${src} ${dest}`
 */
export function sh(strings: TemplateStringsArray, ...values: ReadonlyArray<string | number | Raw | ReadonlyArray<string>>): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    if (v instanceof Raw) out += v.text;
    else if (Array.isArray(v)) out += v.map((x) => quote(x)).join(' ');
    else out += quote(v as string | number);
    out += strings[i + 1] ?? '';
  });
  return out;
}

/** A heredoc-free way to ship bytes inside a script: base64 decoded on the host. */
export function writeBytesScript(bytes: Buffer, dest: string): string {
  const b64 = bytes.toString('base64').replace(/.{1,76}/g, '$&\n');
  return `base64 -d > ${quote(dest)} <<'__PANEL_B64__'\n${b64}__PANEL_B64__`;
}
