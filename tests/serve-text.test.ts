// The server's text handling, without a model: the deepseek_r1 reasoning split (whole and streamed
// in pieces of every size, which must add up to the whole split), stop strings and held-back
// streaming text in ChoiceText, and request checking in protocol.ts.
import { describe, expect, it } from "vitest";
import { ChoiceText } from "../src/serve/choice-text.ts";
import { ApiError, parseRequest } from "../src/serve/protocol.ts";
import { ReasoningStream, splitReasoning } from "../src/serve/reasoning.ts";

describe("deepseek_r1 reasoning split", () => {
  it("splits as vLLM's parser does", () => {
    expect(splitReasoning("Let me add.\n</think>\n\nThe answer is 5.")).toEqual({
      reasoning: "Let me add.\n",
      content: "\n\nThe answer is 5.",
    });
    expect(splitReasoning("<think>hmm</think>ok")).toEqual({ reasoning: "hmm", content: "ok" });
    expect(splitReasoning("still thinking")).toEqual({ reasoning: "still thinking", content: null });
    expect(splitReasoning("done</think>")).toEqual({ reasoning: "done", content: null });
    expect(splitReasoning("a</think>b</think>c")).toEqual({ reasoning: "a", content: "b</think>c" });
  });

  it("streams the same split for every piece size", () => {
    for (const text of [
      "<think>x < y </th not yet</think>\n\nanswer </think",
      "no tags at all <",
      "<thi",
      "a</think>",
    ]) {
      const whole = splitReasoning(text);
      for (const size of [1, 2, 3, 5, 8, 100]) {
        const s = new ReasoningStream();
        let r = "";
        let c = "";
        for (let i = 0; i < text.length; i += size) {
          const part = s.push(text.slice(i, i + size));
          r += part.reasoning;
          c += part.content;
        }
        const last = s.push("", true);
        r += last.reasoning;
        c += last.content;
        expect([r, c], `${JSON.stringify(text)} in pieces of ${size}`).toEqual([
          whole.reasoning ?? "",
          whole.content ?? "",
        ]);
      }
    }
  });

  it("never streams the start of a tag as reasoning", () => {
    const s = new ReasoningStream();
    expect(s.push("abc</th")).toEqual({ reasoning: "abc", content: "" });
    expect(s.push("ink>de")).toEqual({ reasoning: "", content: "de" });
  });
});

describe("ChoiceText", () => {
  // One character per token; token 0 is EOS.
  const decode = (ids: number[]) => ids.map((i) => String.fromCharCode(96 + i)).join("");
  const ids = (s: string) => [...s].map((ch) => ch.charCodeAt(0) - 96);

  it("ends before the first stop string and holds back a tail that may become one", () => {
    const t = new ChoiceText(decode, new Set([0]), ["cde", "zz"]);
    const streamed: string[] = [];
    let stopped = false;
    for (const id of ids("abcdef")) {
      stopped = t.push(id);
      streamed.push(t.delta());
      if (stopped) break;
    }
    expect(stopped).toBe(true);
    expect(t.value).toBe("ab");
    expect(streamed.join("")).toBe("ab");
    expect(streamed[0]).toBe(""); // held back: the next two characters could complete "cde"
  });

  it("adds no text for EOS and counts every token", () => {
    const t = new ChoiceText(decode, new Set([0]), []);
    for (const id of [...ids("hi"), 0]) t.push(id);
    t.finish();
    expect(t.value).toBe("hi");
    expect(t.ids).toHaveLength(3);
    expect(t.delta()).toBe("hi");
  });
});

describe("parseRequest", () => {
  const defaults = { temperature: 0.6, topP: 0.95, topK: 0 };
  const chat = (extra: Record<string, unknown>) =>
    parseRequest(
      "chat",
      { model: "m", messages: [{ role: "user", content: "hi" }], ...extra },
      defaults,
      100,
    );
  const fails = (f: () => unknown, param: string) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(ApiError);
      expect((e as ApiError).status).toBe(400);
      expect((e as ApiError).param).toBe(param);
      return;
    }
    throw new Error(`expected a 400 on ${param}`);
  };

  it("takes the model's sampling defaults and OpenAI's field names", () => {
    const r = chat({ max_completion_tokens: 9, stop: "x", logprobs: true, top_logprobs: 2 });
    expect(r.sampling).toEqual(defaults);
    expect(r.maxTokens).toBe(9);
    expect(r.stop).toEqual(["x"]);
    expect(r.logprobs).toBe(2);
    expect(chat({ max_tokens: 4, temperature: 0 }).maxTokens).toBe(4);
    expect(chat({ temperature: 0 }).sampling.temperature).toBe(0);
    const c = parseRequest("completions", { model: "m", prompt: [[1, 2], [3]], logprobs: 1 }, defaults, 100);
    expect(c.prompts).toEqual([{ ids: [1, 2] }, { ids: [3] }]);
  });

  it("names the bad field", () => {
    fails(() => chat({ temperature: "hot" }), "temperature");
    fails(() => chat({ n: 0 }), "n");
    fails(() => chat({ top_p: 0 }), "top_p");
    fails(() => chat({ max_tokens: 1.5 }), "max_tokens");
    fails(() => chat({ stop: [1] }), "stop");
    fails(() => chat({ top_logprobs: 3 }), "top_logprobs");
    fails(() => chat({ messages: [{ role: "wizard", content: "x" }] }), "messages[0].role");
    fails(() => chat({ logit_bias: { 5: 10 } }), "logit_bias");
    fails(() => chat({ stream_options: { include_usage: true } }), "stream_options");
    fails(() => parseRequest("completions", { model: "m", prompt: [500] }, defaults, 100), "prompt");
    fails(() => parseRequest("completions", { model: "m" }, defaults, 100), "prompt");
  });
});
