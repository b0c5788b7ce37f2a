// `r1lab fp8-report`: the FP8 training error report (src/report/fp8-report.ts). Trains the tiny
// DeepSeek-style model from one seed with FP32, BF16, E4M3 tile/block-scaled and E4M3 per-tensor
// scaled GEMMs and writes DIR/fp8_report.json and DIR/fp8_loss.png. See docs/performance.md.
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { initEngine } from "../engine/device.ts";
import { defaultFp8ReportConfig, runFp8Report } from "../runs/fp8-report.ts";
import { type Command, numberFlag } from "./command.ts";

const cmd: Command = {
  name: "fp8-report",
  summary:
    "train the tiny model in FP32, BF16 and simulated FP8 (tile/block vs per-tensor scaling); report loss errors",
  usage: "fp8-report [--steps N] [--out DIR] [--seed S] [--batch-size B] [--device cpu|webgpu]",
  options: {
    steps: { type: "string", default: "100", help: "training steps per run" },
    out: { type: "string", default: "runs/fp8-report", help: "output folder" },
    seed: {
      type: "string",
      default: "1",
      help: "seed of the initialisation, corpus and batches (same for all runs)",
    },
    "batch-size": { type: "string", default: "16", help: "sequences per step" },
    device: { type: "string", help: "cpu or webgpu (default: R1LAB_DEVICE or cpu)" },
    executor: {
      type: "string",
      help: "ort or jax: what runs compiled steps (default: R1LAB_EXECUTOR, else ort)",
    },
  },
  details:
    "Runs: none (FP32 GEMMs), bf16 (BF16 inputs, FP32 accumulation: DeepSeek-V3's baseline),\n" +
    "e4m3-tile (DeepSeek-V3: 1x128 activation tiles, 128x128 weight blocks,\n" +
    "FP32 promotion every 128 K), e4m3-tensor (one scale per matrix). Relative error of the final\n" +
    "loss (mean over the last 10% of steps) against FP32 and BF16; DeepSeek-V3 reports < 0.25% against BF16.",
  async run(v) {
    const cfg = defaultFp8ReportConfig(
      numberFlag(v, "steps", { int: true, min: 1 }),
      numberFlag(v, "seed", { int: true, min: 0 }),
    );
    cfg.batch_size = numberFlag(v, "batch-size", { int: true, min: 1 });
    const out = resolve(v.out);
    mkdirSync(out, { recursive: true });
    await initEngine({ device: v.device, executor: v.executor });
    const report = await runFp8Report(cfg, out);
    console.log(JSON.stringify({ out, runs: report.runs.map(({ losses, ...r }) => r) }, null, 2));
  },
};

export default cmd;
