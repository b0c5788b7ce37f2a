// SFT data from JSONL, JSON or Parquet files (or a downloaded dataset folder), in the formats open
// reasoning datasets use:
//   messages: [{role, content}, ...]           open-r1/Mixture-of-Thoughts, open-r1/OpenR1-Math-220k
//   conversations: [{from, value}, ...]        ShareGPT spelling (human/gpt/system), or {role, content}
//   prompt + completion                         TRL's prompt-completion format (strings, or message lists)
// Reading goes through src/eval/data.ts, so every error names the file, the line (row for Parquet)
// and the field. Records then become SftExamples with sft-data.ts (chat template or char template).
import { type DataRow, DataError, readRows } from "../eval/data.ts";
import type { ChatMessage } from "../hf/chat-template.ts";
import type { Tokenizer } from "../hf/tokenizer.ts";
import type { CharTokenizer } from "../tasks/char-tokenizer.ts";
import type { SftExample } from "./sft-batch.ts";
import { chatToExamples, promptCompletionToExample } from "./sft-data.ts";

export interface SftRecord {
  /** The conversation (for messages/conversations rows, and prompt/completion message lists). */
  messages?: ChatMessage[];
  /** Plain-text prompt/completion rows. */
  prompt?: string;
  completion?: string;
  /** "file:line", for errors. */
  where: string;
}

const SHAREGPT_ROLES: Record<string, string> = {
  human: "user",
  user: "user",
  gpt: "assistant",
  assistant: "assistant",
  system: "system",
  tool: "tool",
};

function messageList(row: DataRow, field: string, value: unknown): ChatMessage[] {
  const at = `${row.file}:${row.line}`;
  if (!Array.isArray(value))
    throw new DataError(`${at}: field '${field}' must be a list of messages, got ${typeof value}`);
  return value.map((m, i) => {
    const f = `${field}[${i}]`;
    if (m === null || typeof m !== "object")
      throw new DataError(`${at}: field '${f}' must be an object, got ${JSON.stringify(m)}`);
    const o = m as Record<string, unknown>;
    const sharegpt = o.role === undefined && o.from !== undefined;
    const role = sharegpt ? SHAREGPT_ROLES[String(o.from)] : o.role;
    const content = sharegpt ? o.value : o.content;
    if (typeof role !== "string")
      throw new DataError(
        `${at}: field '${f}.${sharegpt ? "from" : "role"}' must be ${sharegpt ? "human, gpt or system" : "a string"}, got ${JSON.stringify(sharegpt ? o.from : o.role)}`,
      );
    if (typeof content !== "string")
      throw new DataError(
        `${at}: field '${f}.${sharegpt ? "value" : "content"}' must be a string, got ${JSON.stringify(content)}`,
      );
    return { role, content };
  });
}

/** One row as an SftRecord; errors name file, line and field. */
export function toSftRecord(row: DataRow): SftRecord {
  const where = `${row.file}:${row.line}`;
  const f = row.fields;
  for (const name of ["messages", "conversations"]) {
    if (f[name] !== undefined && f[name] !== null)
      return { messages: messageList(row, name, f[name]), where };
  }
  if (f.prompt !== undefined && f.completion !== undefined) {
    if (typeof f.prompt === "string" && typeof f.completion === "string")
      return { prompt: f.prompt, completion: f.completion, where };
    if (Array.isArray(f.prompt) && Array.isArray(f.completion))
      return {
        messages: [...messageList(row, "prompt", f.prompt), ...messageList(row, "completion", f.completion)],
        where,
      };
    throw new DataError(
      `${where}: fields 'prompt' and 'completion' must both be strings or both be message lists`,
    );
  }
  throw new DataError(
    `${where}: no 'messages', 'conversations' or 'prompt'+'completion' field (has: ${Object.keys(f).join(", ")})`,
  );
}

/** SFT records from a file or dataset folder (split "train" by default). */
export async function readSftRecords(
  path: string,
  opts: { split?: string; limit?: number } = {},
): Promise<SftRecord[]> {
  const rows = await readRows(path, { split: opts.split ?? "train" });
  const take = opts.limit ? rows.slice(0, opts.limit) : rows;
  if (take.length === 0) throw new DataError(`${path}: no rows`);
  return take.map(toSftRecord);
}

/** Records as examples with a Hugging Face tokenizer: chat template when it has one, else plain text + EOS. */
export function recordsToExamples(tok: Tokenizer, records: SftRecord[]): SftExample[] {
  const hasTemplate = Object.keys(tok.chatTemplates).length > 0;
  return records.flatMap((r) => {
    if (r.messages && !hasTemplate)
      throw new DataError(
        `${r.where}: a conversation needs a chat template, and ${tok.source} has none (use prompt/completion rows, or add chat_template.jinja)`,
      );
    if (r.messages) return chatToExamples(tok, r.messages, r.where);
    if (hasTemplate)
      return chatToExamples(
        tok,
        [
          { role: "user", content: r.prompt! },
          { role: "assistant", content: r.completion! },
        ],
        r.where,
      );
    const p = [
      ...(tok.bosTokenId !== null ? [tok.bosTokenId] : []),
      ...tok.encode(r.prompt!, { addSpecialTokens: false }),
    ];
    const c = [...tok.encode(r.completion!, { addSpecialTokens: false }), ...tok.eosTokenIds.slice(0, 1)];
    return [{ inputIds: [...p, ...c], lossMask: [...p.map(() => 0), ...c.map(() => 1)] }];
  });
}

/** Records as examples for r1lab's character-level models: {prompt, completion}, or a user + assistant pair. */
export function recordsToCharExamples(
  tok: CharTokenizer,
  records: SftRecord[],
  template?: string,
): SftExample[] {
  return records.map((r) => {
    if (r.messages) {
      const user = r.messages.filter((m) => m.role === "user");
      const asst = r.messages.filter((m) => m.role === "assistant");
      if (user.length !== 1 || asst.length !== 1)
        throw new DataError(
          `${r.where}: a character-level model takes one user and one assistant message, got roles ${r.messages.map((m) => m.role).join(", ")}`,
        );
      return promptCompletionToExample(tok, user[0].content, asst[0].content, template);
    }
    return promptCompletionToExample(tok, r.prompt!, r.completion!, template);
  });
}
