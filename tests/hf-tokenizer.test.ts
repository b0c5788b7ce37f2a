// Tokenizer folders: the fixtures' reference input_ids, decode round trips, special tokens, streaming
// across multi-byte characters, chat templates (ChatML-like and DeepSeek-R1-like) and saving.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadTokenizer, saveTokenizer, type Tokenizer, tokenizerFromJson } from "../src/hf/tokenizer.ts";

const FIXTURES = join(import.meta.dirname, "fixtures/hf-reference");
const MODELS = readdirSync(FIXTURES).filter((d) => existsSync(join(FIXTURES, d, "reference.json")));
const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

const scratch = mkdtempSync(join(tmpdir(), "r1lab-hf-tok-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;

/** A copy of the tiny-qwen2 tokenizer folder with a modified tokenizer_config.json and extra files. */
function tokenizerFolder(config: Record<string, unknown>, extra: Record<string, string> = {}): string {
  const dir = join(scratch, `tok-${folders++}`);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(FIXTURES, "tiny-qwen2", "tokenizer.json"), join(dir, "tokenizer.json"));
  const base = readJson(join(FIXTURES, "tiny-qwen2", "tokenizer_config.json"));
  writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ ...base, ...config }));
  for (const [name, text] of Object.entries(extra)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

const TEXTS = [
  "What is 12 plus 30? <think>",
  "  leading spaces, trailing tab\t and\nnew lines\n\n",
  "Unicode: héllo, 中文, emoji 🙂🚀, math ∑x² ≥ 0",
  "<|im_start|>user\nSolve 3*4<|im_end|>",
  "<think>\nstep 1: 7 - 2 = 5\n</think>\n<answer>5</answer>",
];

describe.each(MODELS)("fixture %s", (model) => {
  const dir = join(FIXTURES, model);
  const ref = readJson(join(dir, "reference.json")) as { text: string; input_ids: number[] };

  it("encode(text) reproduces transformers' input_ids exactly", async () => {
    const tok = await loadTokenizer(dir);
    expect(tok.encode(ref.text)).toEqual(ref.input_ids);
    // The fixture tokenizer has no post_processor and bos_token null: no special tokens are added,
    // so transformers' default add_special_tokens=True gives the same ids as False.
    expect(tok.encode(ref.text, { addSpecialTokens: false })).toEqual(ref.input_ids);
    expect(tok.decode(ref.input_ids)).toBe(ref.text);
  });

  it("decode(encode(text)) == text", async () => {
    const tok = await loadTokenizer(dir);
    for (const text of TEXTS) expect(tok.decode(tok.encode(text))).toBe(text);
  });
});

describe("tokenizer basics", () => {
  it("knows its vocabulary and special tokens", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "tiny-qwen2"));
    const tj = readJson(join(FIXTURES, "tiny-qwen2", "tokenizer.json"));
    expect(tok.vocabSize).toBe(Object.keys(tj.model.vocab).length);
    expect(tok.eosToken).toBe("<|endoftext|>");
    expect(tok.eosTokenIds).toEqual([tok.tokenToId("<|endoftext|>")]);
    expect(tok.bosTokenId).toBeNull();
    expect(tok.padTokenId).toBeNull();
    expect(tok.specialTokens.map((t) => t.content)).toEqual(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]);
    const ids = tok.encode("<|im_start|>hi<|im_end|>");
    expect(ids[0]).toBe(tok.tokenToId("<|im_start|>"));
    expect(ids.at(-1)).toBe(tok.tokenToId("<|im_end|>"));
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hi");
    expect(tok.decode([])).toBe("");
    expect(() => tok.decode([tok.vocabSize])).toThrow(/token id 400/);
  });

  it("reads special tokens written as AddedToken objects and checks they exist", async () => {
    const dir = tokenizerFolder({
      pad_token: { __type: "AddedToken", content: "<|im_end|>", special: true },
    });
    const tok = await loadTokenizer(dir);
    expect(tok.padToken).toBe("<|im_end|>");
    expect(tok.padTokenId).toBe(tok.tokenToId("<|im_end|>"));
    await expect(loadTokenizer(tokenizerFolder({ bos_token: "<s>" }))).rejects.toThrow(
      /tokenizer_config.json: bos_token "<s>"/,
    );
  });

  it("addSpecialTokens runs tokenizer.json's post_processor (a BOS template)", () => {
    const tj = readJson(join(FIXTURES, "tiny-qwen2", "tokenizer.json"));
    tj.post_processor = {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|im_start|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<|im_start|>": { id: "<|im_start|>", ids: [1], tokens: ["<|im_start|>"] } },
    };
    const tok = tokenizerFromJson(tj, { bos_token: "<|im_start|>" });
    const plain = tok.encode("2+2", { addSpecialTokens: false });
    expect(tok.encode("2+2")).toEqual([1, ...plain]);
    expect(tok.bosTokenId).toBe(1);
  });

  it("refuses a folder without tokenizer.json", async () => {
    const empty = join(scratch, "empty");
    mkdirSync(empty, { recursive: true });
    await expect(loadTokenizer(empty)).rejects.toThrow(/empty: no tokenizer.json/);
  });

  it("names the file and the field of a tokenizer.json it cannot run", async () => {
    const base = readJson(join(FIXTURES, MODELS[0], "tokenizer.json"));
    const cases: [unknown, string][] = [
      [
        { ...base, model: { ...base.model, type: "Foo" } },
        'tokenizer.json: model.type "Foo" is not supported',
      ],
      [{ ...base, model: null }, "tokenizer.json: field 'model' must be an object"],
      [
        { ...base, normalizer: { type: "Weird" } },
        "tokenizer.json: normalizer.type: cannot build the tokenizer (Unknown Normalizer type: Weird)",
      ],
      [{ ...base, pre_tokenizer: { type: "Odd" } }, "tokenizer.json: pre_tokenizer.type: cannot build"],
    ];
    for (const [json, message] of cases) {
      const dir = join(scratch, `bad-${folders++}`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(json));
      await expect(loadTokenizer(dir)).rejects.toThrow(`${dir}/${message}`);
    }
  });
});

