/**
 * `mdpo evalsets|answers|inspect ...`: hallucination inspection on the user's own data from the
 * command line, through the same API handlers as the app (see HELP_INSPECT). Called by ./cli.ts.
 */
import type { AnswerJob, ApiChannel, ApiOutputs, InspectPage } from '../shared/api';
import type { MethodInput } from '../shared/schemas';
import type { Backend } from './backend-context';

export const HELP_INSPECT = `  evalsets import <path> [--name N]   import a probe set: JSONL/JSON of {image, text, label} (POPE),
                                      {image, text, objects} (object-annotated) or {image, text}
  evalsets from-run <run id>          the records a run held out (train --hold-out N) as a set
  evalsets list                       list evaluation sets
  answers <set id> --models base:<run>,run:<id>,... [--max-tokens N] [--temperature T] [--seed S]
                                      generate answers (greedy unless --temperature > 0); stored
                                      answers of the same model, adapter and settings are reused
  inspect scores <set id> --a <model> --b <model>
                                      POPE / CHAIR scores, human tallies and the sign test
  inspect export <set id> --a <model> --b <model> --out <dir> [--import]
                                      judged items as a preference dataset (silkie-jsonl)
  inspect judgments <set id> --a <model> --b <model> --out <file> [--format csv|jsonl]
  inspect report <set id> --a <model> --b <model> --out <file.html>
`;

