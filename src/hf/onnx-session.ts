// A causal-LM ONNX file run with onnxruntime-node (CPU), and batched generation on it.
// Inputs it understands (names of the Optimum / transformers.js decoder exports):
//   input_ids [batch, seq], attention_mask [batch, total_seq], position_ids [batch, seq] (optional),
//   past_key_values.{i}.key/value [batch, kv_heads, past, head_dim] (optional, the KV cache),
//   use_cache_branch [1] (merged decoders, optional);  outputs logits [batch, seq, vocab] and
//   present.{i}.key/value.
// With past inputs each step feeds only the new token and the previous step's `present` tensors;
// without them each step recomputes the whole sequence (slow but correct).
// Batches are left-padded (attention_mask 0, positions cumsum(mask) - 1 as in HF generate); the
// decode loop (sampling, stopping, dropping finished rows) is the native path's
// (src/generate/decode-loop.ts), so the same logits give the same tokens as the native backend.
import { existsSync } from "node:fs";
import * as ort from "onnxruntime-node";
import { decodeLoop } from "../generate/decode-loop.ts";
import type { GenerateOptions, GenerateResult } from "../generate/generate.ts";

const PAST = /^past_key_values\.(\d+)\.(key|value)$/;

interface InputInfo {
  name: string;
  type: string;
  shape: (number | string)[];
}

/** Open `path` with onnxruntime; errors name the file. */
export async function openSession(path: string): Promise<ort.InferenceSession> {
  if (!existsSync(path)) throw new Error(`${path}: no such ONNX file`);
  try {
    return await ort.InferenceSession.create(path, { graphOptimizationLevel: "all" });
  } catch (e) {
    throw new Error(`${path}: onnxruntime cannot load it as an ONNX model (${(e as Error).message})`);
  }
}

export class OnnxDecoder {
  /** past input name -> present output name. */
  readonly pastToPresent = new Map<string, string>();
  private readonly info = new Map<string, InputInfo>();

  /**
   * `kv` gives kv_heads/head_dim for the empty first-step past when the file's shapes are symbolic
   * (config.json's num_key_value_heads and head_dim).
   */
  constructor(
    readonly path: string,
    private session: ort.InferenceSession | null,
    private readonly kv: { heads: number; headDim: number } | null,
  ) {
    const s = session!;
    for (const m of s.inputMetadata as unknown as InputInfo[]) this.info.set(m.name, m);
    for (const need of ["input_ids"])
      if (!this.info.has(need))
        throw new Error(`${path}: the graph has no '${need}' input (inputs: ${s.inputNames.join(", ")})`);
    if (!s.outputNames.includes("logits"))
      throw new Error(`${path}: the graph has no 'logits' output (outputs: ${s.outputNames.join(", ")})`);
    const known = new Set(["input_ids", "attention_mask", "position_ids", "use_cache_branch"]);
    for (const name of s.inputNames) {
      const m = PAST.exec(name);
      if (m) {
        const out = `present.${m[1]}.${m[2]}`;
        if (!s.outputNames.includes(out))
          throw new Error(`${path}: input ${name} has no matching output ${out}`);
        const t = this.info.get(name)!.type;
        if (t !== "float32")
          throw new Error(
            `${path}: ${name} is ${t}; only float32 KV caches are supported (use a float32 model.onnx)`,
          );
        this.pastToPresent.set(name, out);
      } else if (!known.has(name))
        throw new Error(`${path}: input '${name}' is not one r1lab knows how to feed`);
    }
  }

  static async open(path: string, kv: { heads: number; headDim: number } | null): Promise<OnnxDecoder> {
    return new OnnxDecoder(path, await openSession(path), kv);
  }

  get hasPast(): boolean {
    return this.pastToPresent.size > 0;
  }

  /** An integer tensor of the type the graph declares for `name` (int64 or int32). */
  private ints(name: string, values: number[], dims: number[]): ort.Tensor {
    const t = this.info.get(name)?.type ?? "int64";
    if (t === "int32") return new ort.Tensor("int32", Int32Array.from(values), dims);
    return new ort.Tensor(
      "int64",
      BigInt64Array.from(values, (v) => BigInt(v)),
      dims,
    );
  }

  /** An empty (zero-length) past tensor for `rows` rows. */
  private emptyPast(name: string, rows: number): ort.Tensor {
    const shape = this.info.get(name)!.shape;
    const heads = typeof shape[1] === "number" ? shape[1] : this.kv?.heads;
    const hd = typeof shape[3] === "number" ? shape[3] : this.kv?.headDim;
    if (heads === undefined || hd === undefined)
      throw new Error(
        `${this.path}: ${name} has symbolic kv heads/head_dim and config.json does not give them`,
      );
    return new ort.Tensor("float32", new Float32Array(0), [rows, heads, 0, hd]);
  }

