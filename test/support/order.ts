/**
 * Ordering checks that cannot pass over nothing: `indexOf(a) < indexOf(b)` is
 * true when `a` is missing (-1), so each item must first be present. The
 * guard in test/unit/test-guards.test.ts refuses bare indexOf comparisons.
 */
import assert from 'node:assert/strict';

/** Each item occurs in `seq` (a string: as a substring), and their first occurrences come in this order. */
export function assertInOrder<T>(seq: string | readonly T[], items: readonly (T & string)[] | readonly T[], what = ''): void {
  const shown = typeof seq === 'string' ? seq : seq.map(String).join(' ');
  const at = items.map((item) => {
    const i = typeof seq === 'string' ? seq.indexOf(String(item)) : seq.indexOf(item as T);
    assert.ok(i >= 0, `${what}${what ? ': ' : ''}${String(item)} is missing from:\n${shown}`);
    return i;
  });
  for (let k = 1; k < at.length; k++) {
    assert.ok(at[k - 1]! < at[k]!, `${what}${what ? ': ' : ''}${String(items[k - 1])} should come before ${String(items[k])} in:\n${shown}`);
  }
}
