/** Progress as plain lines (no spinners, no cursor codes) when output is not a terminal. */
import type { EngineEvent, Mode } from '../engine/events.js';
import { redact } from '../secret.js';
import { statusWord } from './words.js';

export function plainSink(write: (line: string) => void, mode: Mode = 'install'): (e: EngineEvent) => void {
  const say = (host: string, text: string): void => write(redact(`[${host}] ${text}`) + '\n');
  return (e) => {
    switch (e.type) {
      case 'host-start':
        say(e.host, `recipes: ${e.recipes.join(', ')}`);
        break;
      case 'host-info':
        say(e.host, `${e.info.osPretty}, ${e.info.rawArch}${e.info.ipv6 ? ', ipv6' : ''}`);
        break;
      case 'change':
        if (e.status !== 'planned') say(e.host, `${e.recipe}: ${e.status === 'applied' ? 'changed' : 'FAILED'}: ${e.change.summary}`);
        break;
      case 'warning':
        say(e.host, `${e.recipe}: warning: ${e.message}`);
        break;
      case 'lock-wait':
        say(e.host, `waiting for the host lock, held by ${e.holder} (up to ${e.waitSeconds} s, --lock-wait)`);
        break;
      case 'verify':
        if (!e.ok) say(e.host, `${e.recipe}: verify "${e.check}" failed: ${e.detail ?? ''}`);
        break;
      case 'recipe-end':
        if (e.status === 'failed') say(e.host, `${e.recipe}: failed`);
        else say(e.host, `${e.recipe}: ${statusWord(mode, e.status)}${e.changes ? ` (${e.changes})` : ''}`);
        break;
      case 'host-end':
        say(e.host, `${statusWord(mode, e.result.status)} in ${(e.result.durationMs / 1000).toFixed(1)}s${e.result.error ? `: ${e.result.error}` : ''}`);
        break;
      default:
        break;
    }
  };
}
