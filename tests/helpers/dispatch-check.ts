// Child process for tests/engine-dispatch.test.ts: a few jitted computations whose kernels go through
// the Wasm worker pool (a matmul split across workers, greedy generation of a tiny MLA model), printed
// as JSON so runs with and without the shared-memory dispatch (R1LAB_FAST_WORKERS) can be compared.
import { initEngine } from "../../src/engine/device.ts";
import { jit } from "../../src/engine/jax.ts";
import * as o from "../../src/engine/ops.ts";
import { toHost } from "../../src/engine/params.ts";
import { Rng } from "../../src/engine/rng.ts";
import { generate } from "../../src/generate/generate.ts";
import { GREEDY } from "../../src/generate/sampling.ts";
import { initParams } from "../../src/model/init.ts";
import { tinyDeepSeek } from "../../src/model/presets.ts";

await initEngine({ device: "cpu" });
const rng = Rng.stream(0, "dispatch-check");
const a = o.fromArray(
  Float32Array.from({ length: 96 * 200 }, () => rng.normal()),
  [96, 200],
);
const b = o.fromArray(
  Float32Array.from({ length: 200 * 72 }, () => rng.normal()),
  [200, 72],
);
const f = jit((x: o.Arr, y: o.Arr) => o.add(o.matmul(x, y), 1));
const mm = Array.from(await toHost(f(a, b)));
const c = tinyDeepSeek(24, { numNextnPredictLayers: 0 });
const p = initParams(c, 3, { std: 0.2, withMtp: false });
const g = await generate(p, c, [[1, 2, 3], [4, 5, 6, 7, 8], [9]], {
  ...GREEDY,
  maxNewTokens: 6,
  eosTokenIds: [],
  seed: 0,
});
process.stdout.write(JSON.stringify({ mm, ids: g.ids }));
process.exit(0);
