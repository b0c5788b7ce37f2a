// `r1lab grpo`: GRPO on any Hugging Face model, as TRL's GRPOTrainer does it. Load the model and
// set up what is trained (all weights, or LoRA adapters with use_peft: grpo-policy.ts), build
// prompts from the task's dataset (chat template or plain text: grpo-prompts.ts), then run the one
// GRPO loop that zero and r1 run (grpo-loop.ts) with TRL's choices: prompts in a seeded order per
// epoch, G completions each scored by the named batch reward functions (rl/hf-rollout.ts; the
// task's own scorer is `accuracy`), num_iterations optimizer steps of gradient_accumulation_steps
// micro-batches per round, each one a step with its own row and learning rate. Held-out
// pass@1 before, during and after (grpo-eval.ts); metrics.jsonl (TRL's names: grpo-trl-row.ts), samples.jsonl,
// report.html, checkpoint/ (grpo-state.ts: resumable after kill -9 with identical metrics) and
// final/ (a Hugging Face model, or a PEFT adapter; --merge adds final-merged/).
// Left out: multi-GPU, vLLM, sampler-side importance-sampling correction (the sampler is this
// model), dynamic sampling (zero's stage has it), lora_dropout, entropy bonuses, multi-turn tools.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { modelCodec } from "../backends/native.ts";
import { writeJsonAtomic } from "../engine/atomic.ts";
import { engineInfo } from "../engine/device.ts";
import { appendJsonl, readJsonl, truncateJsonl } from "../engine/jsonl.ts";
import { deriveSeed } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import { getEvalTask } from "../eval/tasks/index.ts";
import { loadModel, saveModel } from "../hf/checkpoint.ts";
import { mergeAdapter, saveAdapter } from "../hf/peft.ts";
import { writeGrpoReport } from "./grpo-report.ts";
import { hfPolicy } from "../rl/hf-rollout.ts";
import { type NamedReward, rewardFunction } from "../rl/reward-fns.ts";
import { GrpoInputError, type GrpoRunConfig } from "./grpo-config.ts";
import { type HeldOutResult, evaluateHeldOut } from "./grpo-eval.ts";
import { grpoPolicy } from "./grpo-policy.ts";
import { grpoLoop } from "./grpo-loop.ts";
import { grpoPrompts } from "./grpo-prompts.ts";
import { saveGrpoState } from "./grpo-state.ts";
import { rolloutMetrics, roundTokens, trlRow, trlSamples } from "./grpo-trl-row.ts";

/** Refuse to resume a run folder written with other settings (names the first option that differs). */
function checkSameConfig(path: string, cfg: GrpoRunConfig): void {
  if (!existsSync(path)) return;
  const old = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  for (const k of Object.keys(cfg) as (keyof GrpoRunConfig)[]) {
    if (k === "device" || k === "eval_steps") continue; // may change between a run and its resume
    if (JSON.stringify(old[k] ?? null) !== JSON.stringify(cfg[k] ?? null))
      throw new Error(
        `${path}: this run folder was started with ${k} = ${JSON.stringify(old[k])}, now ${JSON.stringify(cfg[k])}; use another --out, or the same settings to resume`,
      );
  }
}

/** Run `setup`, turning what it throws into a GrpoInputError (bad data, model or option: one line). */
async function input<T>(setup: () => Promise<T> | T): Promise<T> {
  try {
    return await setup();
  } catch (e) {
    throw new GrpoInputError((e as Error).message);
  }
}

