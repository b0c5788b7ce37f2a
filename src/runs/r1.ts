// DeepSeek-R1's multi-stage pipeline in miniature (`r1lab r1`), after the R1 paper's section 2.3:
//   base                a tiny DeepSeek-style model pretrained on the noisy R1-Zero corpus (r1-base.ts)
//   cold_start_sft      SFT of the base on a small set of long, readable traces (tasks/cold-start.ts)
//   reasoning_rl        GRPO with accuracy + format + language-consistency rewards (grpo-stage.ts)
//   rejection_sampling  K samples per training prompt, keep correct + well-formed (+ readable), dedupe
//   sft                 SFT of the *base* on what was kept (mixed with the cold-start set)
//   final_rl            a last GRPO stage from the SFT model
// After each stage the model is measured on the same held-out problems (eval-stage.ts) and a row is
// written to runs/<name>/stages/<stage>.json; a finished stage is never redone, so a killed run
// resumes at the stage it was in (and inside an RL or SFT stage, from its last checkpoint).
// Outputs: config.json (by the CLI), summary.json {stages: [...]}, report.html, checkpoints/<stage>.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { engineInfo } from "../engine/device.ts";
import { readJsonl, writeJsonl } from "../engine/jsonl.ts";
import { type Params, disposeParams } from "../engine/params.ts";
import { TaskRng, deriveSeed, taskSeed } from "../engine/rng.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { buildColdStart, READABLE_CHARS, READABLE_WORDS, readableCompletion } from "../tasks/cold-start.ts";
import { DEFAULT_MIX, WORKED_MIX } from "../tasks/corpus.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { type SftConfig, type SftExample, sftTrain } from "../train/sft.ts";
import { applyTemplate } from "../tasks/template.ts";
import { evalStage, type StageColumns, type StageEval, stageColumns } from "./eval-stage.ts";
import { pretrainBase } from "./r1-base.ts";
import type { R1Config } from "./r1-config.ts";
import { distillComparison } from "./r1-distill.ts";
import { rejectionStage } from "./r1-rejection.ts";
import { r1RlStage } from "./r1-rl.ts";
import { zeroRlComparison } from "./r1-zero-rl.ts";
import type { GrpoSettings } from "./grpo-stage.ts";
import { writeR1Report } from "./r1-report.ts";
import { encoder, runData, runModelConfig } from "./setup.ts";

export const R1_STAGES = [
  "base",
  "cold_start_sft",
  "reasoning_rl",
  "rejection_sampling",
  "sft",
  "final_rl",
] as const;
export type R1Stage = (typeof R1_STAGES)[number];

/**
 * One row of summary.json `stages`. `*_se` are standard errors over the problems (held-out; for
 * rejection_sampling its training prompts); `pass1_ci95` is pass1 +- 1.96 se, clipped to [0, 1].
 * `cpu_seconds` (user + system of every thread) tells the stage's cost apart from the machine's
 * load, which stretches `wall_seconds`.
 */
export type StageRow = { name: R1Stage } & StageColumns & { wall_seconds: number; cpu_seconds: number };

/** CPU seconds (user + system, every thread of this process) since `from` (process.cpuUsage()). */
export const cpuSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

