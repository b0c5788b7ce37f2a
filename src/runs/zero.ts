// `r1lab zero` (pnpm start): R1-Zero in miniature. Pretrain a tiny DeepSeek-style base model (MLA +
// DeepSeekMoE + MTP) on a noisy corpus of reasoning traces, measure it on held-out problems, run
// GRPO with rule rewards only (accuracy + format, no reward model, no SFT), measure again.
// Everything lands in runs/<name>/ (docs/r1-zero.md): pretrain.jsonl, metrics.jsonl, samples.jsonl,
// eval_base.json, summary.json, report.html, checkpoints/{base,final}. A run killed at any point
// resumes from its last checkpoint and produces the metrics of an uninterrupted one.
// Left out: a KL penalty against a reference model (beta = 0, as DAPO and Dr. GRPO recommend), the
// cold start and later stages of R1 (`r1lab r1`), and any prompt other than the R1-Zero template.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { engineInfo } from "../engine/device.ts";
import { writeJsonl } from "../engine/jsonl.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import { mtpAcceptance } from "../generate/mtp-acceptance.ts";
import { REWARD_FUNCTIONS } from "../rl/rewards.ts";
import { charPolicy } from "../rl/rollout.ts";
import { ci95, stderrOfMean } from "../eval/metrics.ts";
import type { SyntheticEval } from "../rl/evaluate.ts";
import type { Rollout } from "../rl/rollout.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { countRechecks, faithfulness, showsWork } from "../tasks/corpus.ts";
import { applyTemplate } from "../tasks/template.ts";
import { packSequences } from "../train/batch.ts";
import { makeSftBatch } from "../train/sft-batch.ts";
import { evalStage } from "./eval-stage.ts";
import { grpoStage, namedRewards } from "./grpo-stage.ts";
import { pretrainStage } from "./pretrain-stage.ts";
import { encoder, runData, runModelConfig } from "./setup.ts";
import type { ZeroConfig } from "./zero-config.ts";
import { writeZeroReport } from "./zero-report.ts";

