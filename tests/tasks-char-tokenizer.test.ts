import { Tokenizer } from "@huggingface/tokenizers";
import { describe, expect, it } from "vitest";
import { CharTokenizer, SPECIAL_TOKENS } from "../src/tasks/char-tokenizer.ts";
import { buildCorpus } from "../src/tasks/corpus.ts";
import { CountdownTask } from "../src/tasks/countdown.ts";

const trace = "reach 13 with 3 5 2\n<think>(3+5)*2=8*2=16 no;3*5-2=15-2=13 yes</think><answer>3*5-2</answer>";

describe("character tokenizer", () => {
  it("gives the specials and the four tags single ids, then one id per character", () => {
    const tok = new CharTokenizer();
    expect(tok.tokens.slice(0, 7)).toEqual([
      "<pad>",
      "<bos>",
      "<eos>",
      "<think>",
      "</think>",
      "<answer>",
      "</answer>",
    ]);
    expect([tok.padId, tok.bosId, tok.eosId]).toEqual([0, 1, 2]);
    expect(tok.vocabSize).toBe(7 + 96);
    const ids = tok.encode("<think>1+2</think>");
    expect(ids).toEqual([3, tok.tokenToId("1"), tok.tokenToId("+"), tok.tokenToId("2"), 4]);
    expect(tok.decode(tok.encode(trace))).toBe(trace);
    expect(tok.decode([tok.bosId, ...tok.encode("ab"), tok.eosId, tok.padId])).toBe("ab");
    expect(tok.decode([tok.bosId, tok.eosId], { keepSpecial: true })).toBe("<bos><eos>");
    expect(tok.encode("<thin")).toHaveLength(5); // not a tag: plain characters
  });

  it("builds the smallest vocabulary for a corpus and names characters it lacks", () => {
    const items = buildCorpus({ task: new CountdownTask(), problems: 100, seed: 0 });
    const texts = items.map((x) => `${x.example.prompt}\n${x.completion}`);
    const tok = CharTokenizer.forTexts(texts);
    expect(tok.vocabSize).toBeLessThan(45);
    for (const t of texts) expect(tok.decode(tok.encode(t))).toBe(t);
    expect(tok.tokens).not.toContain("<");
    expect(() => tok.encode("reach 13 with Q")).toThrow(
      /character "Q" \(U\+0051\) at index 14 is not in the vocabulary/,
    );
    expect(() => tok.decode([999])).toThrow(/id 999 is outside the vocabulary/);
  });

  it("writes a tokenizer.json that @huggingface/tokenizers loads to the same ids", () => {
    const tok = CharTokenizer.forTexts([trace, "User: Assistant: calc 7+3*2-4=9 wait chk ok none"]);
    const json = JSON.parse(JSON.stringify(tok.toTokenizerJson()));
    const hf = new Tokenizer(json, tok.toTokenizerConfigJson(128));
    for (const text of [
      trace,
      "User: calc 7+3*2-4\nAssistant: <think>7+6-4=13-4=9</think> <answer>9</answer>",
    ]) {
      const ids = hf.encode(text).ids;
      expect(ids).toEqual(tok.encode(text));
      expect(hf.decode(ids)).toBe(text);
    }
    expect(
      hf.decode([tok.bosId, ...tok.encode("<think>1</think>"), tok.eosId], { skip_special_tokens: true }),
    ).toBe("<think>1</think>");
    expect(hf.token_to_id("</answer>")).toBe(6);
  });

  it("round-trips through tokenizer.json and rejects a foreign one", () => {
    const tok = CharTokenizer.forTexts([trace]);
    const back = CharTokenizer.fromTokenizerJson(JSON.parse(JSON.stringify(tok.toTokenizerJson())));
    expect(back.tokens).toEqual(tok.tokens);
    expect(() =>
      CharTokenizer.fromTokenizerJson({ model: { type: "BPE", vocab: { hello: 0 } } }, "ckpt/tokenizer.json"),
    ).toThrow(/ckpt\/tokenizer.json: model.vocab has the multi-character token "hello"/);
    const shuffled = {
      model: { type: "BPE", vocab: { ...Object.fromEntries(SPECIAL_TOKENS.map((s, i) => [s, i])), a: 9 } },
    };
    expect(() => CharTokenizer.fromTokenizerJson(shuffled)).toThrow(/model.vocab\["a"\] is 9, expected 7/);
    expect(() => CharTokenizer.fromTokenizerJson({ model: { type: "WordPiece" } })).toThrow(
      /not an r1lab character tokenizer/,
    );
  });
});
