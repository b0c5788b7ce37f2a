// LoRA on the reference fixtures: PEFT's target matching (and a clear error for a target the model
// lacks), W + (alpha/r) B A, PEFT's adapter folder (tensor names, adapter_config.json) read back,
// and --merge's full checkpoint, whose logits equal the adapted model's.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initEngine, ops as o } from "../src/engine/index.ts";
import { fromHost, toHost } from "../src/engine/params.ts";
import { openSafetensors } from "../src/engine/safetensors.ts";
import { tidy } from "../src/engine/scope.ts";
import { loadModel } from "../src/hf/checkpoint.ts";
import { loadAdapter, mergeAdapter, saveAdapter } from "../src/hf/peft.ts";
import { causalInputs } from "../src/model/inputs.ts";
import {
  initLora,
  type LoraConfig,
  linearModules,
  loraA,
  loraB,
  mergeLora,
  resolveTargets,
} from "../src/model/lora.ts";
import { forward } from "../src/model/transformer.ts";

const FIX = "tests/fixtures/hf-reference";
const tmp = mkdtempSync(join(tmpdir(), "r1lab-lora-"));

beforeAll(async () => {
  await initEngine({ device: "cpu" });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cfg: LoraConfig = { r: 4, alpha: 8, dropout: 0, targetModules: ["q_proj", "v_proj", "down_proj"] };

describe("LoRA targets", () => {
  it("match PEFT's suffix rule on qwen2 and llama, regexes and all-linear", async () => {
    for (const name of ["tiny-qwen2", "tiny-llama"]) {
      const m = await loadModel(join(FIX, name));
      expect(resolveTargets(m.params, ["q_proj", "v_proj"])).toEqual([
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj",
        "model.layers.1.self_attn.v_proj",
      ]);
      expect(resolveTargets(m.params, ".*layers\\.1\\.mlp\\.(up|down)_proj")).toEqual([
        "model.layers.1.mlp.down_proj",
        "model.layers.1.mlp.up_proj",
      ]);
      // 7 projections per layer, nothing else (no embedding, head or norm)
      expect(resolveTargets(m.params, "all-linear")).toHaveLength(14);
    }
  });

  it("deepseek_v3: MLA and expert projections, not the router or the MTP layer; q_proj is a clear error", async () => {
    const m = await loadModel(join(FIX, "tiny-deepseek-v3"));
    const all = linearModules(m.params, m.config.numHiddenLayers);
    expect(all).toContain("model.layers.1.self_attn.kv_a_proj_with_mqa");
    expect(all).toContain("model.layers.1.mlp.experts.7.up_proj");
    expect(all).toContain("model.layers.1.mlp.shared_experts.down_proj");
    expect(all.some((x) => x.endsWith("mlp.gate"))).toBe(false);
    expect(all.some((x) => x.startsWith(`model.layers.${m.config.numHiddenLayers}.`))).toBe(false);
    expect(() => resolveTargets(m.params, ["q_proj"], m.config.numHiddenLayers)).toThrow(
      /lora_target_modules: 'q_proj' is not a projection of this model \(it has .*q_a_proj, q_b_proj/,
    );
    expect(resolveTargets(m.params, ["q_b_proj", "kv_b_proj"], m.config.numHiddenLayers)).toHaveLength(
      2 * m.config.numHiddenLayers,
    );
  });

  it("rejects lora_dropout > 0 and a rank below 1 with the option's name", async () => {
    const m = await loadModel(join(FIX, "tiny-qwen2"));
    expect(() =>
      initLora(m.params, ["model.layers.0.self_attn.q_proj"], { ...cfg, dropout: 0.05 }, 1),
    ).toThrow(/lora_dropout 0.05 is not supported/);
    expect(() => initLora(m.params, ["model.layers.0.self_attn.q_proj"], { ...cfg, r: 0 }, 1)).toThrow(
      /lora_r must be an integer >= 1/,
    );
  });
});

describe("LoRA weights", () => {
  it("starts as the identity (B = 0) and merges W + alpha/r B A", async () => {
    const m = await loadModel(join(FIX, "tiny-qwen2"));
    const mods = resolveTargets(m.params, cfg.targetModules);
    const lora = initLora(m.params, mods, cfg, 7);
    const q = "model.layers.0.self_attn.q_proj";
    expect(lora[loraA(q)].shape).toEqual([4, 64]);
    expect(lora[loraB(q)].shape).toEqual([64, 4]);
    const a = (await toHost(lora[loraA(q)])) as Float32Array;
    expect(Math.max(...a.map(Math.abs))).toBeLessThanOrEqual(1 / 8);
    expect(Math.max(...a.map(Math.abs))).toBeGreaterThan(0);
    const same = tidy(() => mergeLora(m.params, lora, 2)[`${q}.weight`]);
    expect(Array.from(await toHost(same))).toEqual(Array.from(await toHost(m.params[`${q}.weight`])));
    // B with known values: W'[i][j] = W[i][j] + 2 * sum_k B[i][k] A[k][j]
    const b = Float32Array.from({ length: 64 * 4 }, (_, i) => ((i % 7) - 3) / 10);
    lora[loraB(q)] = fromHost(b, [64, 4]);
    const merged = await toHost(tidy(() => mergeLora(m.params, lora, 2)[`${q}.weight`]));
    const w = await toHost(m.params[`${q}.weight`]);
    for (const [i, j] of [
      [0, 0],
      [5, 17],
      [63, 63],
    ]) {
      let ba = 0;
      for (let k = 0; k < 4; k++) ba += b[i * 4 + k] * a[k * 64 + j];
      expect(merged[i * 64 + j]).toBeCloseTo(w[i * 64 + j] + 2 * ba, 5);
    }
  });

  for (const name of ["tiny-qwen2", "tiny-deepseek-v3"]) {
    it(`${name}: PEFT's adapter folder round-trips and --merge writes a checkpoint with the same logits`, async () => {
      const m = await loadModel(join(FIX, name));
      const targets = name === "tiny-qwen2" ? cfg.targetModules : ["q_b_proj", "o_proj", "up_proj"];
      const c2 = { ...cfg, targetModules: targets };
      const lora = initLora(m.params, resolveTargets(m.params, targets, m.config.numHiddenLayers), c2, 3);
      for (const k of Object.keys(lora).filter((x) => x.includes("lora_B"))) {
        const n = lora[k].shape[0] * lora[k].shape[1];
        lora[k] = fromHost(
          Float32Array.from({ length: n }, (_, i) => Math.sin(i) / 20),
          [...lora[k].shape],
        );
      }
      const dir = join(tmp, `${name}-adapter`);
      await saveAdapter(dir, lora, c2, join(FIX, name));
      const conf = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
      expect(conf).toMatchObject({
        peft_type: "LORA",
        task_type: "CAUSAL_LM",
        r: 4,
        lora_alpha: 8,
        lora_dropout: 0,
        bias: "none",
        use_rslora: false,
      });
      expect([...conf.target_modules].sort()).toEqual([...targets].sort());
      const f = openSafetensors(join(dir, "adapter_model.safetensors"));
      const names = f.names();
      f.close();
      const layer0 = name === "tiny-qwen2" ? "q_proj" : "q_b_proj";
      expect(names).toContain(`base_model.model.model.layers.0.self_attn.${layer0}.lora_A.weight`);
      expect(names).toContain(`base_model.model.model.layers.0.self_attn.${layer0}.lora_B.weight`);
      expect(names.every((n) => n.startsWith("base_model.model.model.layers."))).toBe(true);

      const back = loadAdapter(dir);
      expect(back.config).toMatchObject({ r: 4, alpha: 8 });
      expect(Object.keys(back.lora).sort()).toEqual(Object.keys(lora).sort());

      const out = join(tmp, `${name}-merged`);
      await mergeAdapter(m, back.lora, back.config, out);
      const merged = await loadModel(out);
      const ids = o.fromArray([1, 5, 9, 3, 7, 2], [1, 6], "int32");
      const io = causalInputs(m.config, 1, 6);
      const adapted = await toHost(
        tidy(() => forward(mergeLora(m.params, lora, 2), m.config, ids, io).logits),
      );
      const plain = await toHost(tidy(() => forward(m.params, m.config, ids, io).logits));
      const fromMerged = await toHost(tidy(() => forward(merged.params, merged.config, ids, io).logits));
      let diff = 0;
      let moved = 0;
      for (let i = 0; i < adapted.length; i++) {
        diff = Math.max(diff, Math.abs(adapted[i] - fromMerged[i]));
        moved = Math.max(moved, Math.abs(adapted[i] - plain[i]));
      }
      expect(diff).toBeLessThan(1e-4);
      expect(moved).toBeGreaterThan(1e-3); // the adapter did change the model
    });
  }

  it("a folder that is not a LoRA adapter gets an error naming the file", () => {
    expect(() => loadAdapter(join(FIX, "tiny-qwen2"))).toThrow(/no adapter_config.json/);
  });
});