export async function runZero(
  cfg: ZeroConfig,
  runDir: string,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const ck = (n: string) => join(runDir, "checkpoints", n);
  const resumed = ["base", "base.partial", "final.partial", "final"].some((n) => existsSync(ck(n)));
  const { task, test, corpus, trainProblems } = runData(cfg);
  const tok = CharTokenizer.forTexts([
    applyTemplate("", cfg.template),
    ...corpus.map((it) => it.example.prompt + it.completion),
    ...test.map((e) => e.prompt),
    "0123456789+-*/() =;",
  ]);
  const tokenizerJson = tok.toTokenizerJson();
  const mc = runModelConfig(cfg.model, tok);
  const encode = encoder(tok, cfg.template);
  const seqs = corpus.map((it) => encode(it.example.prompt, it.completion));
  const maxPrompt = Math.max(...[...trainProblems, ...test].map((e) => encode(e.prompt, "").lossStart));
  const P = cfg.pretrain;
  if (!Number.isInteger(P.max_length) || P.max_length < 2)
    throw new Error(
      `config.json: pretrain.max_length must be a positive integer (rows of packed sequences), got ${P.max_length}; a run from an older r1lab needs a new run`,
    );
  const longest = Math.max(...seqs.map((s) => s.ids.length));
  if (longest > P.max_length)
    throw new Error(
      `pretrain.max_length ${P.max_length} is shorter than the longest corpus sequence (${longest} tokens)`,
    );
  // The held-out problems, so `r1lab eval` can score a checkpoint on exactly these (same task settings).
  writeJsonl(join(runDir, "test_problems.jsonl"), test);
  log(
    `r1lab zero: ${task.name}, ${trainProblems.length} train / ${test.length} test problems, corpus ${corpus.length} traces, vocab ${tok.tokens.length}, device ${engineInfo().device}`,
  );

  // 1. Pretraining: rows packed with whole corpus sequences, a pure function of (seed, step).
  const baseParams = await pretrainStage({
    stage: "pretrain",
    p: P,
    mc,
    seed: cfg.seed,
    checkpointEvery: cfg.checkpoint_every * 5,
    tokenizerJson,
    dir: ck("base"),
    metricsFile: join(runDir, "pretrain.jsonl"),
    log,
    batchAt: (step) => {
      const rng = Rng.stream(cfg.seed, "pretrain-batch", step);
      const rows = packSequences(() => seqs[rng.int(seqs.length)], P.batch_size, P.max_length);
      const sequences = rows.reduce((a, r) => a + r.segments[r.segments.length - 1] + 1, 0);
      return {
        batch: makeSftBatch(mc, rows, P.max_length, tok.padId).batch,
        tokens: rows.reduce((a, r) => a + r.ids.length, 0),
        row: { sequences },
      };
    },
  });

  // 2. The base model on held-out problems.
  const evalOpts = {
    k: cfg.eval.k,
    temperature: cfg.eval.temperature,
    topP: cfg.eval.top_p,
    maxCompletionLength: cfg.grpo.max_completion_length,
    template: cfg.template,
    seed: deriveSeed(cfg.seed, "eval"),
  };
  const evalFile = join(runDir, "eval_base.json");
  const base: EvalWithProblems = existsSync(evalFile)
    ? JSON.parse(readFileSync(evalFile, "utf8"))
    : withProblems(await evalStage("base", baseParams, mc, tok, test, evalOpts), cfg.eval.k);
  writeJsonAtomic(evalFile, base);
  log(
    `base: pass@1 ${base.pass1.toFixed(3)}, pass@${base.k} ${base.passk.toFixed(3)}, format ${base.format_rate.toFixed(2)}, length ${base.mean_length.toFixed(1)}, shows work ${(base.shows_work_rate ?? Number.NaN).toFixed(2)}`,
  );

  // 3. GRPO with rule rewards from the base model.
  const G = cfg.grpo;
  const params = await grpoStage({
    stage: "grpo",
    g: G,
    seed: cfg.seed,
    params: baseParams,
    policy: charPolicy(
      mc,
      tok,
      cfg.template,
      namedRewards(G.reward_weights, REWARD_FUNCTIONS, "grpo.reward_weights"),
    ),
    prompts: trainProblems,
    seqLen: maxPrompt + G.max_completion_length,
    checkpointEvery: cfg.checkpoint_every,
    tokenizerJson,
    dir: ck("final"),
    metricsFile: join(runDir, "metrics.jsonl"),
    samplesFile: join(runDir, "samples.jsonl"),
    log,
    metrics: (all) => {
      const correct = all.filter((r) => r.rewards.accuracy === 1);
      return {
        faithful_rate: correct.length
          ? correct.filter((r) => faithfulness(r.completion, r.example).faithful).length / correct.length
          : 0,
        rechecks: all.reduce((a, r) => a + countRechecks(r.completion), 0) / all.length,
        shows_work_rate: all.filter((r) => showsWork(r.completion)).length / all.length,
      };
    },
  });

  // 4. The RL model on the same held-out problems, and MTP as a speculative drafter: acceptance of
  // its second-token drafts on the final model's own outputs.
  const finalEval = await evalStage("final", params, mc, tok, test, evalOpts);
  const final = withProblems(finalEval, cfg.eval.k);
  const mtp = await mtpAcceptance(
    params,
    mc,
    finalEval.samples
      .slice(0, 64)
      .map((s) => ({ ids: [...s.promptIds, ...s.completionIds], from: s.promptIds.length })),
    tok.padId,
  );
  const info = engineInfo();
  const { per_problem_pass1: baseProblems, ...baseDetail } = base;
  const { per_problem_pass1: finalProblems, ...finalDetail } = final;
  // The gain's standard error is paired: the same problems before and after, so the per-problem
  // differences' spread (absent for eval_base.json files written before it was recorded).
  const gainSe = baseProblems ? stderrOfMean(finalProblems!.map((f, i) => f - baseProblems[i])) : undefined;
  const interval = (e: EvalWithProblems) =>
    e.pass1_se === undefined ? {} : { pass1_se: e.pass1_se, pass1_ci95: ci95(e.pass1, e.pass1_se) };
  const gain = final.pass1 - base.pass1;
  const cpu = process.cpuUsage(cpu0);
  const summary = {
    base: { pass1: base.pass1, ...interval(base), passk: base.passk, k: base.k },
    final: { pass1: final.pass1, ...interval(final), passk: final.passk, k: final.k },
    gain_pass1: gain,
    ...(gainSe === undefined
      ? {}
      : { gain_pass1_se: gainSe, gain_pass1_ci95: [gain - 1.96 * gainSe, gain + 1.96 * gainSe] }),
    mtp_acceptance: mtp,
    base_detail: baseDetail,
    final_detail: finalDetail,
    wall_seconds: (performance.now() - t0) / 1000,
    // user + system time of every thread of this process (a resumed run: since it resumed); unlike
    // wall_seconds it does not stretch when other work shares the cores.
    cpu_seconds: (cpu.user + cpu.system) / 1e6,
    device: info.device + (info.adapter ? ` (${info.adapter})` : ` (${info.threads} threads)`),
    resumed,
  };
  writeJsonAtomic(join(runDir, "summary.json"), summary);
  await writeZeroReport(runDir, cfg, summary);
  log(
    `final: pass@1 ${final.pass1.toFixed(3)} (base ${base.pass1.toFixed(3)}), pass@${final.k} ${final.passk.toFixed(3)} (base ${base.passk.toFixed(3)}); ${runDir}/report.html`,
  );
  return summary;
}

/** An evaluation with pass@1's standard error over problems and each problem's pass@1 (eval_base.json). */
type EvalWithProblems = SyntheticEval & { pass1_se?: number; per_problem_pass1?: number[] };

function withProblems(e: { result: SyntheticEval; samples: Rollout[] }, k: number): EvalWithProblems {
  const perProblem = Array.from(
    { length: e.samples.length / k },
    (_, i) => e.samples.slice(i * k, (i + 1) * k).filter((s) => s.rewards.accuracy === 1).length / k,
  );
  return { ...e.result, pass1_se: stderrOfMean(perProblem), per_problem_pass1: perProblem };
}
