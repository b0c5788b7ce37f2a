// The reward functions of `r1lab grpo`, by the names a config weights them with (reward_weights).
// Each scores a batch of completions (one call per generation batch, so a remote one is one HTTP
// request); null means "not applicable" and counts as 0 in the weighted sum, as TRL's None does.
//   accuracy              the task's own scorer from src/eval (math equivalence, code in the sandbox,
//                         choice letters, synthetic verifiers): reward = evaluation by construction
//   format                R1's shape: reasoning inside <think>...</think>, then a non-empty answer
//                         (the <think> may be the prompt's last token, as R1's chat template ends)
//   language_consistency  R1 §2.3.3: share of the reasoning's words in the target language's script
//   length                DAPO's soft overlong punishment (Eq. 13): 0 up to L_max - L_cache, then a
//                         linear ramp to -1 at L_max (a truncated completion gets -1)
//   remote:URL            any server that speaks the /get_reward API of `r1lab serve rewards`
import type { EvalProblem, EvalTask } from "../eval/tasks/types.ts";

export interface Scored {
  /** The prompt text the policy saw (after the chat template). */
  prompt: string;
  completion: string;
  completionTokens: number;
  finishReason: "stop" | "length";
  problem: EvalProblem;
}

export type BatchReward = (items: Scored[]) => Promise<(number | null)[]>;

export interface RewardContext {
  task: EvalTask;
  maxCompletionLength: number;
  /** L_cache of the length reward (DAPO's overlong buffer); default max_completion_length / 4. */
  overlongBuffer?: number;
  /** language_consistency's target: "en" (Latin script) or "zh" (CJK). Default "en". */
  language?: string;
  /** Per-request time limit of remote rewards, ms. Default 60 s. */
  remoteTimeoutMs?: number;
}

/** Split R1's completion shape into the reasoning and what follows it; null when it has no </think>. */
export function splitThink(prompt: string, completion: string): { think: string; answer: string } | null {
  const promptOpens = /<think>\s*$/.test(prompt);
  const text = promptOpens ? completion : completion.replace(/^\s*<think>/, "");
  if (!promptOpens && !/^\s*<think>/.test(completion)) return null;
  const close = text.indexOf("</think>");
  if (close < 0 || text.indexOf("<think>") >= 0) return null;
  const rest = text.slice(close + "</think>".length);
  if (rest.includes("</think>")) return null;
  return { think: text.slice(0, close), answer: rest };
}

export function formatScore(prompt: string, completion: string): number {
  const s = splitThink(prompt, completion);
  if (!s || s.think.trim().length === 0 || s.answer.trim().length === 0) return 0;
  // With <answer> tags (the R1-Zero template), they must close, once.
  if (/<\/?answer>/.test(s.answer) && !/^\s*<answer>[\s\S]*\S[\s\S]*<\/answer>\s*$/.test(s.answer)) return 0;
  return 1;
}

const SCRIPTS: Record<string, RegExp> = {
  en: /^[A-Za-z\u00C0-\u024F]+$/,
  zh: /^[\u3400-\u9FFF\uF900-\uFAFF]+$/,
};

/** Share of the reasoning's words (runs of letters; each CJK character counts as one) in the language's script. */
export function languageShare(text: string, language: string): number {
  const inScript = SCRIPTS[language];
  if (!inScript)
    throw new Error(
      `language_consistency: unknown language '${language}' (known: ${Object.keys(SCRIPTS).join(", ")})`,
    );
  const words = text.match(/[\u3400-\u9FFF\uF900-\uFAFF]|\p{L}+/gu) ?? [];
  if (words.length === 0) return 0;
  return words.filter((w) => inScript.test(w)).length / words.length;
}

/** DAPO Eq. 13 for a completion of `n` tokens. */
export function overlongPenalty(n: number, maxLen: number, buffer: number): number {
  if (n <= maxLen - buffer) return 0;
  if (n <= maxLen) return (maxLen - buffer - n) / buffer;
  return -1;
}

