// r1lab as a library, in one page: start the engine, load a Hugging Face model folder, tokenize,
// generate, then check answers and compute R1's rewards and metrics. Written against the package
// name, as a project that ran `npm install r1lab` would write it (in this repository, tsconfig's
// `paths` points "r1lab" at src/index.ts).
// Run: pnpm tsx examples/quickstart.ts [MODEL_FOLDER]   (default: the tiny-qwen2 test fixture)
import {
  accuracyReward,
  extractAnswer,
  formatReward,
  generate,
  getSyntheticTask,
  initEngine,
  loadModel,
  mergeTokenIds,
  pass1,
  passAtK,
  problemsOf,
  verifyMath,
} from "r1lab";

const modelDir = process.argv[2] ?? "tests/fixtures/hf-reference/tiny-qwen2";

// 1. The engine: Wasm on the CPU (or "webgpu"), once per process.
const engine = await initEngine({ device: "cpu" });
console.log(`engine: ${engine.device}`);

// 2. A model folder (config.json, *.safetensors, tokenizer.json), or `org/name` in the HF cache.
const model = await loadModel(modelDir);
const tok = model.tokenizer!;
const prompt = tok.encode("What is 17 * 23?");
console.log(
  `${model.config.modelType}: ${model.config.numHiddenLayers} layers, prompt ${prompt.length} tokens`,
);

// 3. Greedy generation with a KV cache, stopping at the checkpoint's EOS ids.
const out = await generate(model.params, model.config, [prompt], {
  temperature: 0,
  topP: 1,
  topK: 0,
  maxNewTokens: 8,
  seed: 0,
  eosTokenIds: mergeTokenIds(model.generation.eosTokenIds, model.config.eosTokenId),
});
console.log(
  `generated ${out.ids[0].length} tokens (${out.finishReasons[0]}): ${JSON.stringify(tok.decode(out.ids[0]))}`,
);

// 4. Checking answers as R1's evaluation does: extract the final answer, compare mathematically.
const completion = "<think>17 * 23 = 17 * 20 + 17 * 3 = 340 + 51</think> The answer is \\boxed{391}.";
const found = extractAnswer(completion);
console.log(
  `extracted ${found.answer} (by ${found.method}); equals 391: ${verifyMath("391", found.answer ?? "")}`,
);

// 5. Rule-based rewards on a synthetic task's problem, and the metrics of R1's protocol.
const task = getSyntheticTask("arithmetic");
const [problem] = problemsOf(task, "test", 1, 0);
const answer = `<think>work</think><answer>${problem.answer}</answer>`;
console.log(
  `${problem.prompt} -> accuracy ${accuracyReward(answer, problem)}, format ${formatReward(answer, problem)}`,
);
console.log(`pass@1 ${pass1([[true, false, true, true]])}, pass@2 of 4 with 3 right ${passAtK(4, 3, 2)}`);
process.exit(0);