describe("StreamDecoder", () => {
  const streamAll = (tok: Tokenizer, ids: number[]) => {
    const dec = tok.streamDecoder();
    const chunks = ids.map((id) => dec.push(id));
    chunks.push(dec.flush());
    return chunks;
  };

  it("yields exactly the full text, never half a character", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "tiny-llama"));
    for (const text of TEXTS) {
      const ids = tok.encode(text);
      const chunks = streamAll(tok, ids);
      expect(chunks.join("")).toBe(tok.decode(ids));
      for (const c of chunks) expect(c).not.toContain("\uFFFD");
    }
  });

  it("holds back the bytes of a multi-byte character until it completes", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "tiny-qwen2"));
    const ids = tok.encode("中");
    expect(ids.length).toBeGreaterThan(1); // byte-level BPE without a merge for it: one token per byte
    const dec = tok.streamDecoder();
    const out = ids.map((id) => dec.push(id));
    expect(out.slice(0, -1).every((c) => c === "")).toBe(true);
    expect(out.at(-1)).toBe("中");
    expect(dec.text).toBe("中");
  });

  it("flush gives what an unfinished character decodes to", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "tiny-qwen2"));
    const dec = tok.streamDecoder();
    expect(dec.push(tok.encode("a"))).toBe("a");
    expect(dec.push(tok.encode("中").slice(0, 1))).toBe("");
    expect(dec.flush()).toContain("\uFFFD");
  });
});

const CHATML =
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

// DeepSeek-R1-like: BOS, the system prompt first, reasoning stripped from earlier assistant turns,
// and the generation prompt opening the assistant turn with "<think>\n" (a Jinja string literal with
// an escaped newline, as in R1's tokenizer_config.json).
const R1_LIKE =
  "{% set ns = namespace(system='') %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.system = m.content %}{% endif %}{% endfor %}" +
  "{{ bos_token }}{{ ns.system }}" +
  "{% for m in messages %}{% if m.role == 'user' %}<|User|>{{ m.content }}" +
  "{% elif m.role == 'assistant' %}{% set content = m.content %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}" +
  "<|Assistant|>{{ content }}{{ eos_token }}{% endif %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|Assistant|><think>\\n' }}{% endif %}";