  /**
   * One forward call. ids: [R][Tin] new tokens; masks: [R][S] (S = past + Tin); positions: [R][Tin].
   * Returns the logits at the last position of each row ([R * V]) and the new past.
   */
  async step(
    ids: number[][],
    masks: number[][],
    positions: number[][],
    past: Map<string, ort.Tensor> | null,
  ): Promise<{ logits: Float32Array; vocab: number; past: Map<string, ort.Tensor> }> {
    if (!this.session) throw new Error(`${this.path}: session used after close()`);
    const R = ids.length;
    const Tin = ids[0].length;
    const feeds: Record<string, ort.Tensor> = { input_ids: this.ints("input_ids", ids.flat(), [R, Tin]) };
    if (this.info.has("attention_mask"))
      feeds.attention_mask = this.ints("attention_mask", masks.flat(), [R, masks[0].length]);
    if (this.info.has("position_ids"))
      feeds.position_ids = this.ints("position_ids", positions.flat(), [R, Tin]);
    for (const name of this.pastToPresent.keys()) feeds[name] = past?.get(name) ?? this.emptyPast(name, R);
    if (this.info.has("use_cache_branch"))
      feeds.use_cache_branch = new ort.Tensor("bool", Uint8Array.of(past ? 1 : 0), [1]);
    const out = await this.session.run(feeds);
    const lg = out.logits;
    const [, T, V] = lg.dims;
    const all = lg.data as Float32Array;
    const logits = new Float32Array(R * V);
    for (let r = 0; r < R; r++) logits.set(all.subarray((r * T + T - 1) * V, (r * T + T) * V), r * V);
    const next = new Map<string, ort.Tensor>();
    for (const [pastName, presentName] of this.pastToPresent) next.set(pastName, out[presentName]);
    return { logits, vocab: V, past: next };
  }

  /** Batched generation (see the file header): the shared decode loop over this file's steps. */
  async generate(prompts: number[][], o: GenerateOptions): Promise<GenerateResult> {
    const P = Math.max(...prompts.map((x) => x.length));
    if (P === 0) throw new Error("onnx generate: every prompt needs at least one token");
    const pad = o.padTokenId ?? 0;
    const padOf = prompts.map((x) => P - x.length);
    const seqs = prompts.map((x, i) => [...Array(padOf[i]).fill(pad), ...x]);
    let past: Map<string, ort.Tensor> | null = null;
    let vocab = 0;
    // One call on `feed` ([rows][Tin]) with S tokens so far in each row, this call's included.
    const run = async (rows: number[], feed: number[][], S: number): Promise<Float32Array> => {
      const Tin = feed[0].length;
      const masks = rows.map((i) => Array.from({ length: S }, (_, s) => (s >= padOf[i] ? 1 : 0)));
      const positions = rows.map((i) =>
        Array.from({ length: Tin }, (_, j) => Math.max(0, S - Tin + j - padOf[i])),
      );
      const r = await this.step(feed, masks, positions, this.hasPast ? past : null);
      past = r.past;
      vocab = r.vocab;
      return r.logits;
    };
    const first = await run(
      prompts.map((_, i) => i),
      seqs.map((s) => s.slice()),
      P,
    );
    return decodeLoop(prompts.length, o, {
      vocab,
      prefill: async () => first,
      next: (tokens, keep, before, rows, t) => {
        for (const [j, row] of before.entries()) seqs[row].push(tokens[j]);
        if (keep && this.hasPast) past = takeRows(past!, keep);
        const feed = this.hasPast
          ? rows.map((row) => [seqs[row][seqs[row].length - 1]])
          : rows.map((row) => seqs[row].slice());
        return run(rows, feed, P + t + 1);
      },
      done: () => {},
    });
  }

  async close(): Promise<void> {
    await this.session?.release();
    this.session = null;
  }
}

/** The given batch rows of each [batch, ...] float32 tensor. */
function takeRows(past: Map<string, ort.Tensor>, keep: number[]): Map<string, ort.Tensor> {
  const out = new Map<string, ort.Tensor>();
  for (const [name, t] of past) {
    const per = t.dims.slice(1).reduce((a, b) => a * b, 1);
    const src = t.data as Float32Array;
    const dst = new Float32Array(keep.length * per);
    for (const [r, j] of keep.entries()) dst.set(src.subarray(j * per, (j + 1) * per), r * per);
    out.set(name, new ort.Tensor("float32", dst, [keep.length, ...t.dims.slice(1)]));
  }
  return out;
}
