// Teacher traces for distillation (DeepSeek-R1 §2.4 and §4.1: the small dense models are SFT'd on
// reasoning traces sampled from the big model, kept only when a verifier accepts them). The teacher
// is any GenerationBackend: an r1lab model run in-process (src/backends/native.ts) or an
// OpenAI-compatible server (src/backends/openai.ts). Each problem gets `samples` completions with
// R1's sampling (T 0.6, top-p 0.95); a trace is kept when the task's verifier accepts its
// <answer> and the completion is well formed (<think>...</think><answer>...</answer>), the same
// checks as the accuracy and format rewards of RL (src/rl/rewards.ts).
import type { GenerationBackend, GenRequest, SamplingOptions } from "../backends/types.ts";
import { accuracyReward, formatReward } from "../rl/rewards.ts";
import { applyTemplate } from "../tasks/template.ts";
import type { TaskExample } from "../tasks/types.ts";

export interface DistillTrace {
  id: string;
  sample_index: number;
  prompt: string;
  completion: string;
  finish_reason: string;
  correct: boolean;
  well_formed: boolean;
  kept: boolean;
}

export interface CollectOptions {
  backend: GenerationBackend;
  problems: TaskExample[];
  /** Completions sampled per problem. */
  samples: number;
  sampling: Omit<SamplingOptions, "n">;
  /** R1-Zero prompt template ({problem}). */
  template: string;
  /** Send the templated prompt as a user message (chat servers) instead of plain text (r1lab models). */
  chat: boolean;
  /** Keep at most this many verified traces per problem (distinct completions; default all). */
  maxPerProblem?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The request for one problem, as `r1lab eval` sends it for synthetic tasks. */
export function teacherRequest(problem: TaskExample, template: string, chat: boolean): GenRequest {
  const text = applyTemplate(problem.prompt, template);
  return chat ? { messages: [{ role: "user", content: text }] } : { prompt: text };
}

/** Whether a teacher's completion is kept: verified answer and R1's output format. */
export function verifyTrace(
  completion: string,
  problem: TaskExample,
): { correct: boolean; well_formed: boolean } {
  return {
    correct: accuracyReward(completion, problem) === 1,
    well_formed: formatReward(completion, problem) === 1,
  };
}

/** Sample, verify and mark which traces are kept (distinct per problem, up to maxPerProblem). */
export async function collectTraces(o: CollectOptions): Promise<DistillTrace[]> {
  if (!(Number.isInteger(o.samples) && o.samples >= 1))
    throw new Error(`distill: samples must be an integer >= 1, got ${o.samples}`);
  let done = 0;
  const results = await o.backend.generate(
    o.problems.map((p) => teacherRequest(p, o.template, o.chat)),
    { ...o.sampling, n: o.samples },
    () => o.onProgress?.(++done, o.problems.length),
  );
  const traces: DistillTrace[] = [];
  results.forEach((r, i) => {
    const p = o.problems[i];
    const seen = new Set<string>();
    r.completions.forEach((completion, j) => {
      const v = verifyTrace(completion, p);
      const kept =
        v.correct &&
        v.well_formed &&
        !seen.has(completion) &&
        seen.size < (o.maxPerProblem ?? Number.POSITIVE_INFINITY);
      if (kept) seen.add(completion);
      traces.push({
        id: p.id,
        sample_index: j,
        prompt: p.prompt,
        completion,
        finish_reason: r.finishReasons[j] ?? "",
        ...v,
        kept,
      });
    });
  });
  return traces;
}

/** Counts for reports: samples, verified, kept, and problems with at least one kept trace. */
export function traceStats(traces: DistillTrace[]): {
  samples: number;
  correct: number;
  well_formed: number;
  kept: number;
  problems_covered: number;
} {
  return {
    samples: traces.length,
    correct: traces.filter((t) => t.correct).length,
    well_formed: traces.filter((t) => t.well_formed).length,
    kept: traces.filter((t) => t.kept).length,
    problems_covered: new Set(traces.filter((t) => t.kept).map((t) => t.id)).size,
  };
}
