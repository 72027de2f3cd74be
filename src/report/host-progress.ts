/**
 * panel.sh's on-host progress files, kept for the tools that read them:
 *   progress.json  {"code":0,"message":"success","data":{"installType":"containerd","progress":50}}
 *   access.log     one timestamped line per step
 *   installErr.log one line per failure
 * Written by shell fragments that ride along in the engine's round trips, so
 * reporting costs no extra connection. progress.json is replaced with the
 * prelude's one atomic write.
 */
import type { HostHooks } from '../engine/hooks.js';
import { redact } from '../secret.js';
import { type Script, sh } from '../shell.js';

/**
 * installType of the record an install writes in its planning round trip when
 * every check passed (HostHooks.checked): "checked, nothing to do" as far as
 * the checks know, written before the plan is final. The last record of a run
 * that applied nothing; a run that applies changes writes its own after it.
 */
export const CHECKED = 'checked';

export interface ProgressRecord {
  readonly code: 0 | 1;
  readonly installType: string;
  readonly progress: number;
  readonly message?: string;
}

export function progressJson(r: ProgressRecord): string {
  return JSON.stringify({
    code: r.code,
    message: r.code === 0 ? 'success' : `${r.installType} error`,
    data: { installType: r.installType, progress: Math.max(0, Math.min(100, Math.round(r.progress))) },
  });
}

/**
 * Shell that records a step; failures of the reporting itself never fail the
 * run. It rides in every run's round trips (a converged host's only one), so
 * it costs one process (the rename): bash writes the temp file (umask 022 in
 * a subshell: 0644 with no chmod) and the time (printf %(…)T, no date).
 */
export function progressScript(dir: string, r: ProgressRecord): Script {
  const json = progressJson(r);
  const line = `[${r.installType}][progress ${Math.round(r.progress)}][status ${r.code}]${r.message ? ' ' + redact(r.message).replace(/\n/g, ' | ') : ''}`;
  const logs = r.code !== 0 ? [`${dir}/access.log`, `${dir}/installErr.log`] : [`${dir}/access.log`];
  const file = `${dir}/progress.json`;
  return sh`{ [ -d ${dir} ] || { mkdir -p ${dir} && chmod 0755 ${dir}; }
__t=${file}.panel-tmp.$$
( umask 022; printf '%s\\n' ${json} > "$__t" ) && mv -f -- "$__t" ${file} || rm -f -- "$__t"
printf -v __now '%(%Y-%m-%d %H:%M:%S)T' -1
for __l in ${logs}; do printf '[%s]%s\\n' "$__now" ${line} >> "$__l"; done
} >/dev/null 2>&1 || true`;
}

/** The engine hooks that keep progress.json and the logs in each host's progressDir. */
export const progressHooks: HostHooks = {
  recipeApply: (at) => progressScript(at.config.progressDir, { code: 0, installType: at.recipe, progress: (at.index / at.total) * 100, message: `${at.changes} change(s)` }),
  recipeFailed: (at) => progressScript(at.config.progressDir, { code: 1, installType: at.recipe, progress: (at.index / at.total) * 100, message: at.error }),
  installDone: (at) => progressScript(at.config.progressDir, { code: 0, installType: 'done', progress: 100 }),
  checked: (at) => progressScript(at.config.progressDir, { code: 0, installType: CHECKED, progress: 100 }),
};