/** POST {query, prompts, labels, task} to `url` (…/get_reward) and read {rewards}. */
export function remoteReward(url: string, task: string, timeoutMs: number): BatchReward {
  return async (items) => {
    const body = {
      query: items.map((x) => x.prompt + x.completion),
      prompts: items.map((x) => x.prompt),
      labels: items.map((x) =>
        x.problem.meta.example !== undefined ? JSON.stringify(x.problem.meta.example) : x.problem.gold,
      ),
      task,
    };
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new Error(`remote reward ${url}: request failed (${(e as Error).message})`);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`remote reward ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    let rewards: unknown;
    try {
      rewards = (JSON.parse(text) as { rewards?: unknown }).rewards;
    } catch {
      throw new Error(`remote reward ${url}: the reply is not JSON: ${text.slice(0, 200)}`);
    }
    if (
      !Array.isArray(rewards) ||
      rewards.length !== items.length ||
      !rewards.every((r) => r === null || typeof r === "number")
    )
      throw new Error(
        `remote reward ${url}: 'rewards' must be ${items.length} numbers, got ${JSON.stringify(rewards)?.slice(0, 200)}`,
      );
    return rewards as (number | null)[];
  };
}

export const REWARD_NAMES = ["accuracy", "format", "language_consistency", "length"] as const;

/** The reward function called `name` (one of REWARD_NAMES, or remote:URL). */
export function rewardFunction(name: string, ctx: RewardContext): BatchReward {
  const perItem =
    (f: (x: Scored) => number | null | Promise<number | null>): BatchReward =>
    async (items) => {
      const out: (number | null)[] = [];
      for (const x of items) out.push(await f(x));
      return out;
    };
  if (name === "accuracy")
    return perItem(async (x) => ((await ctx.task.score(x.completion, x.problem)).correct ? 1 : 0));
  if (name === "format") return perItem((x) => formatScore(x.prompt, x.completion));
  if (name === "language_consistency") {
    const lang = ctx.language ?? "en";
    languageShare("", lang); // unknown languages fail before the run starts
    return perItem((x) => {
      const s = splitThink(x.prompt, x.completion);
      return languageShare(s ? s.think : x.completion, lang);
    });
  }
  if (name === "length") {
    const buffer = ctx.overlongBuffer ?? Math.max(1, Math.floor(ctx.maxCompletionLength / 4));
    if (!(Number.isInteger(buffer) && buffer >= 1 && buffer <= ctx.maxCompletionLength))
      throw new Error(
        `overlong_buffer_length must be an integer from 1 to max_completion_length (${ctx.maxCompletionLength}), got ${buffer}`,
      );
    return perItem((x) => overlongPenalty(x.completionTokens, ctx.maxCompletionLength, buffer));
  }
  if (name.startsWith("remote:")) {
    const url = name.slice("remote:".length);
    if (!/^https?:\/\/\S+$/.test(url))
      throw new Error(`reward '${name}': expected remote:http(s)://host:port/get_reward`);
    return remoteReward(url, ctx.task.name, ctx.remoteTimeoutMs ?? 60_000);
  }
  throw new Error(`unknown reward function '${name}' (known: ${REWARD_NAMES.join(", ")}, remote:URL)`);
}

export interface NamedReward {
  name: string;
  weight: number;
  fn: BatchReward;
}

/** Score a batch with every function: per-function values (null kept) and the weighted totals. */
export async function scoreBatch(
  fns: NamedReward[],
  items: Scored[],
): Promise<{ perFn: Record<string, (number | null)[]>; total: number[] }> {
  const perFn: Record<string, (number | null)[]> = {};
  const total = items.map(() => 0);
  for (const f of fns) {
    const v = await f.fn(items);
    perFn[f.name] = v;
    v.forEach((r, i) => {
      total[i] += f.weight * (r ?? 0);
    });
  }
  return { perFn, total };
}
