// The main job: R1-Zero in miniature. Pretrain a tiny DeepSeek-style base model (MLA + DeepSeekMoE
// + MTP) on a noisy corpus of reasoning traces, measure it on held-out problems, run GRPO with rule
// rewards only, measure again. Everything lands in runs/<name>/ (see docs/r1-zero.md); a run killed
// at any point resumes from its last checkpoint and produces the same metrics as an uninterrupted one.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "../engine/atomic.ts";
import { appendJsonl, truncateJsonl } from "../engine/jsonl.ts";
import { engineInfo } from "../engine/device.ts";
import type { AdamWState } from "../engine/optim.ts";
import { disposeParams } from "../engine/params.ts";
import { Rng, deriveSeed } from "../engine/rng.ts";
import { learningRate } from "../engine/schedule.ts";
import { initParams } from "../model/init.ts";
import { Progress } from "../report/progress.ts";
import { CharTokenizer } from "../tasks/char-tokenizer.ts";
import { buildCorpus, countRechecks, faithfulness, showsWork } from "../tasks/corpus.ts";
import { packSequences } from "../train/batch.ts";
import { makeSftBatch } from "../train/sft-batch.ts";
import { loadCheckpoint, saveCheckpoint } from "../train/checkpoint.ts";
import { type LmBatch, lmLoss } from "../train/lm-loss.ts";
import { Trainer } from "../train/trainer.ts";
import { type GrpoBatch, grpoLoss } from "./grpo-loss.ts";
import { grpoRollouts } from "./grpo.ts";
import { frozenCopy, grpoUpdate } from "./grpo-update.ts";
import { evaluateSynthetic, type SyntheticEval } from "./evaluate.ts";
import { REWARD_FUNCTIONS } from "./rewards.ts";
import { applyTemplate } from "./template.ts";
import type { ZeroConfig } from "./zero-config.ts";
import { makeTask, runModelConfig } from "./run-setup.ts";
import { writeZeroReport } from "../report/zero-report.ts";
import { mtpAcceptance } from "../generate/mtp-acceptance.ts";


const line = appendJsonl;


