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

/** Replace every known secret value in a text by the mask. */
export function redact(text: string): string {
  let out = text;
  for (const s of known) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
}
