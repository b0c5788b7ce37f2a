// Continuous batching for the server: many sequences decode together, and sequences join and leave
// the running batch between steps (vLLM's scheduler in miniature, without paging).
//
// The batch is a set of rows; each row holds one sequence and its own KV cache slots 0..len-1 (slot
// = position, so rows of different lengths need no padding). One decode step feeds every row its
// last sampled token at its own slot (a [B, 1, Tcap] placement, kv-cache.ts) and samples the next.
// A new request is prefilled alone (its prompt right-padded to a power-of-two bucket, the padding
// masked) into a one-row cache, which is then copied into its n free rows. The batch capacity Bcap
// and the time capacity Tcap grow by doubling (Bcap up to --max-batch, Tcap up to the model's
// positions) and the batch is compacted when at most half of it is used, so every jitted function
// sees a few shapes and each compiles once. On onnxruntime's WebGPU EP the KV cache stays on the
// device between steps and the weights are uploaded once per busy period (while any row or request
// is in the engine); growing or compacting the cache (rare) reads it back and runs eagerly.
// Requests wait in a bounded FIFO queue until n rows are free; a full queue refuses new work
// (QueueFullError: HTTP 429). An aborted request (client gone) leaves at the next step.
import { compile } from "../engine/compile.ts";
import * as o from "../engine/ops.ts";
import { onWebGpu, residentCopy } from "../engine/ort/resident.ts";
import { type Params, disposeParams, refParams } from "../engine/params.ts";
import { Rng } from "../engine/rng.ts";
import { tidy } from "../engine/scope.ts";
import { type SamplingParams, sampleToken } from "../generate/sampling.ts";
import type { ModelConfig } from "../model/config.ts";
import { attnInputs } from "../model/inputs.ts";
import { emptyCache, type LayerCache } from "../model/kv-cache.ts";
import { forward } from "../model/transformer.ts";
import { topLogprobs, type TokenLogprob } from "./logprobs.ts";

/** One sampled completion of a request. */
export interface SeqSpec {
  sampling: SamplingParams;
  /** Seed and stream name of this sample's Rng (Rng.stream(seed, `sample/${index}`), as generate()). */
  seed: number;
  index: number;
  /** Most new tokens (the prompt plus these fit in the model's positions). */
  maxNewTokens: number;
  /** null: no logprobs; k >= 0: the chosen token's logprob and the k most likely. */
  logprobs: number | null;
  /** Each new token; return true to end the sequence here (a stop string was hit). */
  onToken(id: number, lp: TokenLogprob | null): boolean;
  /** The sequence ended: EOS or onToken's stop ("stop"), its token limit ("length"), or "abort". */
  onFinish(reason: "stop" | "length" | "abort"): void;
}

export interface Job {
  prompt: number[];
  seqs: SeqSpec[];
  signal?: AbortSignal;
  /** The engine failed while this job ran (every sequence of it is then over). */
  onError(e: Error): void;
}

export class QueueFullError extends Error {}

interface Row {
  seq: SeqSpec;
  job: Job;
  rng: Rng;
  /** Tokens in this row's cache. */
  len: number;
  /** The last sampled token, fed at slot len by the next step. */
  last: number;
  made: number;
}

type Step = (
  p: Params,
  ids: o.Arr,
  io: any,
  cache: LayerCache[],
  place: o.Arr,
  at: o.Arr,
) => [o.Arr, LayerCache[]];

export interface EngineOptions {
  eosTokenIds: number[];
  padTokenId: number;
  /** Most rows decoded together. */
  maxBatch: number;
  /** Most requests waiting for rows. */
  maxQueue: number;
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

export class BatchEngine {
  private readonly waiting: Job[] = [];
  private rows: (Row | null)[] = [];
  private cache: LayerCache[] | null = null;
  /** The weights on the WebGPU device while the loop runs (null elsewhere: the host params are used). */
  private weights: Params | null = null;
  private tcap = 0;
  private running = false;
  private readonly step: Step;
  private readonly insert: (big: LayerCache[], small: LayerCache[], m: o.Arr) => LayerCache[];
  private readonly eos: Set<number>;
  /** Decode steps run and tokens made, for the server's stats. */
  readonly stats = { steps: 0, tokens: 0, prefills: 0, rowsPerStep: 0 };