describe("chat templates", () => {
  const chat = [
    { role: "system", content: "Be brief." },
    { role: "user", content: "What is 2+3?" },
  ];

  it("renders a ChatML template from tokenizer_config.json and encodes the markers as single tokens", async () => {
    const tok = await loadTokenizer(tokenizerFolder({ chat_template: CHATML }));
    const text = tok.applyChatTemplate(chat, { addGenerationPrompt: true });
    expect(text).toBe(
      "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n",
    );
    expect(tok.applyChatTemplate(chat)).not.toContain("assistant");
    const ids = tok.encodeChat(chat, { addGenerationPrompt: true });
    expect(ids.filter((id) => id === tok.tokenToId("<|im_start|>"))).toHaveLength(3);
    expect(tok.decode(ids)).toBe(text);
  });

  it("renders a DeepSeek-R1-like template: bos/eos variables, </think> stripping, <think>\\n prompt", async () => {
    const tok = await loadTokenizer(tokenizerFolder({ chat_template: R1_LIKE, bos_token: "<|im_start|>" }));
    const turns = [
      ...chat,
      { role: "assistant", content: "<think>\n2+3=5\n</think>\n5" },
      { role: "user", content: "And 5+5?" },
    ];
    expect(tok.applyChatTemplate(turns, { addGenerationPrompt: true })).toBe(
      "<|im_start|>Be brief.<|User|>What is 2+3?<|Assistant|>\n5<|endoftext|><|User|>And 5+5?<|Assistant|><think>\n",
    );
  });

  it("picks named templates from a list, and chat_template.jinja wins over the config", async () => {
    const list = [
      { name: "default", template: "D{{ messages[0].content }}" },
      { name: "tool_use", template: "T{{ tools | length }}" },
    ];
    const tok = await loadTokenizer(tokenizerFolder({ chat_template: list }));
    expect(tok.applyChatTemplate(chat)).toBe("DBe brief.");
    expect(tok.applyChatTemplate(chat, { templateName: "tool_use", extra: { tools: [1, 2] } })).toBe("T2");
    expect(() => tok.applyChatTemplate(chat, { templateName: "rag" })).toThrow(
      /no chat template named "rag".*"tool_use"/,
    );
    const withFile = await loadTokenizer(
      tokenizerFolder({ chat_template: "config" }, { "chat_template.jinja": "file" }),
    );
    expect(withFile.applyChatTemplate(chat)).toBe("file");
  });

  it("says clearly when the model has no chat template, or the template raises", async () => {
    const tok = await loadTokenizer(join(FIXTURES, "tiny-qwen2"));
    expect(() => tok.applyChatTemplate(chat)).toThrow(/tiny-qwen2: this model has no chat template/);
    const strict = await loadTokenizer(
      tokenizerFolder({
        chat_template: "{% if messages[0].role != 'user' %}{{ raise_exception('user first') }}{% endif %}",
      }),
    );
    expect(() => strict.applyChatTemplate(chat)).toThrow(/user first/);
  });
});

describe("saveTokenizer", () => {
  it("copies the files byte for byte, atomically, and the copy loads to the same tokenizer", async () => {
    const src = tokenizerFolder(
      { chat_template: CHATML },
      {
        "chat_template.jinja": R1_LIKE,
        "additional_chat_templates/plain.jinja": "{{ messages[0].content }}",
      },
    );
    const tok = await loadTokenizer(src);
    const out = join(scratch, "saved", "ckpt");
    saveTokenizer(tok, out);
    for (const f of [
      "tokenizer.json",
      "tokenizer_config.json",
      "chat_template.jinja",
      "additional_chat_templates/plain.jinja",
    ]) {
      expect(readFileSync(join(out, f), "utf8")).toBe(readFileSync(join(src, f), "utf8"));
    }
    expect(readdirSync(out).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    const again = await loadTokenizer(out);
    expect(again.encode(TEXTS[2])).toEqual(tok.encode(TEXTS[2]));
    expect(again.applyChatTemplate([{ role: "user", content: "x" }], { templateName: "plain" })).toBe("x");
  });

  it("saves a tokenizer built in memory as tokenizer.json + tokenizer_config.json", async () => {
    const tj = readJson(join(FIXTURES, "tiny-llama", "tokenizer.json"));
    const tok = tokenizerFromJson(tj, { eos_token: "<|im_end|>", chat_template: CHATML });
    const out = join(scratch, "from-json");
    saveTokenizer(tok, out);
    const loaded = await loadTokenizer(out);
    expect(loaded.eosTokenIds).toEqual([2]);
    expect(loaded.applyChatTemplate([{ role: "user", content: "hi" }])).toBe(
      "<|im_start|>user\nhi<|im_end|>\n",
    );
  });
});
