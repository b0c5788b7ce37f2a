// The server's continuous batching (src/serve/batch-engine.ts) against sequential requests: the
// same requests (random prompts of different lengths, greedy, a fixed number of new tokens each)
// decoded one at a time, then all submitted at once and sharing decode steps. Engine level, no
// HTTP (the server adds JSON per request and per streamed token on top). With `quantize`, both runs
// use int8/int4 weights, to show what dequantising inside each step costs.
import { disposeParams } from "../src/engine/params.ts";
import { Rng } from "../src/engine/rng.ts";
import { GREEDY } from "../src/generate/sampling.ts";
import type { ModelConfig } from "../src/model/config.ts";
import { initParams } from "../src/model/init.ts";
import { type QuantizeMode, quantizeParams } from "../src/model/quantize.ts";
import { BatchEngine, type Job } from "../src/serve/batch-engine.ts";

function run(engine: BatchEngine, prompts: number[][], newTokens: number): Promise<void>[] {
  return prompts.map(
    (prompt) =>
      new Promise<void>((resolve, reject) => {
        const job: Job = {
          prompt,
          onError: reject,
          seqs: [
            {
              sampling: GREEDY,
              seed: 0,
              index: 0,
              maxNewTokens: newTokens,
              logprobs: null,
              onToken: () => false,
              onFinish: () => resolve(),
            },
          ],
        };
        engine.submit(job);
      }),
  );
}

/** Tokens/s of `requests` requests decoded one after another, and all at once (up to maxBatch together). */
export async function serveThroughput(
  c: ModelConfig,
  o: { requests: number; newTokens: number; maxBatch: number; quantize?: QuantizeMode },
): Promise<{ sequential: number; concurrent: number; rowsPerStep: number }> {
  let p = initParams(c, 0, { withMtp: false });
  if (o.quantize && o.quantize !== "none") p = (await quantizeParams(p, { mode: o.quantize })).params;
  const rng = Rng.stream(0, "bench-serve-prompts");
  const prompts = Array.from({ length: o.requests }, () =>
    Array.from({ length: 8 + rng.int(24) }, () => rng.int(c.vocabSize)),
  );
  const opts = { eosTokenIds: [], padTokenId: 0, maxBatch: o.maxBatch, maxQueue: o.requests };
  const tokens = o.requests * o.newTokens;
  // Warm-up: compile the shapes both runs use (prefill buckets, every batch size).
  const warm = new BatchEngine(p, c, opts);
  for (const q of prompts.slice(0, 2)) await Promise.all(run(warm, [q], 2));
  await Promise.all(run(warm, prompts, 2));
  let t0 = performance.now();
  const seq = new BatchEngine(p, c, opts);
  for (const q of prompts) await Promise.all(run(seq, [q], o.newTokens));
  const sequential = tokens / ((performance.now() - t0) / 1000);
  const con = new BatchEngine(p, c, opts);
  const before = { steps: con.stats.steps, rows: con.stats.rowsPerStep };
  t0 = performance.now();
  await Promise.all(run(con, prompts, o.newTokens));
  const concurrent = tokens / ((performance.now() - t0) / 1000);
  disposeParams(p);
  return {
    sequential,
    concurrent,
    rowsPerStep: (con.stats.rowsPerStep - before.rows) / (con.stats.steps - before.steps),
  };
}
