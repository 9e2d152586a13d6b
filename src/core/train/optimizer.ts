/**
 * AdamW with decoupled weight decay (Loshchilov & Hutter), step for step as PyTorch's
 * torch.optim.AdamW computes it:
 *
 *   θ ← θ (1 - lr λ)                         decay, applied to decayed parameters only
 *   m ← β1 m + (1 - β1) g
 *   v ← β2 v + (1 - β2) g²
 *   θ ← θ - lr / (1 - β1^t) · m / (sqrt(v) / sqrt(1 - β2^t) + ε)
 *
 * Defaults from docs/objective.md: λ = 0.05, β1 = 0.9, β2 = 0.98, ε = 1e-8. As the HF Trainer does,
 * biases and norm weights (rank < 2) are not decayed. The state (m, v, t) leaves as typed
 * arrays for checkpoints and comes back exactly.
 */
import * as tf from '@tensorflow/tfjs-core';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: AdamWConfig = { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05 };

/** The optimizer's state as plain data, in the order of the variables it was built with. */
export interface AdamWState {
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

export class AdamW {
  /** Number of updates applied so far (t in the formulas). */
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private readonly decay: boolean[];

  constructor(
    readonly variables: tf.Variable[],
    readonly config: AdamWConfig = DEFAULT_ADAMW,
    /** Which variables get weight decay; default: every matrix (rank >= 2). */
    decay?: (v: tf.Variable) => boolean,
  ) {
    const { beta1, beta2, eps, weightDecay } = config;
    if (!(beta1 >= 0 && beta1 < 1)) throw new Error(`Expected beta1 to be in [0, 1), but got ${beta1}`);
    if (!(beta2 >= 0 && beta2 < 1)) throw new Error(`Expected beta2 to be in [0, 1), but got ${beta2}`);
    if (!(eps > 0)) throw new Error(`Expected eps to be positive, but got ${eps}`);
    if (!(weightDecay >= 0)) throw new Error(`Expected weightDecay to be >= 0, but got ${weightDecay}`);
    this.m = variables.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = variables.map((p) => tf.variable(tf.zerosLike(p), false));
    this.decay = variables.map(decay ?? ((p) => p.rank >= 2));
  }

  /** One update. grads[i] belongs to variables[i]; the caller keeps ownership of grads. */
  apply(grads: tf.Tensor[], lr: number): void {
    if (grads.length !== this.variables.length) {
      throw new Error(`Expected ${this.variables.length} gradients, but got ${grads.length}`);
    }
    const { beta1, beta2, eps, weightDecay } = this.config;
    this.step += 1;
    const t = this.step;
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    tf.tidy(() => {
      this.variables.forEach((p, i) => {
        const g = grads[i];
        const m = tf.add(tf.mul(this.m[i], beta1), tf.mul(g, 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        this.m[i].assign(m);
        this.v[i].assign(v);
        const decayed = this.decay[i] && weightDecay !== 0 ? tf.mul(p, 1 - lr * weightDecay) : p;
        const denom = tf.add(tf.div(tf.sqrt(v), bc2Sqrt), eps);
        p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), stepSize)));
      });
    });
  }

  /** Copies of m and v (asynchronous reads: no stall on GPU backends). */
  async exportState(): Promise<AdamWState> {
    const read = (ts: tf.Variable[]) => Promise.all(ts.map(async (t) => (await t.data() as Float32Array).slice()));
    return { step: this.step, m: await read(this.m), v: await read(this.v) };
  }

  importState(state: AdamWState): void {
    const check = (arrays: Float32Array[], what: string) => {
      if (arrays.length !== this.variables.length) {
        throw new Error(`Optimizer state has ${arrays.length} ${what} tensors, but the model has ${this.variables.length} trainable variables`);
      }
      arrays.forEach((a, i) => {
        if (a.length !== this.variables[i].size) {
          throw new Error(`Optimizer state ${what}[${i}] has ${a.length} values, but ${this.variables[i].name} has ${this.variables[i].size}`);
        }
      });
    };
    check(state.m, 'm');
    check(state.v, 'v');
    this.step = state.step;
    tf.tidy(() => {
      this.m.forEach((t, i) => t.assign(tf.tensor(state.m[i], t.shape, 'float32')));
      this.v.forEach((t, i) => t.assign(tf.tensor(state.v[i], t.shape, 'float32')));
    });
  }

  dispose(): void {
    tf.dispose([...this.m, ...this.v]);
  }
}
