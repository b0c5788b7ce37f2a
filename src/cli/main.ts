// Entry point of the `r1lab` command: finds the subcommand, parses its flags, runs it.
// Each command lives in its own file under src/cli/ and is imported only when it runs,
// so `r1lab --help` stays fast and one command's heavy dependencies never slow another.
import { type Command, UsageError, parseCommandArgs } from "./command.ts";

/** name -> [summary, loader]. Keep summaries here so listing commands imports nothing. */
const COMMANDS: Record<string, [string, () => Promise<{ default: Command }>]> = {
  zero: [
    "R1-Zero in miniature: pretrain a tiny DeepSeek-style model, then GRPO (pnpm start)",
    () => import("./zero.ts"),
  ],
  r1: [
    "the R1 pipeline in miniature: cold-start SFT, reasoning RL, rejection sampling, SFT, final RL",
    () => import("./r1.ts"),
  ],
  doctor: ["show the runtime, engine, devices and optional tools", () => import("./doctor.ts")],
  logits: ["print a model's logits (first/last position) and argmax as JSON", () => import("./logits.ts")],
  generate: [
    "generate text from a Hugging Face model (greedy or seeded sampling, KV cache)",
    () => import("./generate.ts"),
  ],
  eval: [
    "evaluate a model on a benchmark with R1's protocol (native, ONNX or OpenAI-compatible backend)",
    () => import("./eval.ts"),
  ],
  score: [
    "score completions of a benchmark with R1's protocol (pass@1, cons@K, pass@k)",
    () => import("./score.ts"),
  ],
  serve: ["serve a model over the OpenAI API, or rule-based rewards over HTTP", () => import("./serve.ts")],
  download: [
    "download a model or dataset from the Hugging Face Hub into the HF cache",
    () => import("./download.ts"),
  ],
  grpo: [
    "GRPO on a Hugging Face model (full or LoRA) with TRL's GRPOConfig options; resumable",
    () => import("./grpo.ts"),
  ],
  sft: [
    "supervised fine-tuning on conversations (assistant tokens only), resumable",
    () => import("./sft.ts"),
  ],
  distill: [
    "distill a teacher's verified reasoning traces into a small dense student (SFT), then evaluate both",
    () => import("./distill.ts"),
  ],
  "fp8-report": [
    "train the tiny model in FP32 and simulated FP8 (tile/block vs per-tensor scales); loss errors",
    () => import("./fp8-report.ts"),
  ],
  data: [
    "curate training data: dedup, decontaminate against benchmarks, quality classifier",
    () => import("./data.ts"),
  ],
  "export-onnx": [
    "export a model (qwen2, llama, deepseek_v3) to ONNX in the transformers.js folder layout",
    () => import("./export-onnx.ts"),
  ],
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const rows = Object.entries(COMMANDS).map(([n, [s]]) => `  ${n.padEnd(width)}  ${s}`);
  return [
    "usage: r1lab <command> [options]",
    "",
    "DeepSeek-R1's recipe in miniature: models, GRPO, evaluation with R1's protocol.",
    "",
    "commands:",
    ...rows,
    "",
    "Run `r1lab <command> --help` for a command's options.",
  ].join("\n");
}

/**
 * --executor and --device decide how the engine starts (engine/executor.ts: whether jax-js gets a
 * worker pool), which happens when a command's module loads: pass them on through the environment.
 */
function presetEngineEnv(args: string[]): void {
  const env: Record<string, string> = { "--executor": "R1LAB_EXECUTOR", "--device": "R1LAB_DEVICE" };
  args.forEach((a, i) => {
    const [flag, inline] = a.split("=", 2);
    const value = inline ?? args[i + 1];
    if (env[flag] && value !== undefined && !value.startsWith("--")) process.env[env[flag]] = value;
  });
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(mainHelp());
    return 0;
  }
  if (name === "--version" || name === "-V") {
    const { versionLine } = await import("./version.ts");
    console.log(versionLine());
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) throw new UsageError(`unknown command '${name}'. Run \`r1lab --help\` for the list.`);
  presetEngineEnv(rest);
  const cmd = (await entry[1]()).default;
  const parsed = parseCommandArgs(cmd, rest);
  if (!parsed) return 0;
  await cmd.run(parsed.values, parsed.positionals);
  return 0;
}

// Exit once the outcome is printed: the engine's worker threads (and Dawn, on WebGPU) would keep
// the process alive after a command's work is done. Long-running commands (serve) resolve only
// when they stop. stdout/stderr writes are synchronous on Linux pipes and files.
const exit = () => setImmediate(() => process.exit());

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    exit();
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`r1lab: ${err.message}`);
      process.exitCode = 2;
    } else {
      const e = err as Error;
      console.error(process.env.R1LAB_DEBUG ? e.stack : `r1lab: error: ${e?.message ?? String(err)}`);
      if (!process.env.R1LAB_DEBUG) console.error("(set R1LAB_DEBUG=1 for the stack trace)");
      process.exitCode = 1;
    }
    exit();
  },
);
