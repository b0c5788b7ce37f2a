// The server's continuous-batching engine (src/serve/batch-engine.ts): sequences of different
// lengths that join a running batch at different steps, and leave it early, must decode exactly
// the tokens that generate() gives each prompt alone (greedy), for GQA (tiny-qwen2) and MLA + MoE
// (tiny-deepseek-v3); seeded sampling must follow generate()'s per-row streams; a full queue and
// an aborted request must behave as the server needs.
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { initEngine } from "../src/engine/device.ts";
import { generate } from "../src/generate/generate.ts";
import { GREEDY, type SamplingParams } from "../src/generate/sampling.ts";
import { type LoadedModel, loadModel } from "../src/hf/checkpoint.ts";
import { BatchEngine, type Job, QueueFullError } from "../src/serve/batch-engine.ts";

const FIXTURES = join(import.meta.dirname, "fixtures/hf-reference");
const models: Record<string, LoadedModel> = {};

beforeAll(async () => {
  await initEngine({ device: "cpu" });
  for (const name of ["tiny-qwen2", "tiny-deepseek-v3"]) models[name] = await loadModel(join(FIXTURES, name));
});

interface Run {
  tokens: number[][];
  reasons: string[];
  done: Promise<void>;
}

/** A job whose n sequences record their tokens. */
function job(
  prompt: number[],
  n: number,
  o: { sampling?: SamplingParams; max: number; seed?: number; signal?: AbortSignal },
): [Job, Run] {
  const tokens: number[][] = Array.from({ length: n }, () => []);
  const reasons: string[] = Array(n).fill("");
  let left = n;
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const j: Job = {
    prompt,
    signal: o.signal,
    onError: reject,
    seqs: Array.from({ length: n }, (_, i) => ({
      sampling: o.sampling ?? GREEDY,
      seed: o.seed ?? 0,
      index: i,
      maxNewTokens: o.max,
      logprobs: null,
      onToken: (id) => {
        tokens[i].push(id);
        return false;
      },
      onFinish: (r) => {
        reasons[i] = r;
        if (--left === 0) resolve();
      },
    })),
  };
  return [j, { tokens, reasons, done }];
}

const prompts = [[5, 17, 42, 9, 100, 3], [7, 8], Array.from({ length: 21 }, (_, i) => (i * 37) % 400)];

describe.each(["tiny-qwen2", "tiny-deepseek-v3"])("%s", (name) => {
  it("greedy tokens of requests joining and leaving a running batch equal generate() alone", async () => {
    const m = models[name];
    const lengths = [10, 4, 7];
    const alone: number[][] = [];
    for (const [i, p] of prompts.entries())
      alone.push(
        (
          await generate(m.params, m.config, [p], {
            ...GREEDY,
            maxNewTokens: lengths[i],
            eosTokenIds: [],
            seed: 0,
          })
        ).ids[0],
      );
    const engine = new BatchEngine(m.params, m.config, {
      eosTokenIds: [],
      padTokenId: 0,
      maxBatch: 4,
      maxQueue: 8,
    });
    const runs: Run[] = [];
    // Two start together; the others join while they decode.
    for (const i of [0, 1]) {
      const [j, r] = job(prompts[i], 1, { max: lengths[i] });
      engine.submit(j);
      runs[i] = r;
    }
    await new Promise((res) => setTimeout(res, 50));
    for (const i of [2]) {
      const [j, r] = job(prompts[i], 1, { max: lengths[i] });
      engine.submit(j);
      runs[i] = r;
    }
    await Promise.all(runs.map((r) => r.done));
    runs.forEach((r, i) => {
      expect(r.tokens[0]).toEqual(alone[i]);
      expect(r.reasons[0]).toBe("length");
    });
    expect(engine.stats.prefills).toBe(3);
  });
});

describe("tiny-qwen2", () => {
  it("n seeded samples follow generate()'s per-row streams", async () => {
    const m = models["tiny-qwen2"];
    const sampling = { temperature: 0.8, topP: 0.95, topK: 0 };
    const ref = await generate(m.params, m.config, [prompts[0], prompts[0], prompts[0]], {
      ...sampling,
      maxNewTokens: 8,
      eosTokenIds: [],
      seed: 11,
    });
    const engine = new BatchEngine(m.params, m.config, {
      eosTokenIds: [],
      padTokenId: 0,
      maxBatch: 4,
      maxQueue: 8,
    });
    const [j, r] = job(prompts[0], 3, { max: 8, sampling, seed: 11 });
    engine.submit(j);
    await r.done;
    expect(r.tokens).toEqual(ref.ids);
    expect(new Set(r.tokens.map((t) => t.join())).size).toBeGreaterThan(1);
  });

  it("refuses work past its queue and frees an aborted request's rows", async () => {
    const m = models["tiny-qwen2"];
    const engine = new BatchEngine(m.params, m.config, {
      eosTokenIds: [],
      padTokenId: 0,
      maxBatch: 1,
      maxQueue: 1,
    });
    const ac = new AbortController();
    const [a, ra] = job(prompts[0], 1, { max: 200, signal: ac.signal });
    const [b, rb] = job(prompts[1], 1, { max: 3 });
    const [c] = job(prompts[2], 1, { max: 3 });
    engine.submit(a); // runs at once (the loop starts on the next tick, so it still counts as waiting)
    await new Promise((res) => setTimeout(res, 20));
    engine.submit(b); // waits for a's row
    expect(() => engine.submit(c)).toThrow(QueueFullError);
    expect(() => engine.submit(job(prompts[2], 2, { max: 3 })[0])).toThrow(
      /more than the server's --max-batch 1/,
    );
    ac.abort();
    await ra.done;
    expect(ra.reasons[0]).toBe("abort");
    expect(ra.tokens[0].length).toBeLessThan(200);
    await rb.done;
    expect(rb.tokens[0]).toHaveLength(3);
  });
});