export async function runGrpo(
  cfg: GrpoRunConfig,
  log: (s: string) => void = (s) => process.stderr.write(`${s}\n`),
) {
  const t0 = performance.now();
  const out = cfg.output_dir;
  await input(() => checkSameConfig(join(out, "config.json"), cfg));
  const task = await input(() => getEvalTask(cfg.task));
  const m = await input(() => loadModel(cfg.model));
  // The resolved config, before any work (once the model is found, so a mistyped model leaves no
  // run folder that a corrected command would then have to match).
  mkdirSync(out, { recursive: true });
  writeJsonAtomic(join(out, "config.json"), cfg);
  const mc = m.config;
  const codec = await input(() => modelCodec(m));
  const { train, held, chat } = await input(() => grpoPrompts(cfg, task, m.dir, codec, log));
  const rewards: NamedReward[] = await input(() =>
    cfg.reward_funcs.map((name, i) => ({
      name,
      weight: cfg.reward_weights[i],
      fn: rewardFunction(name, {
        task,
        maxCompletionLength: cfg.max_completion_length,
        overlongBuffer: cfg.overlong_buffer_length ?? undefined,
        language: cfg.language,
      }),
    })),
  );

  // Trained tensors (all, or LoRA adapters over the frozen base), resumed from checkpoint/ when there.
  const { tr, lora, ref, state, resumed, sampler, release } = grpoPolicy(
    cfg,
    m,
    join(out, "checkpoint"),
    (f) => {
      try {
        return f();
      } catch (e) {
        throw new GrpoInputError((e as Error).message);
      }
    },
  );
  if (resumed) log(`resuming at step ${state.step} from ${join(out, "checkpoint")}`);
  truncateJsonl(join(out, "eval.jsonl"), state.step); // metrics and samples: grpoLoop

  const G = cfg.num_generations;
  const rowsPerRound = cfg.per_device_train_batch_size * cfg.gradient_accumulation_steps;
  const promptsPerRound = rowsPerRound / G;
  const roundsPerEpoch = Math.ceil(train.length / promptsPerRound);
  const maxSteps =
    cfg.max_steps > 0
      ? cfg.max_steps
      : Math.max(1, Math.ceil(cfg.num_train_epochs * roundsPerEpoch)) * cfg.num_iterations;
  const seqLen = Math.max(...train.map((p) => p.ids.length)) + cfg.max_completion_length;
  const schedule = {
    lr: cfg.learning_rate,
    warmupSteps: Math.ceil(cfg.warmup_ratio * maxSteps),
    totalSteps: maxSteps,
    decay: cfg.lr_scheduler_type,
    minLrRatio: 0,
  };
  const longest = Math.max(seqLen, ...held.map((p) => p.ids.length + cfg.max_completion_length));
  if (longest > mc.maxPositionEmbeddings)
    throw new GrpoInputError(
      `the longest prompt + max_completion_length = ${longest} tokens, over the model's ${mc.maxPositionEmbeddings} positions (lower max_prompt_length or max_completion_length)`,
    );
  const heldOpts = {
    k: cfg.eval_num_generations,
    temperature: cfg.eval_temperature,
    topP: cfg.eval_top_p,
    maxNewTokens: cfg.max_completion_length,
    seed: deriveSeed(cfg.seed, "eval"),
    batchRows: 32,
  };
  const evalFile = join(out, "eval.jsonl");
  const evals = readJsonl<HeldOutResult>(evalFile, { missingOk: true });
  // A round of num_iterations steps that ends at `step` crossed a multiple of `every` (rounds are whole but the last).
  const crossed = (step: number, every: number) =>
    every > 0 && Math.floor(step / every) > Math.floor((step - cfg.num_iterations) / every);
  const evalDue = (step: number) => step === 0 || step === maxSteps || crossed(step, cfg.eval_steps);
  const evaluate = async (step: number) => {
    if (held.length === 0) return;
    const p = sampler();
    const r = await evaluateHeldOut(p, mc, codec, task, held, step, heldOpts);
    release(p);
    evals.push(r);
    appendJsonl(evalFile, r);
    log(
      `eval @ step ${step}: pass@1 ${r["pass@1"].toFixed(3)} (${r.n_problems} problems x ${r.k}), format ${r.format_rate.toFixed(2)}, length ${r.mean_length.toFixed(1)}`,
    );
  };
  log(
    `r1lab grpo: ${mc.modelType} from ${m.dir}, ${cfg.use_peft ? `LoRA r=${cfg.lora_r} on ${Object.keys(tr.trainable).length / 2} projections` : "full fine-tuning"}, ` +
      `${train.length} prompts (${chat ? "chat template" : "plain text"}), ${promptsPerRound} prompts x ${G} per round, ${maxSteps} steps, device ${engineInfo().device}`,
  );
  const rollout = { round: -1, metrics: {} as Record<string, number> };
  const policy = hfPolicy(mc, codec, rewards);
  const { round } = await grpoLoop({
    stage: "grpo",
    seed: cfg.seed,
    s: cfg,
    tr,
    policy,
    prompts: train,
    promptsPerRound,
    order: "epochs",
    seqLen,
    microBatchRows: cfg.per_device_train_batch_size,
    countIterations: true,
    totalSteps: maxSteps,
    start: state,
    lr: (step) => learningRate(schedule, step),
    ref: ref ?? undefined,
    sampler: { take: sampler, release },
    metricsFile: join(out, "metrics.jsonl"),
    samplesFile: join(out, "samples.jsonl"),
    row: (r) => {
      if (r.round !== rollout.round) {
        rollout.round = r.round;
        rollout.metrics = rolloutMetrics(r.res, policy.rewardNames, G);
      }
      state.num_tokens += roundTokens(r.res);
      const epoch = ((r.round + 1) * promptsPerRound) / train.length;
      return trlRow(r, rollout.metrics, { epoch, numTokens: state.num_tokens });
    },
    samples: (r) => trlSamples(r, G, cfg.logging_steps, policy.rewardNames),
    bar: (row) => ({
      reward: row.reward,
      ...(policy.rewardNames.includes("accuracy") ? { acc: row["rewards/accuracy/mean"] } : {}),
      len: row["completions/mean_length"],
      kl: row.kl,
      clip: row["clip_ratio/region_mean"],
      ent: row.entropy,
    }),
    checkpoint: async (step, round) => {
      state.step = step;
      state.round = round;
      if (crossed(step, cfg.save_steps) || step >= maxSteps)
        await saveGrpoState(join(out, "checkpoint"), {
          trainable: lora ? tr.trainable : tr.params,
          opt: tr.optState,
          state,
          config: mc,
          lora,
          baseModel: cfg.model,
          tokenizer: m.tokenizer,
        });
    },
    // Before training, during it every eval_steps, at the end, and the one a killed run may have missed.
    evaluate: async (step) => {
      if (evalDue(step) && !evals.some((e) => e.step === step)) await evaluate(step);
    },
  });
  state.round = round;

  // ---- final outputs ----
  if (lora) {
    await saveAdapter(join(out, "final"), tr.trainable, lora, cfg.model);
    if (cfg.merge) await mergeAdapter(m, tr.trainable, lora, join(out, "final-merged"));
  } else await saveModel(join(out, "final"), { config: mc, params: tr.params, tokenizer: m.tokenizer });
  const allEvals = evals;
  const summary = {
    steps: state.step,
    eval_before: allEvals[0] ?? null,
    eval_after: allEvals[allEvals.length - 1] ?? null,
    gain_pass1: allEvals.length > 1 ? allEvals[allEvals.length - 1]["pass@1"] - allEvals[0]["pass@1"] : null,
    wall_seconds: (performance.now() - t0) / 1000,
    device: engineInfo().device,
    resumed,
  };
  writeJsonAtomic(join(out, "summary.json"), summary);
  await writeGrpoReport(out, cfg as unknown as Record<string, unknown>, summary as any);
  log(
    `done: ${state.step} steps${summary.gain_pass1 !== null ? `, held-out pass@1 ${summary.eval_before!["pass@1"].toFixed(3)} -> ${summary.eval_after!["pass@1"].toFixed(3)}` : ""}; ${join(out, "report.html")}`,
  );
  return summary;
}
