// `r1lab grpo`: GRPO on any Hugging Face model, as TRL's GRPOTrainer does it. Load the model and
// set up what is trained (all weights, or LoRA adapters with use_peft: grpo-policy.ts), build
// prompts from the task's dataset (chat template or plain text: grpo-prompts.ts), then repeat per
// round: sample G completions per prompt, score them with the named reward functions (the task's
// own scorer is `accuracy`) and compute group-relative advantages (grpo-round.ts), then take
// num_iterations optimizer steps of gradient_accumulation_steps micro-batches each on the GRPO
// objective through rl/grpo-update.ts, the same update zero's and r1's GRPO stage use. Held-out
// pass@1 before, during and after (grpo-eval.ts); metrics.jsonl (TRL's names), samples.jsonl,
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
import { Progress } from "../report/progress.ts";
import { grpoBatch, itemsInBatch, microBatches } from "../rl/grpo.ts";
import { grpoUpdate } from "../rl/grpo-update.ts";
import { type NamedReward, rewardFunction } from "../rl/reward-fns.ts";
import { GrpoInputError, type GrpoRunConfig } from "./grpo-config.ts";
import { type HeldOutResult, evaluateHeldOut } from "./grpo-eval.ts";
import { grpoPolicy } from "./grpo-policy.ts";
import { grpoRound, roundPrompts } from "./grpo-round.ts";
import { grpoPrompts } from "./grpo-prompts.ts";
import { saveGrpoState } from "./grpo-state.ts";

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
  for (const f of ["metrics.jsonl", "samples.jsonl", "eval.jsonl"]) truncateJsonl(join(out, f), state.step);

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
  // Before training, and the evaluation a killed run may have missed at its checkpoint's step.
  if (evalDue(state.step) && !evals.some((e) => e.step === state.step)) await evaluate(state.step);

  const bar = new Progress({ total: maxSteps, label: "grpo" });
  bar.update(state.step);
  while (state.step < maxSteps) {
    const ts = performance.now();
    // ---- rollouts: G completions for each prompt of the round, scored, advantages, update rows ----
    const picks = roundPrompts(train, state.round, promptsPerRound, cfg.seed);
    const genParams = sampler();
    const round = await grpoRound(genParams, mc, codec, picks, rewards, cfg, state.round);
    const { items, rows, advantages: adv } = round;
    const numItems = itemsInBatch(rows, seqLen);
    const batches = microBatches(rows, cfg.per_device_train_batch_size).map((mb) =>
      grpoBatch(mc, codec.padId, mb, seqLen, numItems),
    );
    // ---- num_iterations optimizer steps on this round (the last round stops at max_steps) ----
    const roundTokens = rows.reduce((s, r) => s + r.promptIds.length + r.completionIds.length, 0);
    const step0 = state.step;
    await grpoUpdate(tr, mc, batches, {
      beta: cfg.beta,
      numIterations: Math.min(cfg.num_iterations, maxSteps - step0),
      temperature: cfg.temperature,
      lr: (it) => learningRate(schedule, step0 + it),
      ref: ref ?? undefined,
      sampler: genParams,
      onStep: (it, m) => {
        state.step++;
        state.num_tokens += roundTokens;
        const row: Record<string, number> = {
          step: state.step,
          epoch: ((state.round + 1) * promptsPerRound) / train.length,
          loss: m.loss,
          grad_norm: m.grad_norm,
          learning_rate: learningRate(schedule, step0 + it),
          num_tokens: state.num_tokens,
          ...round.metrics,
          kl: m.kl,
          entropy: m.entropy,
          "clip_ratio/low_mean": m.clipLow,
          "clip_ratio/high_mean": m.clipHigh,
          "clip_ratio/region_mean": m.clipFrac,
          rollout_seconds: round.generateSeconds,
          step_seconds: (performance.now() - ts) / 1000,
          tokens_per_s: round.generated / round.generateSeconds,
        };
        appendJsonl(join(out, "metrics.jsonl"), row);
        bar.update(state.step, {
          reward: row.reward,
          ...(round.perFn.accuracy ? { acc: row["rewards/accuracy/mean"] } : {}),
          len: row["completions/mean_length"],
          kl: row.kl,
          clip: row["clip_ratio/region_mean"],
          ent: row.entropy,
        });
        if (state.step % cfg.logging_steps === 0 || state.step === 1)
          for (let r = 0; r < G; r++)
            appendJsonl(join(out, "samples.jsonl"), {
              step: state.step,
              prompt: items[r].prompt,
              completion: items[r].completion,
              reward: round.total[r],
              advantage: adv[r],
              rewards: Object.fromEntries(rewards.map((f) => [f.name, round.perFn[f.name][r]])),
            });
      },
    });
    release(genParams);
    state.round++;
    if (crossed(state.step, cfg.save_steps) || state.step >= maxSteps)
      await saveGrpoState(join(out, "checkpoint"), {
        trainable: lora ? tr.trainable : tr.params,
        opt: tr.optState,
        state,
        config: mc,
        lora,
        baseModel: cfg.model,
        tokenizer: m.tokenizer,
      });
    if (evalDue(state.step) && !evals.some((e) => e.step === state.step)) await evaluate(state.step);
  }
  bar.done();

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