  constructor(
    private readonly params: Params,
    readonly config: ModelConfig,
    private readonly opts: EngineOptions,
  ) {
    const c = config;
    this.eos = new Set(opts.eosTokenIds);
    this.step = compile(
      (pp: Params, ids: o.Arr, io: any, cache: LayerCache[], place: o.Arr, at: o.Arr) =>
        tidy(() => {
          const out = forward(pp, c, ids, io, { cache: { layers: cache, place } });
          return [o.take(out.logits, at, 1), out.cache!] as [o.Arr, LayerCache[]];
        }),
      { name: "serve step", deviceOutputs: [1] }, // on WebGPU the cache stays on the device
    ) as unknown as Step;
    this.insert = compile(
      (big: LayerCache[], small: LayerCache[], m: o.Arr) =>
        tidy(() =>
          big.map((layer, i) => {
            const out: LayerCache = {};
            for (const [k, a] of Object.entries(layer)) {
              const mk = o.reshape(m, [m.shape[0], ...Array(a.ndim - 1).fill(1)]);
              out[k] = o.add(o.mul(a, o.sub(1, mk)), o.mul(mk, small[i][k]));
            }
            return out;
          }),
        ),
      { name: "serve insert", deviceOutputs: [0] },
    ) as unknown as (big: LayerCache[], small: LayerCache[], m: o.Arr) => LayerCache[];
  }

  /** Sequences running now and requests waiting. */
  get load(): { running: number; waiting: number } {
    return { running: this.rows.filter((r) => r !== null).length, waiting: this.waiting.length };
  }

  get maxBatch(): number {
    return this.opts.maxBatch;
  }

  /** Whether k more requests fit in the queue now. */
  canQueue(k: number): boolean {
    return this.waiting.length + k <= this.opts.maxQueue;
  }

  /** Queue a request; throws QueueFullError when the queue is full. */
  submit(job: Job): void {
    if (job.seqs.length > this.opts.maxBatch)
      throw new Error(`n = ${job.seqs.length} is more than the server's --max-batch ${this.opts.maxBatch}`);
    if (this.waiting.length >= this.opts.maxQueue)
      throw new QueueFullError(`the server's queue is full (${this.opts.maxQueue} requests waiting)`);
    this.waiting.push(job);
    if (!this.running) {
      this.running = true;
      void this.loop();
    }
  }

