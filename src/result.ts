/**
 * panel's one way to fail.
 *
 * - An expected failure, one a caller must handle (bad input, a host that
 *   says no, a file that cannot be read, a refused plan): return a `Result`
 *   built with `ok`/`err`. The error is a value the caller reports (usually a
 *   located one-line string, or a list of them), never a thrown exception and
 *   never a bare `T | string`.
 * - A bug (an invariant of panel's own code broken, a case that cannot
 *   happen): throw a `PanelBug`. Nobody catches it to carry on.
 * - Exceptions from libraries and the transport (e.g. `TransportError`) are
 *   caught where they are expected and turned into a `Result` there.
 *
 * Import `Result`, `ok` and `err` from here only: no module re-exports them.
 */
export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const ok = <T>(value: T): Result<T, never> => ({ ok: true, value });
export const err = <E>(error: E): Result<never, E> => ({ ok: false, error });

/** A broken invariant in panel's own code: thrown, never returned, never caught to go on. */
export class PanelBug extends Error {
  override readonly name = 'PanelBug';
}
