/**
 * Secrets are wrapped so that printing, logging or serialising one shows a
 * mask. Every string that becomes a Secret is also registered with the
 * process-wide redactor, which every sink (terminal, NDJSON, host logs,
 * error messages) passes its text through as a second line of defence.
 */
export const MASK = '********';

const known = new Set<string>();

export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
    if (value.length >= 4) known.add(value);
  }
  /** The only way to get the value out: grep for `reveal()` to audit every use. */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return MASK;
  }
  toJSON(): string {
    return MASK;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Secret(${MASK})`;
  }
}

/** Register a value found at run time (e.g. read back from a host) as secret. */
export function registerSecret(value: string): void {
  if (value.length >= 4) known.add(value);
}

/**
 * A secret as it reads inside a JSON string: a sink that redacts serialised
 * text (--json) would otherwise miss a value holding `"`, `\` or a control
 * character, which JSON escapes.
 */
function inJson(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Replace every known secret value in a text, raw or JSON-escaped, by the mask. */
export function redact(text: string): string {
  let out = text;
  for (const s of known) {
    for (const form of new Set([inJson(s), s])) {
      if (out.includes(form)) out = out.split(form).join(MASK);
    }
  }
  return out;
}