export async function runZero(cfg: ZeroConfig, runDir: string, log: (s: string) => void = (s) => process.stderr.write(`${s}\n`)) {
  const t0 = performance.now();
  const task = makeTask(cfg.task, cfg.task_options);
  const testAll = task.generate("test", Math.min(cfg.eval.n_problems || 10_000, task.countProblems?.("test") ?? 10_000), cfg.seed);
  const test = testAll;
  const corpus = buildCorpus({ task, problems: Math.min(cfg.train_problems, task.countProblems?.("train") ?? cfg.train_problems), seed: cfg.seed, tracesPerProblem: cfg.pretrain.traces_per_problem });
  const trainProblems = [...new Map(corpus.map((it) => [it.example.id, it.example])).values()];
  const tok = CharTokenizer.forTexts([
    applyTemplate("", cfg.template),
    ...corpus.map((it) => it.example.prompt + it.completion),
    ...testAll.map((e) => e.prompt),
    "0123456789+-*/() =;",
  ]);
  const mc = runModelConfig(cfg.model, tok);
  const encodeItem = (prompt: string, completion: string) => {
    const p = [tok.bosId, ...tok.encode(applyTemplate(prompt, cfg.template))];
    return { ids: [...p, ...tok.encode(completion), tok.eosId], lossStart: p.length };
  };
  const seqs = corpus.map((it) => encodeItem(it.example.prompt, it.completion));
  const maxPrompt = Math.max(...[...trainProblems, ...testAll].map((e) => encodeItem(e.prompt, "").lossStart));
  const longest = Math.max(...seqs.map((s) => s.ids.length));
  if (!Number.isInteger(cfg.pretrain.max_length) || cfg.pretrain.max_length < 2)
    throw new Error(`config.json: pretrain.max_length must be a positive integer (rows of packed sequences), got ${cfg.pretrain.max_length}; a run from an older r1lab needs a new run`);
  if (longest > cfg.pretrain.max_length) throw new Error(`pretrain.max_length ${cfg.pretrain.max_length} is shorter than the longest corpus sequence (${longest} tokens)`);
  const grpoLen = maxPrompt + cfg.grpo.max_completion_length;
  const ck = (n: string) => join(runDir, "checkpoints", n);
  const files = { pre: join(runDir, "pretrain.jsonl"), metrics: join(runDir, "metrics.jsonl"), samples: join(runDir, "samples.jsonl") };
  const tokJson = tok.toTokenizerJson();
  // The held-out problems, so `r1lab eval` can score a checkpoint on exactly these (same task settings).
  writeFileAtomic(join(runDir, "test_problems.jsonl"), test.map((e) => JSON.stringify(e)).join("\n") + "\n");
  log(`r1lab zero: ${task.name}, ${trainProblems.length} train / ${test.length} test problems, corpus ${corpus.length} traces, vocab ${tok.tokens.length}, device ${engineInfo().device}`);

  // ---------- Phase 1: pretraining ----------
  let params = initParams(mc, cfg.seed);
  let pre0 = 0;
  let optState: AdamWState | undefined;
  const haveBase = existsSync(join(ck("base"), "trainer_state.json"));
  const haveGrpo = existsSync(join(ck("grpo"), "trainer_state.json"));
  if (!haveBase && existsSync(join(ck("pretrain"), "trainer_state.json"))) {
    disposeParams(params);
    const c = loadCheckpoint(ck("pretrain"));
    params = c.params;
    optState = c.opt ?? undefined;
    pre0 = c.state.step;
    log(`resuming pretraining at step ${pre0}`);
  }
  const P = cfg.pretrain;
  if (!haveBase) {
    truncateJsonl(files.pre, pre0);
    const lossW = { mtpLambda: P.mtp_lambda, balanceAlpha: P.balance_alpha };
    const tr = new Trainer<LmBatch>(mc, params, (t, b, batch) => lmLoss(t, b, mc, batch, lossW) as any, { weightDecay: 0.01 }, optState, P.bias_update_gamma);
    const bar = new Progress({ total: P.steps, label: "pretrain" });
    bar.tick(pre0);
    for (let step = pre0; step < P.steps; step++) {
      const ts = performance.now();
      const rng = Rng.stream(cfg.seed, "pretrain-batch", step);
      const rows = packSequences(() => seqs[rng.int(seqs.length)], P.batch_size, P.max_length);
      const { batch } = makeSftBatch(mc, rows, P.max_length, tok.padId);
      const lr = learningRate({ lr: P.learning_rate, warmupSteps: P.warmup_steps, totalSteps: P.steps, decay: "cosine" }, step);
      const m = await tr.update(batch, lr);
      const dt = (performance.now() - ts) / 1000;
      const tokens = rows.reduce((a, r) => a + r.ids.length, 0);
      const row = { step: step + 1, ...m, lr, sequences: rows.reduce((a, r) => a + r.segments[r.segments.length - 1] + 1, 0), tokens_per_s: tokens / dt };
      line(files.pre, row);
      bar.tick(1, { loss: m.loss, ce: m.ce, mtp: m.mtp, imb: m.expert_imbalance ?? 1, "tok/s": Math.round(row.tokens_per_s) });
      const last = step + 1 === P.steps;
      if (last || (step + 1) % (cfg.checkpoint_every * 5) === 0) {
        await saveCheckpoint(last ? ck("base") : ck("pretrain"), { config: mc, params: tr.params, opt: last ? undefined : tr.optState, state: { phase: "pretrain", step: step + 1 }, tokenizerJson: tokJson });
      }
    }
    bar.done();
    params = tr.params;
    disposeParams({ m: tr.optState.m, v: tr.optState.v });
  } else if (!haveGrpo) {
    disposeParams(params);
    params = loadCheckpoint(ck("base")).params;
  }

  // ---------- Phase 2: the base model on held-out problems ----------
  const evalOpts = { k: cfg.eval.k, temperature: cfg.eval.temperature, topP: cfg.eval.top_p, maxCompletionLength: cfg.grpo.max_completion_length, template: cfg.template };
  const evalFile = join(runDir, "eval_base.json");
  let base: SyntheticEval;
  if (existsSync(evalFile)) base = JSON.parse(readFileSync(evalFile, "utf8"));
  else {
    const baseParams = haveGrpo ? loadCheckpoint(ck("base")).params : params;
    const bar = new Progress({ total: test.length, label: "eval base" });
    base = (await evaluateSynthetic(baseParams, mc, tok, test, { ...evalOpts, seed: deriveSeed(cfg.seed, "eval"), onProgress: (d) => bar.tick(d - bar.current) })).result;
    bar.done();
    if (baseParams !== params) disposeParams(baseParams);
    writeJsonAtomic(evalFile, base);
  }
  log(`base: pass@1 ${base.pass1.toFixed(3)}, pass@${base.k} ${base.passk.toFixed(3)}, format ${base.format_rate.toFixed(2)}, length ${base.mean_length.toFixed(1)}, shows work ${(base.shows_work_rate ?? Number.NaN).toFixed(2)}`);

  // ---------- Phase 3: GRPO ----------
  const G = cfg.grpo;
  let g0 = 0;
  optState = undefined;
  if (haveGrpo) {
    disposeParams(params);
    const c = loadCheckpoint(ck("grpo"));
    params = c.params;
    optState = c.opt ?? undefined;
    g0 = c.state.step;
    log(`resuming GRPO at step ${g0}`);
  }
  truncateJsonl(files.metrics, g0);
  truncateJsonl(files.samples, g0);
  const lossCfg = { lossType: G.loss_type, beta: G.beta, epsilon: G.epsilon, epsilonHigh: G.epsilon_high, maxCompletionLength: G.max_completion_length, temperature: G.temperature };
  // pi_ref for beta > 0: the base model this phase starts from (read back when the phase resumes).
  const ref = G.beta > 0 ? (haveGrpo ? loadCheckpoint(ck("base")).params : frozenCopy(params)) : undefined;
  const tr = new Trainer<GrpoBatch>(mc, params, (t, b, batch) => grpoLoss(t, b, mc, batch, lossCfg) as any, { weightDecay: 0.0, beta2: 0.99 }, optState, G.bias_update_gamma);
  const rewardFns = Object.entries(G.reward_weights).map(([name, weight]) => {
    const fn = REWARD_FUNCTIONS[name];
    if (!fn) throw new Error(`grpo.reward_weights: unknown reward '${name}' (known: ${Object.keys(REWARD_FUNCTIONS).join(", ")})`);
    return { name, fn, weight };
  });
  const bar = new Progress({ total: G.steps, label: "grpo" });
  bar.tick(g0);
  for (let step = g0; step < G.steps; step++) {
    const ts = performance.now();
    const res = await grpoRollouts(tr.params, mc, tok, (round) => Rng.stream(cfg.seed, "grpo-prompts", step * 16 + round).shuffle([...trainProblems]).slice(0, G.prompts_per_step), {
      numGenerations: G.num_generations, maxCompletionLength: G.max_completion_length, temperature: G.temperature, topP: G.top_p, topK: 0,
      seed: deriveSeed(cfg.seed, "grpo-sample", step), template: cfg.template, rewardFns,
      scaleRewards: G.scale_rewards, dynamicSampling: G.loss_type === "dapo", maxResampleRounds: G.max_resample_rounds, seqLen: grpoLen,
      // Leaving zero-advantage rows out is exact only when they carry no gradient: beta = 0, one update per batch.
      compact: G.beta === 0 && G.num_iterations === 1 ? { lossType: G.loss_type } : undefined,
    });
    const tGen = (performance.now() - ts) / 1000;
    const lr = learningRate({ lr: G.learning_rate, warmupSteps: 0, totalSteps: G.steps, decay: "constant" }, step);
    const updates = await grpoUpdate(tr, mc, res.batch, { beta: G.beta, numIterations: G.num_iterations, temperature: G.temperature, lr, ref });
    const m = updates[updates.length - 1];
    const all = res.all;
    const correct = all.filter((r) => r.rewards.accuracy === 1);
    const rewards = all.map((r) => r.reward);
    const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
    const dt = (performance.now() - ts) / 1000;
    const row = {
      step: step + 1,
      reward_mean: mean,
      reward_std: Math.sqrt(rewards.reduce((a, b) => a + (b - mean) ** 2, 0) / rewards.length),
      accuracy: correct.length / all.length,
      format_rate: all.filter((r) => r.rewards.format === 1 || /<\/answer>\s*$/.test(r.completion)).length / all.length,
      completion_length: all.reduce((a, r) => a + r.completionIds.length, 0) / all.length,
      kl: m.kl, clip_fraction: m.clipFrac, entropy: m.entropy, zero_variance_fraction: res.zeroVarianceFraction,
      expert_imbalance: m.expert_imbalance ?? 1, loss: m.loss, grad_norm: m.grad_norm, lr,
      faithful_rate: correct.length ? correct.filter((r) => faithfulness(r.completion, r.example).faithful).length / correct.length : 0,
      rechecks: all.reduce((a, r) => a + countRechecks(r.completion), 0) / all.length,
      shows_work_rate: all.filter((r) => showsWork(r.completion)).length / all.length,
      tokens_per_s: res.generatedTokens / dt, rollout_seconds: tGen, step_seconds: dt,
    };
    line(files.metrics, row);
    for (const r of all.slice(0, 2)) line(files.samples, { step: step + 1, prompt: r.example.prompt, completion: r.completion, reward: r.reward });
    bar.tick(1, { reward: row.reward_mean, acc: row.accuracy, len: row.completion_length, kl: row.kl, "tok/s": Math.round(row.tokens_per_s) });
    if ((step + 1) % cfg.checkpoint_every === 0 || step + 1 === G.steps) {
      await saveCheckpoint(ck("grpo"), { config: mc, params: tr.params, opt: tr.optState, state: { phase: "grpo", step: step + 1 }, tokenizerJson: tokJson });
    }
  }
  bar.done();
  if (ref) disposeParams(ref);

  // ---------- Phase 4: the RL model on the same held-out problems ----------
  const ebar = new Progress({ total: test.length, label: "eval final" });
  const finalEval = await evaluateSynthetic(tr.params, mc, tok, test, { ...evalOpts, seed: deriveSeed(cfg.seed, "eval"), onProgress: (d) => ebar.tick(d - ebar.current) });
  const final = finalEval.result;
  ebar.done();
  // MTP as a speculative drafter: acceptance of its second-token drafts on the final model's own outputs.
  const mtp = await mtpAcceptance(tr.params, mc, finalEval.samples.slice(0, 64).map((s) => ({ ids: [...s.promptIds, ...s.completionIds], from: s.promptIds.length })), tok.padId);
  await saveCheckpoint(ck("final"), { config: mc, params: tr.params, state: { phase: "final", step: G.steps }, tokenizerJson: tokJson });
  const summary = {
    base: { pass1: base.pass1, passk: base.passk, k: base.k },
    final: { pass1: final.pass1, passk: final.passk, k: final.k },
    gain_pass1: final.pass1 - base.pass1,
    mtp_acceptance: mtp,
    base_detail: base,
    final_detail: final,
    wall_seconds: (performance.now() - t0) / 1000,
    device: engineInfo().device + (engineInfo().adapter ? ` (${engineInfo().adapter})` : ` (${engineInfo().threads} threads)`),
    resumed: pre0 > 0 || g0 > 0 || haveBase,
  };
  writeJsonAtomic(join(runDir, "summary.json"), summary);
  await writeZeroReport(runDir, cfg, summary);
  log(`final: pass@1 ${final.pass1.toFixed(3)} (base ${base.pass1.toFixed(3)}), pass@${final.k} ${final.passk.toFixed(3)} (base ${base.passk.toFixed(3)}); ${runDir}/report.html`);
  return summary;
}
