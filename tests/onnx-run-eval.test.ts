// An ONNX export of a run's checkpoint is evaluated on what the checkpoint itself is evaluated on:
// `export-onnx --model runs/NAME --out ELSEWHERE` carries the run's prompt template, completion
// budget and held-out problems (r1lab_run.json, test_problems.jsonl), so `eval --backend onnx` of
// the export and `eval` of the run score the same problems with the same prompts and token limits,
// and, greedy, the same completions and results. A broken r1lab_run.json is an error naming it.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { evalCommand } from "../src/cli/eval.ts";
import exportCmd from "../src/cli/export-onnx.ts";
import { initEngine } from "../src/engine/device.ts";
import { initParams } from "../src/model/init.ts";
import { ArithmeticTask } from "../src/tasks/arithmetic.ts";
import { CharTokenizer } from "../src/tasks/char-tokenizer.ts";
import { jsonLines, quiet, tinyCharDense, writeRunFolder } from "./helpers/run-folder.ts";

const tmp = mkdtempSync(join(tmpdir(), "r1lab-onnx-run-eval-"));
const run = join(tmp, "runs", "zero-x");
const exported = join(tmp, "exports", "zero-x-onnx");
const TEMPLATE = "Q {problem} =";
// Problems the default generator would not draw (two terms), so they can only come from the run.
const problems = new ArithmeticTask({ minTerms: 2, maxTerms: 2, max: 5 }).generate("test", 3, 7);

beforeAll(async () => {
  await initEngine({ device: "cpu" });
  // A run folder as `r1lab zero` leaves it: config.json, test_problems.jsonl, checkpoints/final.
  const c = tinyCharDense(new CharTokenizer());
  await writeRunFolder(run, {
    config: c,
    params: initParams(c, 3, { withMtp: false }),
    name: "zero-x",
    template: TEMPLATE,
    maxCompletionLength: 7,
    problems,
  });
  mkdirSync(join(tmp, "exports"));
  await quiet(() =>
    exportCmd.run({ model: run, out: exported, file: "model.onnx", "external-data": "auto" }, []),
  );
}, 120_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

it("the export carries the run's template, budget and held-out problems", () => {
  const carried = JSON.parse(readFileSync(join(exported, "r1lab_run.json"), "utf8"));
  expect(carried).toMatchObject({
    template: TEMPLATE,
    max_completion_length: 7,
    test_problems: "test_problems.jsonl",
  });
  expect(jsonLines(join(exported, "test_problems.jsonl"))).toEqual(problems);
});

it("native and ONNX evaluations score the same problems with the same limits and results", async () => {
  const args = { task: "arithmetic", samples: "1", temperature: "0", seed: "0" };
  const nativeOut = join(tmp, "evals", "native");
  const onnxOut = join(tmp, "evals", "onnx");
  await quiet(() => evalCommand({ ...args, model: run, out: nativeOut }));
  await quiet(() => evalCommand({ ...args, model: exported, backend: "onnx", out: onnxOut }));
  const [nat, onx] = [nativeOut, onnxOut].map((d) =>
    JSON.parse(readFileSync(join(d, "results.json"), "utf8")),
  );
  for (const r of [nat, onx]) {
    expect(r.n_problems).toBe(problems.length);
    expect(r.config).toMatchObject({ max_tokens: 7, prompt_template: TEMPLATE, temperature: 0 });
  }
  expect(onx.config.backend).toBe("onnx");
  const [ns, os] = [nativeOut, onnxOut].map((d) => jsonLines(join(d, "samples.jsonl")));
  const ids = (s: { id: string }[]) => s.map((x) => x.id).sort();
  expect(ids(ns)).toEqual(problems.map((p) => p.id).sort());
  expect(ids(os)).toEqual(ids(ns));
  const byId = (s: { id: string; completion: string }[]) =>
    Object.fromEntries(s.map((x) => [x.id, x.completion]));
  expect(byId(os)).toEqual(byId(ns));
  expect(onx["pass@1"]).toBe(nat["pass@1"]);
  expect(onx.no_answer_rate).toBe(nat.no_answer_rate);
}, 120_000);

it("a broken r1lab_run.json is an error naming the file and field", async () => {
  const bad = join(tmp, "exports", "bad");
  rmSync(bad, { recursive: true, force: true });
  await quiet(() => exportCmd.run({ model: run, out: bad, file: "model.onnx", "external-data": "auto" }, []));
  writeFileSync(join(bad, "r1lab_run.json"), JSON.stringify({ template: 3 }));
  await expect(
    evalCommand({ task: "arithmetic", model: bad, backend: "onnx", out: join(tmp, "evals", "bad") }),
  ).rejects.toThrow(/r1lab_run\.json: 'template' must be a string/);
  expect(existsSync(join(tmp, "evals", "bad", "results.json"))).toBe(false);
}, 120_000);