export interface InspectCli {
  backend: () => Backend;
  call: <C extends ApiChannel>(b: Backend, channel: C, input?: MethodInput<C>) => Promise<ApiOutputs[C]>;
  print: (value: unknown, text: () => string) => void;
  err: (text: string) => void;
  isTTY: boolean;
  json: boolean;
  num: (flag: string, value: string | undefined) => number | undefined;
  usage: (message: string) => Error;
  flags: { name?: string; models?: string; a?: string; b?: string; out?: string; format?: string; import?: boolean; 'max-tokens'?: string; temperature?: string; seed?: string };
  exit: { ok: number; badInput: number; failure: number; interrupted: number };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function scoresText(p: InspectPage): string {
  const lines: string[] = [];
  for (const [side, s] of [['A', p.scores[0]!], ['B', p.scores[1]!]] as const) {
    const parts = [`${side} ${s.modelKey}:`];
    if (s.pope) parts.push(`POPE acc ${pct(s.pope.accuracy)} P ${pct(s.pope.precision)} R ${pct(s.pope.recall)} F1 ${pct(s.pope.f1)} yes ${pct(s.pope.yesRatio)} (${s.pope.questions} q)`);
    if (s.chair) parts.push(`CHAIR_s ${pct(s.chair.chairS)} CHAIR_i ${pct(s.chair.chairI)} Cover ${pct(s.chair.cover)} (${s.chair.answers} answers)`);
    if (!s.pope && !s.chair) parts.push('no ground truth or no answers');
    lines.push(parts.join(' '));
  }
  const t = p.tallies;
  const r = (x: typeof t.humanRate.a) => (x.n === 0 ? '-' : `${pct(x.rate)} [${pct(x.low)}, ${pct(x.high)}]`);
  lines.push(`judged ${t.judged} of ${t.items} (${t.left} left); human hallucination rate A ${r(t.humanRate.a)}, B ${r(t.humanRate.b)}`);
  lines.push(`verdicts: A better ${t.verdicts.a}, B better ${t.verdicts.b}, tie ${t.verdicts.tie}, both wrong ${t.verdicts['both-wrong']}; sign test p = ${t.signTest.p.toPrecision(3)}`);
  return `${lines.join('\n')}\n`;
}

/** Waits for the jobs in the foreground (progress on a terminal); Ctrl+C cancels them. */
async function follow(c: InspectCli, b: Backend, setId: number, started: AnswerJob[]): Promise<AnswerJob[]> {
  const ids = new Set(started.map((j) => j.id));
  const live = () => c.call(b, 'answers:jobs', { setId }).then((all) => all.filter((j) => ids.has(j.id)));
  const settled = (jobs: AnswerJob[]) => jobs.every((j) => j.status !== 'queued' && j.status !== 'running');
  let jobs = await live();
  if (settled(jobs)) return jobs;
  const onSigint = () => void Promise.all([...ids].map((jobId) => c.call(b, 'answers:cancel', { jobId }).catch(() => null)));
  process.once('SIGINT', onSigint);
  try {
    await new Promise<void>((resolve) => {
      const off = b.subscribe((e) => {
        if (e.type !== 'answers:progress' || !ids.has(e.jobId)) return;
        if (c.isTTY && !c.json) c.err(`\r\x1b[2K${e.modelKey}: ${e.done}/${e.total} ${e.status}${e.etaMs != null ? ` ETA ${Math.round(e.etaMs / 1000)}s` : ''}`);
        void live().then((now) => {
          if (settled(now)) {
            off();
            resolve();
          }
        });
      });
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
  if (c.isTTY && !c.json) c.err('\n');
  jobs = await live();
  return jobs;
}

export async function inspectCommand(c: InspectCli, command: string, sub: string | undefined, arg: string | undefined): Promise<number> {
  const { flags } = c;
  if (command === 'evalsets') {
    if (sub === 'import') {
      if (!arg) throw c.usage('evalsets import needs a path.');
      const s = await c.call(c.backend(), 'evalsets:import', { path: arg, name: flags.name });
      c.print(s, () =>
        `Imported evaluation set ${s.id} "${s.name}": ${s.items} of ${s.counts.records} items valid (${s.kinds.yesno} yes/no, ${s.kinds.objects} object-annotated, ${s.kinds.none} plain), ${s.counts.errors} excluded.\n` +
        (s.report?.issues ?? []).slice(0, 50).map((i) => `  ${i.severity}: ${i.message}\n`).join(''),
      );
      return s.items === 0 ? c.exit.badInput : c.exit.ok;
    }
    if (sub === 'from-run') {
      const runId = c.num('run id', arg);
      if (runId === undefined) throw c.usage('evalsets from-run needs a run id.');
      const s = await c.call(c.backend(), 'evalsets:fromRun', { runId });
      c.print(s, () => `Evaluation set ${s.id} "${s.name}": ${s.items} held-out records of run ${runId}.\n`);
      return c.exit.ok;
    }
    if (sub === 'list') {
      const list = await c.call(c.backend(), 'evalsets:list');
      c.print(list, () => list.map((s) => `${s.id}  ${s.name}  ${s.kind}  ${s.items} items (${s.kinds.yesno} yes/no, ${s.kinds.objects} objects, ${s.kinds.none} plain)  ${s.sourcePath}\n`).join('') || 'No evaluation sets.\n');
      return c.exit.ok;
    }
    throw c.usage(`Unknown evalsets command "${sub ?? ''}": expected import, from-run or list.`);
  }
  if (command === 'answers') {
    const setId = c.num('set id', sub);
    if (setId === undefined) throw c.usage('answers needs an evaluation set id.');
    if (!flags.models) throw c.usage('answers needs --models base:<run id>,run:<run id>,... (see the Inspect screen or answers:models).');
    const b = c.backend();
    const started = await c.call(b, 'answers:start', {
      setId,
      models: flags.models.split(',').map((m) => m.trim()),
      maxTokens: c.num('max-tokens', flags['max-tokens']),
      temperature: c.num('temperature', flags.temperature),
      seed: c.num('seed', flags.seed),
    });
    const jobs = await follow(c, b, setId, started);
    c.print(jobs, () => jobs.map((j) => `job ${j.id} ${j.modelKey}: ${j.status}, ${j.done}/${j.total} answered (${j.reused} reused)${j.error ? `: ${j.error.message}` : ''}\n`).join(''));
    if (jobs.some((j) => j.status === 'cancelled' || j.status === 'interrupted')) return c.exit.interrupted;
    return jobs.every((j) => j.status === 'completed') ? c.exit.ok : c.exit.failure;
  }
  if (command === 'inspect') {
    const setId = c.num('set id', arg);
    if (setId === undefined) throw c.usage(`inspect ${sub ?? ''} needs an evaluation set id.`);
    if (!flags.a || !flags.b) throw c.usage('inspect needs --a <model> and --b <model> (base:<run id> or run:<run id>).');
    const pair = { setId, modelA: flags.a, modelB: flags.b };
    const b = c.backend();
    if (sub === 'scores') {
      const p = await c.call(b, 'inspect:page', { ...pair, limit: 1 });
      c.print({ scores: p.scores, tallies: p.tallies }, () => scoresText(p));
      return c.exit.ok;
    }
    if (!flags.out) throw c.usage(`inspect ${sub ?? ''} needs --out.`);
    if (sub === 'export') {
      const r = await c.call(b, 'inspect:exportPairs', { ...pair, dir: flags.out, import: !!flags.import });
      c.print(r, () => `wrote ${r.pairs} pairs to ${r.path} (${r.skipped} items without a preference)${r.datasetId ? `; imported as dataset ${r.datasetId}` : ''}\n`);
      return c.exit.ok;
    }
    if (sub === 'judgments') {
      const format = flags.format ?? 'csv';
      if (format !== 'csv' && format !== 'jsonl') throw c.usage(`--format: expected csv or jsonl, got "${format}".`);
      const r = await c.call(b, 'inspect:exportJudgments', { ...pair, path: flags.out, format });
      c.print(r, () => `wrote ${r.rows} judged items to ${r.path}\n`);
      return c.exit.ok;
    }
    if (sub === 'report') {
      const r = await c.call(b, 'inspect:report', { ...pair, path: flags.out });
      c.print(r, () => `wrote ${r.path} (${r.items} items)\n`);
      return c.exit.ok;
    }
    throw c.usage(`Unknown inspect command "${sub ?? ''}": expected scores, export, judgments or report.`);
  }
  throw c.usage(`Unknown command "${command}".`);
}
