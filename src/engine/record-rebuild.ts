/**
 * `panel uninstall --rebuild-record`: when state.json is damaged, its
 * readable entries (what the engine salvaged, see readHostState) become the
 * whole record again, before any removal, so the removals that follow are
 * recorded into a valid file. Planned only when the record was damaged; the
 * removal plan after it shows what is then considered panel's.
 */
import { sh } from '../shell.js';
import type { Change, FactOutput, PlanContext, Resource } from '../resources/types.js';
import { rebuildScript, STATE_FILE } from './state.js';

class RecordRebuild implements Resource<null> {
  readonly key = 'record:rebuild';
  facts() {
    return sh`true`;
  }
  parse(_out: FactOutput): null {
    return null;
  }
  plan(_f: null, ctx: PlanContext): Change[] {
    const state = ctx.state;
    if (!state?.damage) return [];
    const n = state.records.length;
    return [
      {
        resource: this.key,
        action: 'update',
        target: STATE_FILE,
        reason: `rebuilt from its ${n} readable entr${n === 1 ? 'y' : 'ies'}; ${state.damage.unreadable} unreadable line${state.damage.unreadable === 1 ? '' : 's'} dropped (${state.damage.problem})`,
        script: rebuildScript(state),
      },
    ];
  }
}

export function recordRebuild(): Resource<null> {
  return new RecordRebuild();
}
