// SFT data: assistant-only masks from a chat template rendered incrementally (ChatML: one example;
// an R1-like template that rewrites history: one example per assistant turn), the R1-Zero template
// for character-level models, and the loaders for JSONL/Parquet in messages, ShareGPT and
// prompt-completion formats with errors naming file, line and field.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Tokenizer, loadTokenizer } from "../src/hf/tokenizer.ts";
import { CharTokenizer } from "../src/tasks/char-tokenizer.ts";
import { chatToExamples, promptCompletionToExample } from "../src/train/sft-data.ts";
import { readSftRecords, recordsToCharExamples, recordsToExamples } from "../src/train/sft-loader.ts";

const FIXTURE = join(import.meta.dirname, "fixtures", "hf-reference", "tiny-qwen2");
const CHATML =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const R1_LIKE =
  "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}<|User|>{{ m.content }}" +
  "{% elif m.role == 'assistant' %}{% set content = m.content %}{% if '</think>' in content and not loop.last %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
  "<|Assistant|>{{ content }}{{ eos_token }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|Assistant|><think>\\n' }}{% endif %}";

let dir: string;
let chatml: Tokenizer;
async function tokenizerWith(template: string, name: string): Promise<Tokenizer> {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  copyFileSync(join(FIXTURE, "tokenizer.json"), join(d, "tokenizer.json"));
  copyFileSync(join(FIXTURE, "tokenizer_config.json"), join(d, "tokenizer_config.json"));
  writeFileSync(join(d, "chat_template.jinja"), template);
  return loadTokenizer(d);
}
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "r1lab-sft-data-"));
  chatml = await tokenizerWith(CHATML, "chatml");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const targetsText = (tok: Tokenizer, e: { inputIds: number[]; lossMask: number[] }) =>
  tok.decode(e.inputIds.filter((_, i) => e.lossMask[i]));
const conversation = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "What is 2+3?" },
  { role: "assistant", content: "<think>\n2+3=5\n</think>\n5" },
  { role: "user", content: "And 5+5?" },
  { role: "assistant", content: "10" },
];

describe("chat-template masks", () => {
  it("ChatML: one example, the whole conversation's tokens, targets = assistant turns with their end tokens", () => {
    const ex = chatToExamples(chatml, conversation);
    expect(ex).toHaveLength(1);
    expect(ex[0].inputIds).toEqual(chatml.encodeChat(conversation));
    expect(targetsText(chatml, ex[0])).toBe("<think>\n2+3=5\n</think>\n5<|im_end|>\n10<|im_end|>\n");
    // The context keeps the assistant header untrained.
    const firstTarget = ex[0].lossMask.indexOf(1);
    expect(chatml.decode(ex[0].inputIds.slice(0, firstTarget)).endsWith("<|im_start|>assistant\n")).toBe(
      true,
    );
  });

  it("a template that rewrites earlier turns (</think> stripping of history) gives one example per assistant turn", async () => {
    const tok = await tokenizerWith(R1_LIKE, "r1");
    const ex = chatToExamples(tok, conversation);
    expect(ex).toHaveLength(2);
    // Turn 1 extends the "<|Assistant|><think>\n" generation prompt: only what follows is trained.
    expect(targetsText(tok, ex[0])).toBe("2+3=5\n</think>\n5<|endoftext|>");
    // Turn 2 has no <think>: it does not extend the generation prompt, so its header is trained too.
    expect(targetsText(tok, ex[1])).toBe("<|Assistant|>10<|endoftext|>");
    // The second example's context has the first answer without its reasoning, as the template renders history.
    expect(tok.decode(ex[1].inputIds)).toContain("<|Assistant|>\n5<|endoftext|><|User|>And 5+5?");
  });

  it("names the conversation when there is nothing to train on", () => {
    expect(() => chatToExamples(chatml, [{ role: "user", content: "hi" }], "d.jsonl:4")).toThrow(
      /d\.jsonl:4: no assistant message/,
    );
  });

  it("character tokenizer: BOS + R1-Zero template are context, completion + EOS are targets", () => {
    const tok = new CharTokenizer();
    const e = promptCompletionToExample(tok, "2+3", "<think>2+3=5</think><answer>5</answer>");
    expect(e.inputIds[0]).toBe(tok.bosId);
    expect(e.inputIds.at(-1)).toBe(tok.eosId);
    const n = e.lossMask.filter((m) => m === 1).length;
    expect(n).toBe(tok.encode("<think>2+3=5</think><answer>5</answer>").length + 1);
    expect(tok.decode(e.inputIds.slice(1, e.inputIds.length - n))).toBe("2+3. <think> then <answer>.\n");
  });
});

