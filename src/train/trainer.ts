// One training step, shared by pretraining, SFT and GRPO: a jitted value-and-gradient of a loss
// over the trainable parameters (the routing biases ride along as non-trained buffers), an AdamW
// update at the scheduled learning rate, and DeepSeek-V3's auxiliary-loss-free bias update from the
// step's expert loads. Gradient accumulation: accumulate() adds a micro-batch's gradients,
// applyAccumulated() takes one optimizer step on their sum (the loss scales each micro-batch).
import { compile } from "../engine/compile.ts";
import { currentExecutor, currentOrtDevice } from "../engine/executor.ts";
import { valueAndGrad } from "../engine/jax.ts";
import { AdamW, type AdamWConfig, type AdamWState } from "../engine/optim.ts";
import * as o from "../engine/ops.ts";
import { type Params, disposeParams, fromHost, refParams, scalar, toHost } from "../engine/params.ts";
import { residentZeros } from "../engine/resident.ts";
import { type ModelConfig, isMoeLayer } from "../model/config.ts";
import { isBuffer } from "../model/init.ts";
import { loadImbalance, updateRouterBias } from "../model/moe.ts";

/** Split a full parameter tree into gradient-trained tensors and buffers. */
export function splitParams(all: Params): { trainable: Params; buffers: Params } {
  const trainable: Params = {};
  const buffers: Params = {};
  for (const [k, v] of Object.entries(all)) (isBuffer(k) ? buffers : trainable)[k] = v;
  return { trainable, buffers };
}

/** Bias tensor names in the order forward() reports MoE loads (main layers, then MTP layers). */
export function biasKeys(c: ModelConfig, withMtp: boolean): string[] {
  const keys: string[] = [];
  const n = c.numHiddenLayers + (withMtp ? c.numNextnPredictLayers : 0);
  for (let i = 0; i < n; i++)
    if (isMoeLayer(c, i)) keys.push(`model.layers.${i}.mlp.gate.e_score_correction_bias`);
  return keys;
}

/** A loss over (trainable, buffers, batch): the scalar to minimise and named aux values (scalars, or `loads`: per-layer expert loads). */
export type LossFn<B> = (
  trainable: Params,
  buffers: Params,
  batch: B,
) => [o.Arr, Record<string, o.Arr | o.Arr[]>];

export interface TrainerOptions<B> {
  model: ModelConfig;
  /** The full parameter tree (trainable tensors and buffers), taken over by the trainer. */
  params: Params;
  loss: LossFn<B>;
  /** AdamW settings (engine/optim.ts defaults for what is left out). */
  optimizer?: Partial<AdamWConfig>;
  /** AdamW moments to resume from; fresh ones when left out. */
  optState?: AdamWState;
  /** DeepSeek-V3's auxiliary-loss-free bias update speed gamma (0 = off). */
  biasUpdateGamma?: number;
  /** Whether the loss runs the MTP modules (their MoE loads follow the main layers'). */
  withMtp?: boolean;
  /** Tensors the loss reads but never trains (a LoRA run's base weights), kept with the buffers. */
  frozen?: Params;
}

export class Trainer<B> {
  readonly config: ModelConfig;
  readonly biasGamma: number;
  readonly withMtp: boolean;
  trainable: Params;
  buffers: Params;
  opt: AdamW;
  optState: AdamWState;
  private step: (t: Params, b: Params, batch: B) => [[o.Arr, Record<string, o.Arr | o.Arr[]>], Params];
  /**
   * pending + grads, compiled: on the CPU written into pending's buffers (donation), on WebGPU kept
   * on the device.
   */
  private addGrads = compile((a: Params, b: Params) => [addTrees(a, b)], {
    name: "gradient sum",
    donate: [0],
    deviceOutputs: [0],
  }) as unknown as (a: Params, b: Params) => [Params];

  constructor(opts: TrainerOptions<B>) {
    this.config = opts.model;
    this.biasGamma = opts.biasUpdateGamma ?? 0;
    this.withMtp = opts.withMtp ?? true;
    const { trainable, buffers } = splitParams(opts.params);
    this.trainable = trainable;
    this.buffers = { ...opts.frozen, ...buffers };
    this.opt = new AdamW(opts.optimizer ?? {});
    this.optState = opts.optState ?? this.opt.init(trainable);
    const vg = valueAndGrad(opts.loss, { hasAux: true }) as any;
    this.recycle = currentExecutor() === "ort" && currentOrtDevice() === "cpu";
    // On the CPU the step also takes the last step's spent gradient buffers, unread, and writes the
    // new gradients into them (donation): no fresh gradient-sized allocation per step (2 GB at 0.5B
    // parameters, first-touched page by page) and no dead copy waiting for the garbage collector.
    this.step = compile(
      this.recycle ? (t: Params, b: Params, batch: B, _spare: Params) => vg(t, b, batch) : vg,
      {
        name: "train step",
        donate: this.recycle ? [3] : [],
        deviceOutputs: [1], // on WebGPU the gradients stay on the device for the update
      },
    ) as unknown as typeof this.step;
  }