  private async loop(): Promise<void> {
    try {
      if (onWebGpu()) this.weights = residentCopy(this.params);
      for (;;) {
        this.dropAborted();
        await this.admit();
        if (!this.rows.some((r) => r !== null)) {
          if (this.waiting.length === 0) break;
          continue;
        }
        await this.decode();
        await new Promise((res) => setImmediate(res)); // let requests in and out between steps
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const jobs = new Set([...this.rows.filter((r) => r !== null).map((r) => r!.job), ...this.waiting]);
      this.rows = this.rows.map(() => null);
      this.waiting.length = 0;
      for (const j of jobs) j.onError(err);
    } finally {
      this.freeCache();
      if (this.weights) disposeParams(this.weights);
      this.weights = null;
      this.running = false;
    }
  }

  private freeCache(): void {
    if (this.cache) for (const layer of this.cache) for (const a of Object.values(layer)) a.dispose();
    this.cache = null;
    this.rows = [];
    this.tcap = 0;
  }

  private dropAborted(): void {
    this.rows.forEach((r, i) => {
      if (r?.job.signal?.aborted) {
        this.rows[i] = null;
        r.seq.onFinish("abort");
      }
    });
    for (let i = this.waiting.length - 1; i >= 0; i--)
      if (this.waiting[i].signal?.aborted)
        for (const s of this.waiting.splice(i, 1)[0].seqs) s.onFinish("abort");
    const used = this.rows.filter((r) => r !== null).length;
    if (used === 0) this.freeCache();
    else if (used <= this.rows.length / 2 && this.waiting.length === 0) this.compact();
  }

  /** Keep only the used rows, in a batch of the next power of two. */
  private compact(): void {
    const keep = this.rows.flatMap((r, i) => (r ? [i] : []));
    const B = nextPow2(keep.length);
    const idx = [...keep, ...Array(B - keep.length).fill(keep[0])];
    this.replaceCache((a) => o.take(a, o.fromArray(idx, [B], "int32"), 0));
    this.rows = [...keep.map((i) => this.rows[i]), ...Array(B - keep.length).fill(null)];
  }

  private replaceCache(f: (a: o.Arr) => o.Arr): void {
    const old = this.cache!;
    this.cache = tidy(() =>
      old.map((layer) => Object.fromEntries(Object.entries(layer).map(([k, a]) => [k, f(a)]))),
    );
    for (const layer of old) for (const a of Object.values(layer)) a.dispose();
  }

  /** Make room for `rows` rows and `slots` cache slots. */
  private reserve(rows: number, slots: number): void {
    const B = Math.min(this.opts.maxBatch, nextPow2(rows));
    const T = Math.min(this.config.maxPositionEmbeddings, nextPow2(Math.max(slots, 16)));
    if (!this.cache) {
      this.cache = emptyCache(this.config, B, T);
      this.rows = Array(B).fill(null);
      this.tcap = T;
      return;
    }
    if (T > this.tcap) {
      const grow = T - this.tcap;
      this.replaceCache((a) => {
        const shape = [...a.shape];
        shape[a.ndim - 2] = grow;
        return o.concat([a, o.zeros(shape)], a.ndim - 2);
      });
      this.tcap = T;
    }
    if (B > this.rows.length) {
      const grow = B - this.rows.length;
      this.replaceCache((a) => o.concat([a, o.zeros([grow, ...a.shape.slice(1)])], 0));
      this.rows.push(...Array(grow).fill(null));
    }
  }

  /** Prefill waiting requests while rows are free (FIFO: a big request is not overtaken). */
  private async admit(): Promise<void> {
    while (this.waiting.length > 0) {
      const job = this.waiting[0];
      const used = this.rows.filter((r) => r !== null).length;
      if (used + job.seqs.length > this.opts.maxBatch) return;
      this.waiting.shift();
      await this.prefill(job, used);
    }
  }

  private async prefill(job: Job, used: number): Promise<void> {
    const c = this.config;
    const P = job.prompt.length;
    const Pb = Math.min(c.maxPositionEmbeddings, nextPow2(Math.max(P, 16)));
    this.reserve(used + job.seqs.length, Math.max(Pb, ...this.rows.map((r) => (r ? r.len + 1 : 0))));
    const T = this.tcap;
    const ids = [...job.prompt, ...Array(Pb - P).fill(this.opts.padTokenId)];
    const slots = Array.from({ length: Pb }, (_, t) => t);
    const io = attnInputs(c, {
      positions: [slots],
      qSlots: [slots],
      keyValid: [Array.from({ length: T }, (_, s) => s < P)],
    });
    const place = new Float32Array(Pb * T);
    for (let t = 0; t < Pb; t++) place[t * T + t] = 1;
    const [logits, small] = this.step(
      refParams(this.weights ?? this.params),
      o.fromArray(ids, [1, Pb], "int32"),
      io,
      emptyCache(c, 1, T),
      o.fromArray(place, [Pb, T]),
      o.fromArray([P - 1], [1], "int32"),
    );
    const host = (await logits.data()) as Float32Array;
    this.stats.prefills++;
    const free = this.rows.flatMap((r, i) => (r ? [] : [i])).slice(0, job.seqs.length);
    const mask = new Float32Array(this.rows.length);
    for (const i of free) mask[i] = 1;
    this.cache = this.insert(this.cache!, small, o.fromArray(mask, [this.rows.length]));
    job.seqs.forEach((seq, j) => {
      const row: Row = {
        seq,
        job,
        rng: Rng.stream(seq.seed, `sample/${seq.index}`),
        len: P,
        last: 0,
        made: 0,
      };
      this.rows[free[j]] = row;
      this.accept(free[j], row, host, 0);
    });
  }

  /** Sample a row's next token from its logits; finish it on EOS, a stop, or its limit. */
  private accept(i: number, row: Row, host: Float32Array, offset: number): void {
    const V = this.config.vocabSize;
    const tok = sampleToken(host, offset, V, row.seq.sampling, row.rng);
    const lp = row.seq.logprobs === null ? null : topLogprobs(host, offset, V, tok, row.seq.logprobs);
    row.last = tok;
    row.made++;
    this.stats.tokens++;
    const stop = row.seq.onToken(tok, lp) || this.eos.has(tok);
    const full = row.len + 1 >= this.config.maxPositionEmbeddings;
    if (stop || row.made >= row.seq.maxNewTokens || full) {
      this.rows[i] = null;
      row.seq.onFinish(stop ? "stop" : "length");
    }
  }

  private async decode(): Promise<void> {
    const c = this.config;
    this.reserve(this.rows.length, Math.max(...this.rows.map((r) => (r ? r.len + 1 : 0))));
    const B = this.rows.length;
    const T = this.tcap;
    const place = new Float32Array(B * T);
    const ids: number[] = [];
    this.rows.forEach((r, b) => {
      ids.push(r ? r.last : this.opts.padTokenId);
      if (r) place[b * T + r.len] = 1;
    });
    const io = attnInputs(c, {
      positions: this.rows.map((r) => [r ? r.len : 0]),
      qSlots: this.rows.map((r) => [r ? r.len : 0]),
      keyValid: this.rows.map((r) => Array.from({ length: T }, (_, s) => r !== null && s < r.len)),
    });
    const [logits, next] = this.step(
      refParams(this.weights ?? this.params),
      o.fromArray(ids, [B, 1], "int32"),
      io,
      this.cache!,
      o.fromArray(place, [B, 1, T]),
      o.fromArray([0], [1], "int32"),
    );
    this.cache = next;
    const host = (await logits.data()) as Float32Array;
    this.stats.steps++;
    this.stats.rowsPerStep += this.rows.filter((r) => r !== null).length;
    this.rows.forEach((r, b) => {
      if (!r) return;
      r.len++;
      this.accept(b, r, host, b * c.vocabSize);
    });
  }
}
