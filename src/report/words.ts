/**
 * How a status reads in each mode. The engine reports `changed` for a
 * change it found, applied or not; only `install` changes anything, so a
 * dry run says what it would change and `check` calls it drift.
 */
import type { Mode } from '../engine/events.js';

export function statusWord(mode: Mode, status: string): string {
  if (status !== 'changed') return status;
  return mode === 'plan' ? 'to change' : mode === 'check' ? 'drift' : 'changed';
}
