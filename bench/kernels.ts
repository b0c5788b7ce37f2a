// `pnpm tsx bench/kernels.ts [tiny|small|medium]`: the compiled kernels of one training step and
// the time each takes, on one thread. With no worker pool jax-js runs every kernel synchronously,
// so its profiler's trace entries measure the kernels themselves (with the pool they would only
// measure the dispatch). Kernels with the same shape and reduction are grouped; matmul-like ones
// (a sum over products) get a GFLOP/s figure: size x reduction length x 2 flops.
// Hiding SharedArrayBuffer before the engine starts is what turns the pool off.
(globalThis as { SharedArrayBuffer?: unknown }).SharedArrayBuffer = undefined;
const { initEngine } = await import("../src/engine/device.ts");
await initEngine({ device: "cpu" });
const { profiler } = await import("../src/engine/jax.ts");
const { TRAIN_SHAPES } = await import("./models.ts");
const { lmTrainer } = await import("./r1lab-side.ts");

const shape = process.argv[2] ?? "small";
const s = TRAIN_SHAPES[shape];
if (!s)
  throw new Error(
    `bench/kernels.ts: unknown shape '${shape}' (known: ${Object.keys(TRAIN_SHAPES).join(", ")})`,
  );
const { trainer, nextBatch } = lmTrainer(s);
for (let i = 0; i < 2; i++) await trainer.update(nextBatch(), 1e-3); // compile, warm up

interface Group {
  n: number;
  ms: number;
  size: number;
  red: number;
  exp: string;
}
const groups = new Map<string, Group>();
const observer = new PerformanceObserver((list) => {
  for (const m of list.getEntries() as any[]) {
    const props = Object.fromEntries(m.detail?.devtools?.properties ?? []);
    const [, red = "0"] = String(props.reduction ?? "").split(":");
    const key = `${m.name} ${props.reduction ?? ""} ${props.inputShapes ?? ""}`;
    const g = groups.get(key) ?? {
      n: 0,
      ms: 0,
      size: Number(props.size ?? 0),
      red: Number(red),
      exp: String(props.exp ?? props.outputShapes ?? ""),
    };
    g.n++;
    g.ms += m.duration;
    groups.set(key, g);
  }
});
observer.observe({ entryTypes: ["measure"] });
profiler.startTrace();
const t0 = performance.now();
await trainer.update(nextBatch(), 1e-3);
const total = performance.now() - t0;
profiler.stopTrace();
await new Promise((r) => setTimeout(r, 50));
observer.disconnect();

const sum = [...groups.values()].reduce((a, g) => a + g.ms, 0);
console.log(
  `train_${shape}: one step ${total.toFixed(0)} ms on one thread, kernels ${sum.toFixed(0)} ms, ${[...groups.values()].reduce((a, g) => a + g.n, 0)} dispatches`,
);
console.log(
  `${"ms".padStart(8)} ${"share".padStart(6)} ${"calls".padStart(6)} ${"GFLOP/s".padStart(8)}  kernel`,
);
for (const [key, g] of [...groups]
  .sort((a, b) => b[1].ms - a[1].ms)
  .slice(0, Number(process.argv[3] ?? 16))) {
  const matmul = g.red > 1 && /\*/.test(g.exp);
  const gflops = matmul ? ((g.size * g.red * 2 * g.n) / (g.ms / 1000) / 1e9).toFixed(1) : "";
  console.log(
    `${g.ms.toFixed(1).padStart(8)} ${((100 * g.ms) / sum).toFixed(1).padStart(5)}% ${String(g.n).padStart(6)} ${gflops.padStart(8)}  ${key.trim()}  ${g.exp.slice(0, 90)}`,
  );
}
process.exit(0);
