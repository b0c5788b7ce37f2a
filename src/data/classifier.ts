// A fastText-style linear text classifier for data quality (DeepSeekMath's corpus filter): a text
// is the mean of its features' embeddings (features.ts), and its score is
//   p(good | text) = sigmoid( W . mean_f E[f] + b )          E: [buckets, dim], W: [dim], b: [1]
// trained with binary cross-entropy. Training runs in r1lab's engine with AdamW, lazily: a batch
// touches a few thousand of the table's rows, so each step gathers those rows (and their AdamW
// moments) from the host table, runs one jitted value-and-grad + AdamW update on them, and writes
// them back (TensorFlow's LazyAdam). Features enter the engine as a [batch, rows] matrix of
// feature counts / text length, so the forward pass is a matmul and needs no gather (whose
// gradient, a scatter, does not jit). Scoring needs no engine: with s[f] = E[f] . W, a text's
// logit is the mean of s over its features plus b.
import {
  AdamW,
  type AdamWState,
  disposeParams,
  fromHost,
  ops as o,
  type Params,
  refParams,
  tidy,
  toHost,
} from "../engine/index.ts";
import { compile } from "../engine/compile.ts";
import { valueAndGrad } from "../engine/jax.ts";
import { TaskRng } from "../engine/rng.ts";
import type { FeatureConfig } from "./features.ts";

export interface ClassifierConfig {
  features: FeatureConfig;
  /** Embedding width (fastText supervised: 10 to 100). */
  dim: number;
}

export interface TrainConfig {
  epochs: number;
  /** Peak learning rate, decayed linearly to 0 as fastText does. */
  lr: number;
  batchSize: number;
  seed: number;
}

export interface Classifier {
  config: ClassifierConfig;
  /** [buckets, dim], row-major. */
  E: Float32Array;
  W: Float32Array;
  b: number;
}

export interface Example {
  features: Int32Array;
  /** 1 = positive (good), 0 = negative. */
  label: number;
}

/** Per-bucket logit contributions s[f] = E[f] . W (what scoring needs). */
export function bucketScores(c: Classifier): Float32Array {
  const { dim } = c.config;
  const s = new Float32Array(c.config.features.buckets);
  for (let f = 0; f < s.length; f++) {
    let acc = 0;
    for (let k = 0; k < dim; k++) acc += c.E[f * dim + k] * c.W[k];
    s[f] = acc;
  }
  return s;
}

/** p(good) for a text's features, given bucketScores. An empty text scores sigmoid(b). */
export function scoreFeatures(features: Int32Array, s: Float32Array, b: number): number {
  let z = 0;
  for (let i = 0; i < features.length; i++) z += s[features[i]];
  z = features.length ? z / features.length + b : b;
  return 1 / (1 + Math.exp(-z));
}

/**
 * Binary cross-entropy of logits z = C E W + b against labels y, weighted by w (1/real rows for the
 * batch's texts, 0 for the padding rows of a short last batch). C: [B, U], E: [U, dim], y, w: [B].
 */
function loss(p: Params, C: o.Arr, y: o.Arr, w: o.Arr): o.Arr {
  return tidy(() => {
    const h = o.matmul(C, p.E); // [B, dim]
    const z = o.add(o.reshape(o.matmul(h, p.W), [-1]), p.b); // [B]
    // softplus(z) - y z, computed stably.
    const softplus = o.add(o.maximum(z, 0), o.log(o.add(1, o.exp(o.neg(o.abs(z))))));
    return o.sum(o.mul(w, o.sub(softplus, o.mul(y, z))));
  });
}

const pow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(16, n)));

/**
 * Train on `examples`. `onStep` is called after each step with the mean loss so far in the epoch.
 * The engine must be started (initEngine) first.
 */
