/** One JSON object per line on stdout, host on every event; secrets redacted. */
import type { EngineEvent } from '../engine/events.js';
import { redact } from '../secret.js';

export function ndjsonSink(write: (line: string) => void): (e: EngineEvent) => void {
  return (e) => write(redact(JSON.stringify({ ts: new Date().toISOString(), ...e })) + '\n');
}
