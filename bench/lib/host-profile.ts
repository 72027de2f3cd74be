/**
 * Where a converged host's CPU goes in one no-op: the planning script panel
 * sends, captured from the host's sshd during one run (a ForceCommand that
 * tees the session's stdin, removed right after), then run again on the
 * host with bash's `times` (CPU of the shell and of the children it waited
 * for) between its sections. The host's cgroup is read around those runs as
 * well: what the script's programs make other processes do (containerd, the
 * gateway answering a check) is in the cgroup, not in `times`.
 */
import { quote } from '../../src/shell.js';
import { wholeScript } from '../../src/transport/command.js';
import type { Testbed, TestHost } from '../../test/testbed/index.js';
import { readHostCpu } from './host-cpu.js';
import { spread } from './stats.js';

export interface HostSection {
  readonly what: string;
  /** CPU ms: median over the runs. */
  readonly ms: number;
}

export interface HostProfile {
  /** bash + children, whole script (median ms). */
  readonly scriptMs: number;
  /** The host's cgroup over one run of the script (median ms). */
  readonly cgroupMs: number;
  readonly sections: readonly HostSection[];
}

const CAPTURE = '/usr/local/sbin/panel-bench-capture';
const DIR = '/var/tmp/panel-bench-capture';

/** Capture the scripts of one `runOnce` on `host`; sshd is as before afterwards, whatever happens. */
async function capture(bed: Testbed, host: TestHost, runOnce: () => Promise<void>): Promise<string> {
  const must = async (cmd: string): Promise<string> => {
    const r = await bed.exec(host, cmd, { timeoutMs: 60_000 });
    if (r.code !== 0) throw new Error(`${host.name}: ${cmd.slice(0, 60)}…: ${r.stderr.slice(-400)}`);
    return r.stdout;
  };
  await must(
    `set -e; rm -rf ${DIR}; mkdir -p ${DIR}; printf '%s\\n' '#!/bin/bash' 'tee "${DIR}/$(date +%s%N)" | eval "$SSH_ORIGINAL_COMMAND"' > ${CAPTURE}; chmod 0755 ${CAPTURE}; ` +
      `cp /etc/ssh/sshd_config ${DIR}.sshd_config; echo 'ForceCommand ${CAPTURE}' >> /etc/ssh/sshd_config; systemctl reload ssh`,
  );
  try {
    await runOnce();
  } finally {
    await must(`cp ${DIR}.sshd_config /etc/ssh/sshd_config; rm -f ${DIR}.sshd_config ${CAPTURE}; systemctl reload ssh`);
  }
  // The planning script: the largest one a no-op sends.
  const name = (await must(`ls -S ${DIR} | head -n 1`)).trim();
  const script = await must(`cat ${DIR}/${name}; rm -rf ${DIR}`);
  return script.slice(script.indexOf('\n') + 1); // past the loader line: run as the script itself
}