export async function runR1(
  cfg: R1Config,
  runDir: string,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  // pretrain.mix: r1lab zero's corpus (mostly bare-answer guesses, docs/r1-zero.md) or worked traces only.
  const {
    task,
    test,
    corpus: zeroCorpus,
    trainProblems,
  } = runData(cfg, cfg.pretrain.mix === "worked" ? WORKED_MIX : DEFAULT_MIX);
  const mixRng = new TaskRng(taskSeed(cfg.seed, "r1-readable-mix"));
  const corpus = zeroCorpus.map((it) => {
    const readable = mixRng.chance(cfg.pretrain.readable_fraction) ? readableCompletion(it.completion) : null;
    return readable === null ? { ...it, readable: false } : { ...it, completion: readable, readable: true };
  });
  const coldStart = buildColdStart({
    task,
    problems: trainProblems,
    n: cfg.cold_start.n_examples,
    seed: cfg.seed,
  });
  const tok = CharTokenizer.forTexts([
    applyTemplate("", cfg.template),
    ...corpus.map((it) => it.example.prompt + it.completion),
    ...coldStart.map((c) => c.completion),
    ...test.map((e) => e.prompt),
    READABLE_CHARS,
    READABLE_WORDS.join(" "),
    "0123456789+-*/() =;",
  ]);
  const tokJson = tok.toTokenizerJson();
  const mc = runModelConfig(cfg.model, tok);
  const encode = encoder(tok, cfg.template);
  const toSft = (prompt: string, completion: string): SftExample => {
    const { ids, lossStart } = encode(prompt, completion);
    return { inputIds: ids, lossMask: ids.map((_, i) => (i >= lossStart ? 1 : 0)) };
  };
  const pools = {
    terse: corpus.filter((it) => !it.readable).map((it) => encode(it.example.prompt, it.completion)),
    readable: corpus.filter((it) => it.readable).map((it) => encode(it.example.prompt, it.completion)),
  };
  const maxPrompt = Math.max(...[...trainProblems, ...test].map((e) => encode(e.prompt, "").lossStart));
  const ck = (n: string) => join(runDir, "checkpoints", n);
  const trained = (n: string) => existsSync(join(ck(n), "trainer_state.json"));
  const rowPath = (n: string) => join(runDir, "stages", `${n}.json`);
  mkdirSync(join(runDir, "stages"), { recursive: true });
  writeJsonl(join(runDir, "test_problems.jsonl"), test);
  writeJsonl(
    join(runDir, "cold_start.jsonl"),
    coldStart.map((c) => ({ prompt: c.example.prompt, style: c.style, completion: c.completion })),
  );
  log(
    `r1lab r1: ${task.name}, ${trainProblems.length} train / ${test.length} test problems, corpus ${corpus.length}, cold start ${coldStart.length}, vocab ${tok.tokens.length}, device ${engineInfo().device}`,
  );

  const evalOpts = {
    k: cfg.eval.k,
    temperature: cfg.eval.temperature,
    topP: cfg.eval.top_p,
    maxCompletionLength: cfg.max_completion_length,
    seed: deriveSeed(cfg.seed, "eval"),
    template: cfg.template,
  };
  const evaluate = async (name: string, p: Params, model = mc): Promise<StageEval> =>
    (await evalStage(name, p, model, tok, test, evalOpts)).stage;
  const sftStage = async (
    name: string,
    from: string,
    data: SftExample[],
    s: Omit<SftConfig, "seed">,
  ): Promise<Params> => {
    if (trained(name)) return loadCheckpoint(ck(name)).params;
    const r = await sftTrain({
      config: mc,
      params: loadCheckpoint(ck(from)).params,
      train: data,
      cfg: { ...s, seed: deriveSeed(cfg.seed, name) },
      outDir: join(runDir, "sft", name),
      padId: tok.padId,
      tokenizerJson: tokJson,
      log,
    });
    await saveCheckpoint(ck(name), {
      config: mc,
      params: r.params,
      state: { phase: name, step: s.max_steps, done: true },
      tokenizerJson: tokJson,
    });
    return r.params;
  };
  const rlStage = (name: string, from: string, g: GrpoSettings): Promise<Params> =>
    r1RlStage({
      stage: name,
      g,
      seed: cfg.seed,
      template: cfg.template,
      checkpointEvery: cfg.checkpoint_every,
      params: loadCheckpoint(ck(from)).params,
      mc,
      tok,
      tokenizerJson: tokJson,
      prompts: trainProblems,
      maxPromptTokens: maxPrompt,
      dir: ck(name),
      metricsFile: join(runDir, `${name}.jsonl`),
      log,
    });

  const details: Record<string, unknown> = {};
  let resumed = false;
  for (const name of R1_STAGES) {
    if (existsSync(rowPath(name))) {
      resumed = true;
      continue;
    }
    const ts = performance.now();
    const cpu0 = process.cpuUsage();
    let params: Params;
    let detail: Record<string, unknown>;
    let row: StageColumns;
    if (name === "rejection_sampling") {
      params = loadCheckpoint(ck("reasoning_rl")).params;
      ({ row, detail } = await rejectionStage({ cfg, params, mc, tok, trainProblems, dir: ck(name), log }));
    } else {
      if (name === "base")
        params = await pretrainBase({
          cfg,
          mc,
          pools,
          padId: tok.padId,
          tokenizerJson: tokJson,
          dir: ck("base"),
          metricsFile: join(runDir, "pretrain.jsonl"),
          log,
        });
      else if (name === "cold_start_sft")
        params = await sftStage(
          name,
          "base",
          coldStart.map((c) => toSft(c.example.prompt, c.completion)),
          cfg.cold_start_sft,
        );
      else if (name === "sft") params = await sftStage(name, "base", sftData(), cfg.sft);
      else params = await rlStage(name, name === "reasoning_rl" ? "cold_start_sft" : "sft", cfg[name]);
      const e = await evaluate(name, params);
      row = stageColumns(e);
      detail = { split: "test", ...e };
    }
    disposeParams(params);
    const full: StageRow = {
      name,
      ...row,
      wall_seconds: (performance.now() - ts) / 1000,
      cpu_seconds: cpuSince(cpu0),
    };
    writeJsonAtomic(rowPath(name), { row: full, detail });
    log(
      `${name}: pass@1 ${full.pass1.toFixed(3)} +- ${(1.96 * full.pass1_se).toFixed(3)}, cons@${name === "rejection_sampling" ? cfg.rejection_sampling.num_samples : cfg.eval.k} ${full.consK.toFixed(3)}, length ${full.mean_length.toFixed(1)}, readability ${full.readability.toFixed(3)} (${full.wall_seconds.toFixed(0)} s, ${full.cpu_seconds.toFixed(0)} CPU s)`,
    );
  }

  function sftData(): SftExample[] {
    const kept = readJsonl<{ prompt: string; completion: string }>(
      join(ck("rejection_sampling"), "kept.jsonl"),
    );
    const mixed = [
      ...kept,
      ...(cfg.rejection_sampling.mix_cold_start
        ? coldStart.map((c) => ({ prompt: c.example.prompt, completion: c.completion }))
        : []),
    ];
    if (mixed.length === 0)
      throw new Error(
        "sft: rejection sampling kept nothing and rejection_sampling.mix_cold_start is false: no SFT data",
      );
    return mixed.map((x) => toSft(x.prompt, x.completion));
  }

  const stages: StageRow[] = [];
  for (const name of R1_STAGES) {
    const saved = JSON.parse(readFileSync(rowPath(name), "utf8"));
    stages.push(saved.row);
    details[name] = saved.detail;
  }
  const r1ZeroRl = cfg.r1_zero_rl?.enabled
    ? await zeroRlComparison({
        runDir,
        g: cfg.reasoning_rl,
        rl: rlStage,
        evaluate: (name, p) => evaluate(name, p),
        log,
      })
    : null;
  const distill = cfg.distill?.enabled
    ? await distillComparison({
        cfg,
        runDir,
        tok,
        tokenizerJson: tokJson,
        trainProblems,
        maxPromptTokens: maxPrompt,
        pools,
        evalModel: evaluate,
        log,
      })
    : null;
  if (distill) distill.teacher_eval = stages.find((r) => r.name === "final_rl");
  const info = engineInfo();
  const summary = {
    stages,
    stage_details: details,
    eval: {
      k: cfg.eval.k,
      n_problems: test.length,
      temperature: cfg.eval.temperature,
      top_p: cfg.eval.top_p,
    },
    wall_seconds: (performance.now() - t0) / 1000,
    /** This process's CPU time (a resumed run: the last attempt's). */
    cpu_seconds: cpuSince(cpu0),
    device: info.device + (info.adapter ? ` (${info.adapter})` : ` (${info.threads} threads)`),
    resumed,
    r1_zero_rl: r1ZeroRl,
    distill,
  };
  writeJsonAtomic(join(runDir, "summary.json"), summary);
  await writeR1Report(runDir, cfg, summary);
  log(`r1lab r1: done in ${summary.wall_seconds.toFixed(0)} s; ${join(runDir, "report.html")}`);
  return summary;
}

export type R1Summary = Awaited<ReturnType<typeof runR1>>;
