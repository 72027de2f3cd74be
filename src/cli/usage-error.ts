/** A bad flag or input: printed as one line `panel: …`, exit 1, before any connection. */
export class UsageError extends Error {
  override name = 'UsageError';
}
