// The generation interface every backend shares (the in-process jax-js model, an OpenAI-compatible
// server, ...): a batch of prompts in, n sampled completions per prompt out. Evaluation and RL
// rollouts call only this, so where the tokens come from is a command-line choice.

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** One prompt: chat messages (the backend applies the chat template) or a raw, templated prompt. */
export interface GenRequest {
  messages?: ChatMessage[];
  prompt?: string;
}

/** Sampling settings, named as in HF generate / the OpenAI API. */
export interface SamplingOptions {
  /** 0 means greedy. R1's evaluation: 0.6. */
  temperature: number;
  /** Nucleus sampling mass; 1 disables. R1's evaluation: 0.95. */
  topP: number;
  /** Keep the k most likely tokens; absent or 0 disables. */
  topK?: number;
  /** Most new tokens per completion. */
  maxTokens: number;
  /** Completions sampled per request (R1's pass@1 uses k = 4..64). */
  n: number;
  seed?: number;
  /** Strings that end a completion (not included in it). */
  stop?: string[];
}

/** The completions of one request, in sample order. */
export interface GenResult {
  completions: string[];
  /** Per completion: "stop" (EOS or a stop string), "length" (maxTokens reached), or the backend's word. */
  finishReasons: string[];
  /** Token counts summed over the completions (and over HTTP requests for a server). */
  usage?: { promptTokens: number; completionTokens: number };
}

export interface GenerationBackend {
  /** What generated the text, for result files, e.g. "openai:http://host:8000/v1 model=..." or a model dir. */
  name: string;
  /**
   * Generate for every request; results come back in request order. `onResult` fires as each
   * request completes (in completion order), for progress bars and incremental saving.
   */
  generate(
    requests: GenRequest[],
    opts: SamplingOptions,
    onResult?: (index: number, result: GenResult) => void,
  ): Promise<GenResult[]>;
  /** Release what the backend holds (in-flight HTTP requests, device memory). */
  close(): Promise<void>;
}
