/**
 * The inspector's state: two runs' outputs joined on (image, question), the filters, the
 * cursor, and both runs' evaluation rows.
 */
import type { EvaluationRow, OutputRow, RunSummary } from '../../../shared/api';
import { errorMessage, getApi } from './api';
import { filterPairs, pairOutputs, type OutputPair, type PairFilter } from './marks';

const PAGE = 500;
const MAX_OUTPUTS = 5000;

async function allOutputs(runId: number): Promise<OutputRow[]> {
  const api = getApi();
  const rows: OutputRow[] = [];
  for (let offset = 0; offset < MAX_OUTPUTS; offset += PAGE) {
    const page = await api.runs.outputs({ runId, offset, limit: PAGE });
    rows.push(...page.items);
    if (offset + PAGE >= page.total) break;
  }
  return rows;
}

/** Default pair: the a/b asked for, else the newest matched pair (dpo first), else the two newest runs. */
export function defaultRuns(runs: RunSummary[], a: number | null, b: number | null): [number | null, number | null] {
  if (a != null) return [a, b];
  const newest = [...runs].sort((x, y) => y.id - x.id);
  const paired = newest.find((r) => r.pairId != null);
  if (paired) {
    const both = runs.filter((r) => r.pairId === paired.pairId);
    const dpo = both.find((r) => r.variant === 'dpo') ?? both[0]!;
    const other = both.find((r) => r.id !== dpo.id);
    return [dpo.id, other?.id ?? null];
  }
  return [newest[1]?.id ?? newest[0]?.id ?? null, newest[1] ? newest[0]!.id : null];
}

export class InspectState {
  outputsA = $state.raw<OutputRow[]>([]);
  outputsB = $state.raw<OutputRow[]>([]);
  evalA = $state.raw<EvaluationRow[]>([]);
  evalB = $state.raw<EvaluationRow[]>([]);
  filter = $state<PairFilter>({ onlyDisagreements: false, onlyHallucinations: false });
  index = $state(0);
  loading = $state(false);
  error = $state<string | null>(null);

  pairs = $derived<OutputPair[]>(pairOutputs(this.outputsA, this.outputsB));
  visible = $derived<OutputPair[]>(filterPairs(this.pairs, this.filter));
  current = $derived<OutputPair | null>(this.visible[Math.min(this.index, this.visible.length - 1)] ?? null);

  async load(a: number | null, b: number | null): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      const api = getApi();
      const none = Promise.resolve([] as never[]);
      const [oa, ob, ea, eb] = await Promise.all([
        a != null ? allOutputs(a) : none,
        b != null ? allOutputs(b) : none,
        a != null ? api.runs.evaluations({ runId: a }) : none,
        b != null ? api.runs.evaluations({ runId: b }) : none,
      ]);
      this.outputsA = oa;
      this.outputsB = ob;
      this.evalA = ea;
      this.evalB = eb;
      this.index = 0;
    } catch (e) {
      this.error = errorMessage(e);
    } finally {
      this.loading = false;
    }
  }

  move(delta: number): void {
    const n = this.visible.length;
    if (n === 0) return;
    this.index = Math.max(0, Math.min(n - 1, Math.min(this.index, n - 1) + delta));
  }

  setFilter(next: Partial<PairFilter>): void {
    this.filter = { ...this.filter, ...next };
    this.index = 0;
  }
}
