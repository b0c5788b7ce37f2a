// What the backends that decode token ids themselves (native: jax-js in this process; onnx:
// onnxruntime) share: turning requests into prompt ids (the chat template with the assistant turn
// opened, plain text without a template, BOS first with `bosPrefix` for r1lab's R1-Zero
// checkpoints), and decoding the n samples of all requests as rows (request, sample), request-major,
// in batches of `batchSize` rows with seed + b for batch b, cutting completions at stop strings and
// dropping a final EOS. Each backend supplies only its token decoder.
import type { GenerateOptions, GenerateResult } from "../generate/generate.ts";
import type { Tokenizer } from "../hf/tokenizer.ts";
import type { GenRequest, GenResult, SamplingOptions } from "./types.ts";

/** Text <-> ids, over either tokenizer kind (Hugging Face or r1lab's character tokenizer). */
export interface Codec {
  encode(text: string): number[];
  decode(ids: number[]): string;
  chat: Tokenizer | null;
  eosIds: number[];
  bosId: number | null;
  padId: number;
}

/** Decodes one batch of left-padded prompts (generate() or an ONNX session). */
export type DecodeBatch = (prompts: number[][], o: GenerateOptions) => Promise<GenerateResult>;

/** The prompt ids of request `i`; `who` names the backend in errors. */
export function encodeRequest(who: string, codec: Codec, bosPrefix: boolean, r: GenRequest, i = 0): number[] {
  let ids: number[];
  if (r.messages?.length) {
    if (codec.chat)
      ids = codec.chat.encodeChat(
        r.messages.map((m) => ({ role: m.role, content: m.content })),
        { addGenerationPrompt: true },
      );
    else ids = codec.encode(r.messages.map((m) => m.content).join("\n\n"));
  } else if (typeof r.prompt === "string") ids = codec.encode(r.prompt);
  else throw new Error(`${who}: request ${i} has neither messages nor a prompt`);
  if (bosPrefix && !(ids.length > 0 && ids[0] === codec.bosId)) ids = [codec.bosId!, ...ids];
  if (ids.length === 0) throw new Error(`${who}: request ${i} encodes to no tokens`);
  return ids;
}

export async function generateRows(
  b: {
    who: string;
    codec: Codec;
    bosPrefix: boolean;
    batchSize: number;
    positions: number;
    decode: DecodeBatch;
  },
  requests: GenRequest[],
  opts: SamplingOptions,
  onResult?: (index: number, result: GenResult) => void,
): Promise<GenResult[]> {
  const { who, codec } = b;
  if (!(Number.isInteger(opts.n) && opts.n >= 1))
    throw new Error(`${who}: n must be an integer >= 1, got ${opts.n}`);
  const prompts = requests.map((r, i) => encodeRequest(who, codec, b.bosPrefix, r, i));
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  // A stop string of L characters lies within the last L + 8 tokens (tokens are rarely empty).
  const window = stops.length ? Math.max(...stops.map((s) => s.length)) + 8 : 0;
  const hitsStop = (ids: number[]) => stops.some((s) => codec.decode(ids.slice(-window)).includes(s));
  const rows = requests.flatMap((_, r) => Array.from({ length: opts.n }, (_, s) => ({ r, s })));
  const results: GenResult[] = requests.map(() => ({
    completions: new Array<string>(opts.n),
    finishReasons: new Array<string>(opts.n),
    usage: { promptTokens: 0, completionTokens: 0 },
  }));
  const left = requests.map(() => opts.n);
  for (let k = 0; k * b.batchSize < rows.length; k++) {
    const chunk = rows.slice(k * b.batchSize, (k + 1) * b.batchSize);
    const ids = chunk.map(({ r }) => prompts[r]);
    const longest = Math.max(...ids.map((x) => x.length));
    const maxNew = Math.min(opts.maxTokens, b.positions - longest);
    if (maxNew < 1)
      throw new Error(
        `${who}: a prompt of ${longest} tokens leaves no room in the model's ${b.positions} positions`,
      );
    const out = await b.decode(ids, {
      temperature: opts.temperature,
      topP: opts.topP,
      topK: opts.topK ?? 0,
      maxNewTokens: maxNew,
      eosTokenIds: codec.eosIds,
      padTokenId: codec.padId,
      seed: (opts.seed ?? 0) + k,
      shouldStop: stops.length ? (_row, newIds) => hitsStop(newIds) : undefined,
    });
    chunk.forEach(({ r, s }, j) => {
      const newIds = out.ids[j];
      const kept =
        newIds.length > 0 && codec.eosIds.includes(newIds[newIds.length - 1]) ? newIds.slice(0, -1) : newIds;
      let text = codec.decode(kept);
      for (const stop of stops) {
        const at = text.indexOf(stop);
        if (at >= 0) text = text.slice(0, at);
      }
      const res = results[r];
      res.completions[s] = text;
      res.finishReasons[s] = out.finishReasons[j];
      res.usage!.promptTokens += prompts[r].length;
      res.usage!.completionTokens += newIds.length;
      if (--left[r] === 0) onResult?.(r, res);
    });
  }
  return results;
}
