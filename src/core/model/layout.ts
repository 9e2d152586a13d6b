/**
 * Where every token sits: sequence = [bos] + image features (N slots) + prompt + answer.
 *
 * Pure bookkeeping on plain arrays (no tensors), so it is easy to test and reason about.
 * The answer's log-prob is read from the hidden state one slot BEFORE each answer token
 * (next-token prediction); these slots are the only ones the output head ever sees.
 */
import type { VlmConfig } from './config';

/** Checks token ids up front: plain errors instead of a silent gather of garbage. */
export function checkIds(what: string, rows: number[][], vocabSize: number, allowEmpty: boolean): void {
  if (!Array.isArray(rows)) throw new Error(`Expected ${what} to be an array of token-id arrays, but got ${typeof rows}`);
  rows.forEach((row, b) => {
    if (!Array.isArray(row)) throw new Error(`Expected ${what}[${b}] to be an array of token ids, but got ${typeof row}`);
    if (!allowEmpty && row.length === 0) throw new Error(`Expected ${what}[${b}] to hold at least one token (the end token), but got none`);
    for (const id of row) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(`Expected ${what}[${b}] to hold token ids in [0, ${vocabSize}), but got ${id}`);
      }
    }
  });
}

export interface FullLayout {
  B: number;
  /** Slots per row: 1 + N + max(prompt + answer). */
  T: number;
  /** Text part (prompt + answer), right-padded with the pad id: [B][T - 1 - N]. */
  textIds: number[][];
  valid: boolean[][];
  positions: number[][];
  /** Flat indices into hidden [B*T] of the slot predicting each answer token, row by row. */
  gatherIndex: number[];
  /** The answer tokens themselves, same order. */
  targets: number[];
  /** Which row each gathered token belongs to. */
  rowOf: number[];
}

/** Layout of one forward over [bos] + image + prompt + answer, right-padded. */
export function fullLayout(c: VlmConfig, numImage: number, promptIds: number[][], answerIds: number[][]): FullLayout {
  const B = promptIds.length;
  const lens = promptIds.map((p, b) => p.length + answerIds[b].length);
  const Lt = Math.max(...lens);
  const T = 1 + numImage + Lt;
  if (T > c.text.maxPositionEmbeddings) {
    throw new Error(`Expected sequences of at most ${c.text.maxPositionEmbeddings} positions, but got ${T} (1 + ${numImage} image + ${Lt} text)`);
  }
  const out: FullLayout = { B, T, textIds: [], valid: [], positions: [], gatherIndex: [], targets: [], rowOf: [] };
  for (let b = 0; b < B; b++) {
    const text = [...promptIds[b], ...answerIds[b]];
    while (text.length < Lt) text.push(c.tokens.pad);
    out.textIds.push(text);
    const realLen = 1 + numImage + lens[b];
    out.valid.push(Array.from({ length: T }, (_, t) => t < realLen));
    out.positions.push(Array.from({ length: T }, (_, t) => t));
    const start = 1 + numImage + promptIds[b].length; // slot of the first answer token
    answerIds[b].forEach((tok, j) => {
      out.gatherIndex.push(b * T + start + j - 1);
      out.targets.push(tok);
      out.rowOf.push(b);
    });
  }
  return out;
}

export interface PrefixLayout {
  B: number;
  /** Prefix slots: 1 + N + max prompt. */
  T1: number;
  promptPadded: number[][];
  prefixValid: boolean[][];
  prefixPositions: number[][];
  /** Real prefix length per row (1 + N + prompt). */
  prefixLen: number[];
  /** Continuation chunk: K*B rows (set k, row b at k*B + b), Ta slots. */
  Ta: number;
  answerPadded: number[][];
  answerValid: boolean[][];
  answerPositions: number[][];
  /** Flat indices into concat(prefix hidden [B*T1], answer hidden [K*B*Ta]). */
  gatherIndex: number[];
  targets: number[];
  rowOf: number[];
}

/**
 * Layout for one shared prefix ([bos] + image + prompt, computed once) followed by K answer
 * sets of B answers each, attended against the prefix's key/value cache.
 */
export function prefixLayout(c: VlmConfig, numImage: number, promptIds: number[][], answers: number[][][]): PrefixLayout {
  const B = promptIds.length;
  const K = answers.length;
  const Lp = Math.max(...promptIds.map((p) => p.length));
  const T1 = 1 + numImage + Lp;
  const Ta = Math.max(...answers.flatMap((set) => set.map((a) => a.length)));
  if (T1 + Ta > c.text.maxPositionEmbeddings) {
    throw new Error(`Expected sequences of at most ${c.text.maxPositionEmbeddings} positions, but got ${T1 + Ta}`);
  }
  const prefixLen = promptIds.map((p) => 1 + numImage + p.length);
  const out: PrefixLayout = {
    B, T1, Ta, prefixLen,
    promptPadded: promptIds.map((p) => [...p, ...Array<number>(Lp - p.length).fill(c.tokens.pad)]),
    prefixValid: prefixLen.map((n) => Array.from({ length: T1 }, (_, t) => t < n)),
    prefixPositions: prefixLen.map(() => Array.from({ length: T1 }, (_, t) => t)),
    answerPadded: [], answerValid: [], answerPositions: [], gatherIndex: [], targets: [], rowOf: [],
  };
  for (let k = 0; k < K; k++) {
    for (let b = 0; b < B; b++) {
      const r = k * B + b;
      const a = answers[k][b];
      out.answerPadded.push([...a, ...Array<number>(Ta - a.length).fill(c.tokens.pad)]);
      out.answerValid.push(Array.from({ length: Ta }, (_, j) => j < a.length));
      out.answerPositions.push(Array.from({ length: Ta }, (_, j) => prefixLen[b] + j));
      a.forEach((tok, j) => {
        // The first answer token is predicted by the prefix's last real slot.
        out.gatherIndex.push(j === 0 ? b * T1 + prefixLen[b] - 1 : B * T1 + r * Ta + j - 1);
        out.targets.push(tok);
        out.rowOf.push(r);
      });
    }
  }
  return out;
}