  /** Whether the step writes its gradients into spent gradient buffers (ort on the CPU). */
  private readonly recycle: boolean;
  /** Gradient buffers no one holds any more (the last update's), reused by the next step. */
  private spare: Params | null = null;

  /** The step on a batch; with recycling, over the spare gradient buffers (zeros the first time). */
  private runStep(batch: B): [[o.Arr, Record<string, o.Arr | o.Arr[]>], Params] {
    if (!this.recycle) return this.step(refParams(this.trainable), refParams(this.buffers), batch);
    const spare =
      this.spare ??
      Object.fromEntries(
        Object.entries(this.trainable).map(([k, a]) => [k, residentZeros([...a.shape], a.dtype)]),
      );
    this.spare = null;
    return (this.step as any)(refParams(this.trainable), refParams(this.buffers), batch, spare);
  }

  get params(): Params {
    return { ...this.trainable, ...this.buffers };
  }

  private pending: Params | null = null;

  /** Add one micro-batch's gradients to the pending sum (consumes `batch`); returns its loss and aux values. */
  async accumulate(batch: B): Promise<Record<string, number>> {
    const [[loss, aux], grads] = this.runStep(batch);
    if (this.pending) {
      this.pending = this.addGrads(this.pending, grads)[0];
      if (this.recycle) this.spare = grads; // added into pending's buffers: spent
    } else this.pending = grads;
    const out: Record<string, number> = { loss: (await loss.data())[0] };
    await this.readAux(aux, out);
    return out;
  }

  /** One optimizer step on the accumulated gradients; returns the gradient norm before clipping. */
  async applyAccumulated(lr: number): Promise<number> {
    if (!this.pending) throw new Error("Trainer.applyAccumulated: no gradients were accumulated");
    const res = this.opt.update(this.trainable, this.pending, this.optState, lr);
    if (this.recycle) this.spare = this.pending;
    this.pending = null;
    this.trainable = res.params;
    this.optState = res.state;
    return (await res.gradNorm.data())[0];
  }

  /** One update (consumes `batch`); returns the loss, the scalar aux values, grad norm and expert-load imbalance. */
  async update(batch: B, lr: number): Promise<Record<string, number>> {
    const [[loss, aux], grads] = this.runStep(batch);
    const res = this.opt.update(this.trainable, grads, this.optState, lr);
    if (this.recycle) this.spare = grads; // read by the update, held by no one now
    this.trainable = res.params;
    this.optState = res.state;
    const out: Record<string, number> = {
      loss: (await loss.data())[0],
      grad_norm: (await res.gradNorm.data())[0],
    };
    await this.readAux(aux, out);
    return out;
  }

  /** Scalar aux values into `out`; MoE loads into expert_imbalance and the routing-bias update. */
  private async readAux(aux: Record<string, o.Arr | o.Arr[]>, out: Record<string, number>): Promise<void> {
    const loads = (aux.loads ?? []) as o.Arr[];
    for (const [k, v] of Object.entries(aux)) if (k !== "loads") out[k] = await scalar(v as o.Arr);
    if (loads.length > 0) {
      const keys = biasKeys(this.config, this.withMtp).slice(0, loads.length);
      let imb = 0;
      for (let i = 0; i < loads.length; i++) {
        const load = await toHost(loads[i]);
        imb += loadImbalance(load);
        if (this.biasGamma > 0 && this.buffers[keys[i]]) {
          const bias = (await toHost(this.buffers[keys[i]])) as Float32Array;
          this.buffers[keys[i]].dispose();
          this.buffers[keys[i]] = fromHost(updateRouterBias(bias, load, this.biasGamma), [bias.length]);
        }
      }
      out.expert_imbalance = imb / loads.length;
    }
    disposeParams(aux);
  }
}

function addTrees(a: Params, b: Params): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) out[k] = o.add(a[k], b[k]);
  return out;
}
