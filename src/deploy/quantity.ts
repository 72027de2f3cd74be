/**
 * Kubernetes quantities (`128Mi`, `125000Ki`, `1G`, `0.5`), as faasd parses a
 * memory limit and reports it back (`resource.NewQuantity(bytes, BinarySI)`):
 * `128M` goes in and `125000Ki` comes out, so limits compare as numbers.
 */
const SUFFIX: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The quantity's value, or undefined when it is not one. */
export function quantityValue(q: string): number | undefined {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return undefined;
  const scale = SUFFIX[m[2] ?? ''];
  return scale === undefined ? undefined : Number(m[1]) * scale;
}

/** Same amount, however written; two absent quantities are equal too. */
export function sameQuantity(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = quantityValue(a);
  const y = quantityValue(b);
  return x !== undefined && y !== undefined ? Math.round(x) === Math.round(y) : a === b;
}