/** `times` before each fact snippet and check, labelled; the labels go to stderr with it. */
export function instrument(script: string): string {
  const out: string[] = [];
  const lines = script.split('\n');
  const mark = (label: string): void => {
    out.push(`times >&2; printf '@T %s\\n' ${quote(label)} >&2`);
  };
  let check = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const fact = /^echo @@panel-fact-begin (\d+)$/.exec(l);
    if (fact) {
      // The snippet's first command line names it: "(" and "{" are the wrappers.
      const body = lines.slice(i + 1, i + 5).find((x) => !/^[({]$/.test(x.trim())) ?? '';
      mark(`fact: ${body.trim().slice(0, 70)}`);
    } else if (l.startsWith('__out=$( { ')) {
      mark(`check ${check++}: ${l.slice('__out=$( { '.length).trim().slice(0, 70)}`);
    } else if (l.startsWith('[ -e /var/run/reboot-required ]')) {
      mark('after the checks');
    } else if (l.startsWith('echo @@panel-state-begin')) {
      mark('the prelude (functions defined)');
    } else if (l.startsWith('panel_units_prefetch ') || l.startsWith('panel_files_prefetch ')) {
      mark(l.split(' ')[0]!);
    }
    out.push(l);
  }
  mark('end');
  return out.join('\n');
}

const seconds = (s: string): number => {
  const m = /^(\d+)m([\d.]+)s$/.exec(s);
  return m ? Number(m[1]) * 60 + Number(m[2]) : 0;
};

/** Per-section CPU ms of one instrumented run's stderr. Checks run in a subshell: their times are its own, counted from its start. */
export function sectionsOf(stderr: string): { sections: Map<string, number>; totalMs: number } {
  const marks: Array<{ label: string; cpu: number }> = [];
  const lines = stderr.split('\n');
  for (let i = 2; i < lines.length; i++) {
    if (!lines[i]!.startsWith('@T ')) continue;
    const cpu = [...lines[i - 2]!.trim().split(/\s+/), ...lines[i - 1]!.trim().split(/\s+/)].reduce((a, x) => a + seconds(x), 0);
    marks.push({ label: lines[i]!.slice(3), cpu });
  }
  const sections = new Map<string, number>();
  const inChecks = (l: string): boolean => l.startsWith('check ') || l === 'after the checks';
  for (const seq of [marks.filter((m) => !inChecks(m.label)), marks.filter((m) => inChecks(m.label))]) {
    for (let i = 0; i + 1 < seq.length; i++) sections.set(seq[i]!.label, (seq[i + 1]!.cpu - seq[i]!.cpu) * 1000);
  }
  // The last fact's span holds the checks' subshell: take the checks out of it.
  const checks = [...sections.entries()].filter(([l]) => inChecks(l)).reduce((a, [, ms]) => a + ms, 0);
  const lastFact = [...sections.keys()].filter((l) => l.startsWith('fact: ')).at(-1);
  if (lastFact !== undefined) sections.set(lastFact, Math.max(0, sections.get(lastFact)! - checks));
  if (marks[0] !== undefined) sections.set('bash starting, the host info, reading the prelude', marks[0].cpu * 1000);
  return { sections, totalMs: (marks.at(-1)?.cpu ?? 0) * 1000 };
}

export async function hostProfile(bed: Testbed, host: TestHost, runOnce: () => Promise<void>, runs = 5): Promise<HostProfile> {
  const script = instrument(await capture(bed, host, runOnce));
  const per = new Map<string, number[]>();
  const totals: number[] = [];
  const cgroup: number[] = [];
  for (let r = 0; r < runs; r++) {
    const [before] = await readHostCpu(bed, [host]);
    // Through panel's own loader (one read of the whole script, then eval): bash reading a pipe itself takes one read(2) per byte.
    const res = await bed.exec(host, 'bash -s >/dev/null', { input: wholeScript(script), timeoutMs: 120_000 });
    const [after] = await readHostCpu(bed, [host]);
    if (res.code !== 0) throw new Error(`${host.name}: the instrumented planning script exited ${res.code}: ${res.stderr.slice(-400)}`);
    const { sections, totalMs } = sectionsOf(res.stderr);
    for (const [k, v] of sections) per.set(k, [...(per.get(k) ?? []), v]);
    totals.push(totalMs);
    cgroup.push((after! - before!) * 1000);
  }
  return {
    scriptMs: spread(totals).median,
    cgroupMs: spread(cgroup).median,
    sections: [...per.entries()].map(([what, v]) => ({ what, ms: spread(v).median })).sort((a, b) => b.ms - a.ms),
  };
}

/** Markdown: the sections that cost most, the sums by kind, and how the script compares with the host's whole no-op. */
export function renderHostProfile(p: HostProfile, noopHostCpuSeconds: number | undefined, top = 20): string {
  const sum = (f: (w: string) => boolean): [number, number] => {
    const xs = p.sections.filter((x) => f(x.what));
    return [xs.length, xs.reduce((a, x) => a + x.ms, 0)];
  };
  const [nf, facts] = sum((w) => w.startsWith('fact: '));
  const [nc, checks] = sum((w) => w.startsWith('check '));
  const rest = p.scriptMs - facts - checks;
  return [
    "### Where a converged host's CPU goes (1-host no-op)",
    '',
    'The planning script of one no-op, captured on the host (its sshd tees the session for that run), then run there again 5 times with ' +
      "bash's `times` between its sections: CPU of bash and of the programs it waited for, median ms. " +
      `Whole script: **${p.scriptMs.toFixed(0)} ms** — ${nf} fact snippets ${facts.toFixed(0)} ms, ${nc} checks ${checks.toFixed(0)} ms, ` +
      `the rest (bash starting and reading the prelude, the state record, the prefetches) ${rest.toFixed(0)} ms; ` +
      "the last fact's line also holds the checks' subshell and the progress record. " +
      `Meanwhile the host's own processes spent ${p.cgroupMs.toFixed(0)} ms (its cgroup; the script itself ran outside it, entered with nsenter): ` +
      'containerd answering `ctr version`, the gateway and provider answering their checks, systemd answering systemctl, and the idle stack (about 3 ms a second on a quiet 1-host bed, more on a loaded runner)' +
      (noopHostCpuSeconds === undefined
        ? '.'
        : `. The host's CPU per no-op in the table, ${(noopHostCpuSeconds * 1000).toFixed(0)} ms, is all of these plus sshd (the connection, its key exchange, the session and its channel).`),
    '',
    '| section (its first line) | CPU ms |',
    '|---|---:|',
    ...p.sections.slice(0, top).map((x) => `| \`${x.what.replace(/\|/g, '\\|').replace(/`/g, "'")}\` | ${x.ms.toFixed(1)} |`),
  ].join('\n');
}
