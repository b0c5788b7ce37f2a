// Distillation against a scripted OpenAI-compatible teacher that solves arithmetic problems in 3 of
// 4 samples, 2 of them in R1's format: only verified, well-formed, distinct traces are kept; the
// student is SFT'd on them and evaluated with the same verifier as the teacher; a rerun reuses the
// traces and finished stages without asking the teacher again.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenAIBackend } from "../src/backends/openai.ts";
import { initEngine } from "../src/engine/index.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { ZERO_TEMPLATE } from "../src/tasks/template.ts";
import { getSyntheticTask, problemsOf } from "../src/tasks/registry.ts";
import { collectTraces, type DistillTrace, traceStats, verifyTrace } from "../src/runs/distill-traces.ts";
import { type DistillConfig, runDistill } from "../src/runs/distill.ts";
import { type FakeOpenAIServer, startFakeOpenAI } from "./helpers/fake-openai-server.ts";
import { scriptedTeacher } from "./helpers/scripted-teacher.ts";

let server: FakeOpenAIServer;
let dir: string;
beforeAll(async () => {
  await initEngine({ device: "cpu" });
  server = await startFakeOpenAI({ answer: scriptedTeacher });
  dir = mkdtempSync(join(tmpdir(), "r1lab-distill-"));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const backend = () => new OpenAIBackend({ baseUrl: `${server.url}/v1`, model: "fake-model", retryBaseMs: 1 });

describe("teacher traces", () => {
  it("keeps only verified, well-formed, distinct traces (up to max per problem)", async () => {
    const problems = problemsOf(getSyntheticTask("arithmetic"), "train", 5, 1);
    const b = backend();
    const o = {
      backend: b,
      problems,
      samples: 8,
      sampling: { temperature: 0.6, topP: 0.95, maxTokens: 64 },
      template: ZERO_TEMPLATE,
      chat: true,
    };
    const traces = await collectTraces(o);
    expect(traces).toHaveLength(40);
    for (const t of traces) {
      const p = problems.find((x) => x.id === t.id)!;
      const v = verifyTrace(t.completion, p);
      expect([t.correct, t.well_formed]).toEqual([v.correct, v.well_formed]);
      if (t.kept) expect(v.correct && v.well_formed).toBe(true);
    }
    // Samples 0/4 and 2/6 repeat the same two texts: two distinct kept traces per problem.
    expect(traceStats(traces)).toEqual({
      samples: 40,
      correct: 30,
      well_formed: 30,
      kept: 10,
      problems_covered: 5,
    });
    const one = await collectTraces({ ...o, maxPerProblem: 1 });
    expect(one.filter((t) => t.kept).map((t) => t.sample_index)).toEqual([0, 0, 0, 0, 0]);
    await b.close();
  });
});

describe("runDistill", () => {
  const cfg: DistillConfig = {
    task: "arithmetic",
    teacher: "fake",
    teacher_backend: "openai",
    student: null,
    template: ZERO_TEMPLATE,
    seed: 2,
    train_problems: 12,
    samples: 4,
    max_per_problem: 4,
    temperature: 0.6,
    top_p: 0.95,
    max_tokens: 24,
    sft: {
      learning_rate: 3e-3,
      max_steps: 25,
      per_device_train_batch_size: 4,
      gradient_accumulation_steps: 1,
      max_seq_length: 96,
      packing: true,
      seed: 2,
      save_steps: 10,
    },
    eval: { n_problems: 4, k: 4, teacher: true },
  };

  it("trains the student on kept traces only and reports student and teacher with R1's protocol", async () => {
    const out = join(dir, "run");
    const b = backend();
    const s = await runDistill(cfg, b, out, () => {});
    expect(s.traces).toMatchObject({
      samples: 48,
      correct: 36,
      well_formed: 36,
      kept: 24,
      sft_examples: 24,
      skipped_unencodable: 0,
    });
    const kept = readFileSync(join(out, "traces.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as DistillTrace)
      .filter((t) => t.kept);
    expect(kept.every((t) => t.correct && t.well_formed && t.completion.startsWith("<think>"))).toBe(true);
    expect(s.sft.steps).toBe(25);
    expect(s.sft.last_loss!).toBeLessThan(s.sft.first_loss! * 0.6);
    expect(s.student.k).toBe(4);
    expect(s.student.pass1).toBeGreaterThanOrEqual(0);
    expect(s.student.pass1).toBeLessThanOrEqual(1);
    // The scripted teacher: 3 of 4 samples correct, 3 of 4 in R1's format, on every problem.
    expect(s.teacher_eval).toMatchObject({ pass1: 0.75, passk: 1, k: 4, n_problems: 4 });
    expect(s.teacher_eval!.format_rate).toBeCloseTo(0.75, 10);
    const student = await loadModel(join(out, "student"));
    expect(student.config.modelType).toBe("qwen2");
    expect(student.config.nRoutedExperts).toBe(0);
    // Rerun: traces, SFT and evaluations are reused; the teacher is not asked again.
    const before = server.requests.length;
    const again = await runDistill(cfg, b, out, () => {});
    expect(server.requests.length).toBe(before);
    expect(again.student).toEqual(s.student);
    expect(again.sft).toEqual(s.sft);
    await b.close();
  }, 120_000);
});