export async function trainClassifier(
  examples: Example[],
  config: ClassifierConfig,
  t: TrainConfig,
  onStep?: (step: number, steps: number, loss: number) => void,
): Promise<Classifier> {
  const { dim } = config;
  const { buckets } = config.features;
  const rng = new TaskRng(t.seed);
  const E = new Float32Array(buckets * dim).map(() => (rng.next() * 2 - 1) / dim); // fastText's init
  const mE = new Float32Array(buckets * dim);
  const vE = new Float32Array(buckets * dim);
  const small = { W: new Float32Array(dim), b: new Float32Array(1) };
  const smallM = { W: new Float32Array(dim), b: new Float32Array(1) };
  const smallV = { W: new Float32Array(dim), b: new Float32Array(1) };
  const opt = new AdamW({ weightDecay: 0, maxGradNorm: 0, beta2: 0.999 });
  const step = compile(valueAndGrad(loss) as any, { name: "classifier step" });
  const perEpoch = Math.ceil(examples.length / t.batchSize);
  const steps = perEpoch * t.epochs;
  const order = examples.map((_, i) => i);
  let done = 0;
  for (let epoch = 0; epoch < t.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [order[i], order[j]] = [order[j], order[i]];
    }
    let sum = 0;
    for (let s = 0; s < perEpoch; s++) {
      const batch = order.slice(s * t.batchSize, (s + 1) * t.batchSize).map((i) => examples[i]);
      // The batch's distinct buckets, and each text's feature counts over them (divided by its length).
      const local = new Map<number, number>();
      for (const ex of batch) for (const f of ex.features) if (!local.has(f)) local.set(f, local.size);
      const U = pow2(local.size);
      const B = t.batchSize;
      const C = new Float32Array(B * U);
      const y = new Float32Array(B);
      const w = new Float32Array(B);
      batch.forEach((ex, r) => {
        for (const f of ex.features) C[r * U + local.get(f)!] += 1 / ex.features.length;
        y[r] = ex.label;
        w[r] = 1 / batch.length;
      });
      const rows = [...local.keys()];
      const gather = (src: Float32Array) => {
        const out = new Float32Array(U * dim);
        for (const [k, f] of rows.entries()) out.set(src.subarray(f * dim, (f + 1) * dim), k * dim);
        return out;
      };
      const params: Params = {
        E: fromHost(gather(E), [U, dim]),
        W: fromHost(small.W, [dim, 1]),
        b: fromHost(small.b, [1]),
      };
      const state: AdamWState = {
        m: { E: fromHost(gather(mE), [U, dim]), W: fromHost(smallM.W, [dim, 1]), b: fromHost(smallM.b, [1]) },
        v: { E: fromHost(gather(vE), [U, dim]), W: fromHost(smallV.W, [dim, 1]), b: fromHost(smallV.b, [1]) },
        step: done,
      };
      const [lossArr, grads] = step(
        refParams(params),
        fromHost(C, [B, U]),
        fromHost(y, [B]),
        fromHost(w, [B]),
      ) as unknown as [o.Arr, Params];
      const lr = t.lr * (1 - done / steps);
      const upd = opt.update(params, grads, state, lr);
      const l = (await toHost(lossArr))[0];
      lossArr.dispose();
      upd.gradNorm.dispose();
      const [nE, nmE, nvE] = await Promise.all([
        toHost(upd.params.E),
        toHost(upd.state.m.E),
        toHost(upd.state.v.E),
      ]);
      rows.forEach((f, k) => {
        E.set(nE.subarray(k * dim, (k + 1) * dim), f * dim);
        mE.set(nmE.subarray(k * dim, (k + 1) * dim), f * dim);
        vE.set(nvE.subarray(k * dim, (k + 1) * dim), f * dim);
      });
      for (const [dst, tree] of [
        [small, upd.params],
        [smallM, upd.state.m],
        [smallV, upd.state.v],
      ] as const) {
        dst.W.set(await toHost(tree.W));
        dst.b.set(await toHost(tree.b));
      }
      disposeParams(upd.params);
      disposeParams(upd.state.m);
      disposeParams(upd.state.v);
      done++;
      sum += l;
      onStep?.(done, steps, sum / (s + 1));
    }
  }
  return { config, E, W: small.W, b: small.b[0] };
}