describe("SFT loaders", () => {
  const write = (name: string, rows: unknown[]) => {
    const f = join(dir, name);
    writeFileSync(f, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    return f;
  };

  it("reads messages (Mixture-of-Thoughts), ShareGPT conversations and prompt-completion rows from JSONL", async () => {
    const f = write("mixed.jsonl", [
      { messages: conversation.slice(1, 3), source: "math" },
      {
        conversations: [
          { from: "human", value: "hi" },
          { from: "gpt", value: "hello" },
        ],
      },
      { prompt: "1+1", completion: "2" },
      { prompt: [{ role: "user", content: "2+2" }], completion: [{ role: "assistant", content: "4" }] },
    ]);
    const recs = await readSftRecords(f);
    expect(recs.map((r) => r.where)).toEqual([1, 2, 3, 4].map((l) => `${f}:${l}`));
    expect(recs[1].messages).toEqual([
      { role: "user", content: "hi" },
      { role: "assistant", content: "hello" },
    ]);
    const ex = recordsToExamples(chatml, recs);
    expect(ex.map((e) => targetsText(chatml, e))).toEqual([
      "<think>\n2+3=5\n</think>\n5<|im_end|>\n",
      "hello<|im_end|>\n",
      "2<|im_end|>\n",
      "4<|im_end|>\n",
    ]);
    const char = recordsToCharExamples(new CharTokenizer(), recs.slice(1));
    expect(char).toHaveLength(3);
  });

  it("reads a Parquet file with a list<struct{role, content}> messages column (as on the Hub)", async () => {
    const f = join(dir, "train-00000-of-00001.parquet");
    const data = [
      conversation.slice(1, 3),
      [
        { role: "user", content: "x" },
        { role: "assistant", content: "y" },
      ],
    ];
    parquetWriteFile({
      filename: f,
      columnData: [{ name: "messages", data } as any],
      schema: [
        { name: "root", num_children: 1 },
        { name: "messages", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
        { name: "list", repetition_type: "REPEATED", num_children: 1 },
        { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
        { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
        { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      ] as any,
    });
    const recs = await readSftRecords(f);
    expect(recs.map((r) => r.messages)).toEqual(data);
    expect(recs[1].where).toBe(`${f}:2`);
  });

  it("a model without a chat template: prompt/completion as plain text + EOS; conversations refused by row", async () => {
    const plain = await loadTokenizer(FIXTURE);
    const recs = await readSftRecords(
      write("plain.jsonl", [{ prompt: "1+1=", completion: "2" }, { messages: conversation.slice(1, 3) }]),
    );
    const [ex] = recordsToExamples(plain, recs.slice(0, 1));
    expect(targetsText(plain, ex)).toBe("2<|endoftext|>");
    expect(plain.decode(ex.inputIds)).toBe("1+1=2<|endoftext|>");
    expect(() => recordsToExamples(plain, recs)).toThrow(
      /plain\.jsonl:2: a conversation needs a chat template/,
    );
  });

  it("errors name the file, line and field", async () => {
    const bad = (rows: unknown[]) => readSftRecords(write("bad.jsonl", rows));
    await expect(bad([{ messages: [] }, { messages: [{ role: "user", content: 3 }] }])).rejects.toThrow(
      /bad\.jsonl:2: field 'messages\[0\]\.content' must be a string, got 3/,
    );
    await expect(bad([{ conversations: [{ from: "bot", value: "x" }] }])).rejects.toThrow(
      /bad\.jsonl:1: field 'conversations\[0\]\.from' must be human, gpt or system, got "bot"/,
    );
    await expect(bad([{ text: "x" }])).rejects.toThrow(
      /bad\.jsonl:1: no 'messages', 'conversations' or 'prompt'\+'completion' field \(has: text\)/,
    );
    await expect(bad([{ prompt: "x", completion: ["y"] }])).rejects.toThrow(
      /bad\.jsonl:1: fields 'prompt' and 'completion'/,
    );
  });
});
