// config.json <-> ModelConfig: the transformers 5 fixtures, a DeepSeek-V3-style Hub config written
// from its published values, both RoPE spellings, round trips and the errors bad input gets.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HF_DEFAULTS, parseHfConfig, toHfConfig } from "../src/hf/config.ts";
import { parseGenerationConfig } from "../src/hf/generation-config.ts";
import type { ModelConfig } from "../src/model/config.ts";

const FIXTURES = join(import.meta.dirname, "fixtures/hf-reference");
const fixture = (name: string, file = "config.json") =>
  JSON.parse(readFileSync(join(FIXTURES, name, file), "utf8")) as Record<string, unknown>;
const parseFixture = (name: string) => parseHfConfig(fixture(name), `${name}/config.json`);

/** DeepSeek-V3's published config.json, field for field (as on the Hub, transformers 4 style). */
function deepseekV3Hub(): Record<string, unknown> {
  return {
    architectures: ["DeepseekV3ForCausalLM"],
    model_type: "deepseek_v3",
    vocab_size: 129280,
    hidden_size: 7168,
    intermediate_size: 18432,
    moe_intermediate_size: 2048,
    num_hidden_layers: 61,
    num_attention_heads: 128,
    num_key_value_heads: 128,
    n_shared_experts: 1,
    n_routed_experts: 256,
    routed_scaling_factor: 2.5,
    kv_lora_rank: 512,
    q_lora_rank: 1536,
    qk_rope_head_dim: 64,
    v_head_dim: 128,
    qk_nope_head_dim: 128,
    topk_method: "noaux_tc",
    n_group: 8,
    topk_group: 4,
    num_experts_per_tok: 8,
    moe_layer_freq: 1,
    first_k_dense_replace: 3,
    norm_topk_prob: true,
    scoring_func: "sigmoid",
    aux_loss_alpha: 0.001,
    seq_aux: true,
    hidden_act: "silu",
    max_position_embeddings: 163840,
    rms_norm_eps: 1e-6,
    use_cache: true,
    bos_token_id: 0,
    eos_token_id: 1,
    tie_word_embeddings: false,
    rope_theta: 10000,
    rope_scaling: {
      type: "yarn",
      factor: 40,
      original_max_position_embeddings: 4096,
      beta_fast: 32,
      beta_slow: 1,
      mscale: 1.0,
      mscale_all_dim: 1.0,
    },
    attention_bias: false,
    attention_dropout: 0.0,
    num_nextn_predict_layers: 1,
    torch_dtype: "bfloat16",
  };
}

describe("parseHfConfig on the transformers 5 fixtures", () => {
  it("reads tiny-qwen2: GQA, q/k/v bias implied by qwen2, tied embeddings, no token ids", () => {
    const c = parseFixture("tiny-qwen2");
    expect(c.modelType).toBe("qwen2");
    expect([c.vocabSize, c.hiddenSize, c.numHiddenLayers, c.numAttentionHeads]).toEqual([400, 64, 2, 4]);
    expect(c.numKeyValueHeads).toBe(2);
    expect(c.headDim).toBe(16); // hidden_size / num_attention_heads: qwen2's config has no head_dim
    expect(c.intermediateSize).toBe(128);
    expect(c.attentionBias).toBe(true);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.ropeTheta).toBe(10000);
    expect(c.ropeScaling).toBeNull();
    expect(c.ropeInterleave).toBe(false);
    expect([c.bosTokenId, c.eosTokenId, c.padTokenId]).toEqual([null, null, null]);
    expect(c.nRoutedExperts).toBe(0);
  });

  it("reads tiny-llama: explicit head_dim, no bias, bos/eos ids", () => {
    const c = parseFixture("tiny-llama");
    expect(c.modelType).toBe("llama");
    expect(c.headDim).toBe(16);
    expect(c.numKeyValueHeads).toBe(4);
    expect(c.attentionBias).toBe(false);
    expect(c.tieWordEmbeddings).toBe(false);
    expect([c.bosTokenId, c.eosTokenId]).toEqual([1, 2]);
    expect(c.rmsNormEps).toBe(1e-6);
  });

  it("reads tiny-deepseek-v3: MLA dims, MoE routing, MTP, interleaved RoPE", () => {
    const c = parseFixture("tiny-deepseek-v3");
    expect(c.modelType).toBe("deepseek_v3");
    expect([c.qLoraRank, c.kvLoraRank, c.qkNopeHeadDim, c.qkRopeHeadDim, c.vHeadDim]).toEqual([
      24, 16, 16, 8, 16,
    ]);
    expect(c.headDim).toBe(8);
    expect([c.nRoutedExperts, c.nSharedExperts, c.numExpertsPerTok, c.moeIntermediateSize]).toEqual([
      8, 1, 2, 32,
    ]);
    expect([c.firstKDenseReplace, c.nGroup, c.topkGroup]).toEqual([1, 2, 1]);
    expect(c.routedScalingFactor).toBe(2.5);
    expect(c.normTopkProb).toBe(true);
    expect(c.scoringFunc).toBe("sigmoid");
    expect(c.numNextnPredictLayers).toBe(1);
    expect(c.ropeInterleave).toBe(true);
  });

  it("round-trips every fixture: parse(toHfConfig(c)) == c", () => {
    for (const name of ["tiny-qwen2", "tiny-llama", "tiny-deepseek-v3"]) {
      const c = parseFixture(name);
      const written = toHfConfig(c);
      expect(written.architectures).toEqual(fixture(name).architectures);
      expect(parseHfConfig(JSON.parse(JSON.stringify(written)), "written")).toEqual(c);
    }
  });
});

describe("DeepSeek-V3 as published on the Hub", () => {
  it("reads YaRN from rope_scaling.type and the routing fields", () => {
    const c = parseHfConfig(deepseekV3Hub(), "DeepSeek-V3/config.json");
    expect(c.ropeTheta).toBe(10000);
    expect(c.ropeScaling).toEqual({
      ropeType: "yarn",
      factor: 40,
      originalMaxPositionEmbeddings: 4096,
      betaFast: 32,
      betaSlow: 1,
      mscale: 1,
      mscaleAllDim: 1,
    });
    expect(c.ropeInterleave).toBe(true); // rope_interleave absent: DeepSeek's inference code interleaves
    expect(c.headDim).toBe(64);
    expect([c.qLoraRank, c.kvLoraRank, c.qkNopeHeadDim, c.qkRopeHeadDim, c.vHeadDim]).toEqual([
      1536, 512, 128, 64, 128,
    ]);
    expect([c.nRoutedExperts, c.numExpertsPerTok, c.nGroup, c.topkGroup, c.firstKDenseReplace]).toEqual([
      256, 8, 8, 4, 3,
    ]);
    expect(c.maxPositionEmbeddings).toBe(163840);
    expect(c.numNextnPredictLayers).toBe(1);
  });

  it("writes rope_theta at top level with rope_scaling, plus the fields vLLM reads, and round-trips", () => {
    const c = parseHfConfig(deepseekV3Hub(), "DeepSeek-V3/config.json");
    const out = toHfConfig(c);
    expect(out.rope_theta).toBe(10000);
    expect(out.rope_scaling).toMatchObject({
      rope_type: "yarn",
      type: "yarn",
      factor: 40,
      mscale_all_dim: 1,
    });
    expect(out).toMatchObject({
      topk_method: "noaux_tc",
      scoring_func: "sigmoid",
      moe_layer_freq: 1,
      head_dim: 64,
    });
    expect(out.torch_dtype).toBe("float32");
    expect(parseHfConfig(out, "written")).toEqual(c);
  });

  it("reads the same model from transformers 5's rope_parameters", () => {
    const hub = deepseekV3Hub();
    const { rope_theta, rope_scaling, ...rest } = hub as {
      rope_theta: number;
      rope_scaling: Record<string, unknown>;
    };
    const { type, ...params } = rope_scaling;
    const v5 = { ...rest, rope_parameters: { rope_theta, rope_type: type, ...params } };
    expect(parseHfConfig(v5, "v5/config.json")).toEqual(parseHfConfig(hub, "hub/config.json"));
  });
});

describe("Hub-style dense configs", () => {
  const llama31 = () => ({
    model_type: "llama",
    vocab_size: 1000,
    hidden_size: 96,
    intermediate_size: 256,
    num_hidden_layers: 2,
    num_attention_heads: 6,
    num_key_value_heads: 2,
    max_position_embeddings: 4096,
    rope_theta: 500000,
    rope_scaling: {
      rope_type: "llama3",
      factor: 8,
      low_freq_factor: 1,
      high_freq_factor: 4,
      original_max_position_embeddings: 8192,
    },
    eos_token_id: [128001, 128008, 128009],
  });

  it("reads llama3 rope scaling, an eos list and the defaults", () => {
    const c = parseHfConfig(llama31(), "llama31.json");
    expect(c.ropeScaling).toEqual({
      ropeType: "llama3",
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(c.eosTokenId).toEqual([128001, 128008, 128009]);
    expect(c.headDim).toBe(16);
    expect(c.bosTokenId).toBe(HF_DEFAULTS.llama.bos_token_id);
    expect(c.rmsNormEps).toBe(HF_DEFAULTS.llama.rms_norm_eps);
    expect(c.tieWordEmbeddings).toBe(false);
    expect(parseHfConfig(toHfConfig(c), "written")).toEqual(c);
  });

  it("reads mistral without a sliding window as the llama architecture", () => {
    const c = parseHfConfig(
      { ...llama31(), model_type: "mistral", rope_scaling: null, sliding_window: null },
      "m.json",
    );
    expect(c.modelType).toBe("llama");
    expect(toHfConfig(c).architectures).toEqual(["LlamaForCausalLM"]);
  });

  it("round-trips a qwen2 config with linear scaling and a pad id", () => {
    const c = parseHfConfig(
      {
        model_type: "qwen2",
        vocab_size: 500,
        hidden_size: 64,
        intermediate_size: 160,
        num_hidden_layers: 3,
        num_attention_heads: 8,
        num_key_value_heads: 2,
        max_position_embeddings: 1024,
        rope_theta: 1000000,
        rope_scaling: { type: "linear", factor: 2 },
        tie_word_embeddings: true,
        pad_token_id: 0,
        eos_token_id: 3,
        use_sliding_window: false,
        sliding_window: 4096,
      },
      "q.json",
    );
    expect(c.ropeScaling).toEqual({ ropeType: "linear", factor: 2 });
    expect(toHfConfig(c)).toMatchObject({
      use_sliding_window: false,
      sliding_window: null,
      rope_theta: 1000000,
    });
    expect(parseHfConfig(toHfConfig(c), "written")).toEqual(c);
  });
});

describe("errors name the file, the field and the value", () => {
  const base = () => fixture("tiny-llama");
  const fails = (json: unknown, ...parts: string[]) => {
    let message = "";
    try {
      parseHfConfig(json, "model/config.json");
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message, "parseHfConfig should have thrown").not.toBe("");
    for (const p of parts) expect(message).toContain(p);
  };

  it("unknown model_type lists the supported ones", () => {
    fails({ ...base(), model_type: "gpt2" }, "model/config.json", '"gpt2"', "qwen2", "llama", "deepseek_v3");
  });
  it("missing required field", () => {
    const { hidden_size: _, ...rest } = base();
    fails(rest, "model/config.json", '"hidden_size"', "missing");
    const { q_lora_rank: __, ...ds } = deepseekV3Hub();
    fails(ds, "q_lora_rank", "missing");
    const { num_key_value_heads: ___, ...q } = fixture("tiny-qwen2");
    fails(q, "num_key_value_heads", "missing");
  });
  it("wrong types", () => {
    fails({ ...base(), hidden_size: "64" }, '"hidden_size"', '"64" (string)');
    fails({ ...base(), num_hidden_layers: 2.5 }, '"num_hidden_layers"', "2.5");
    fails({ ...base(), tie_word_embeddings: "yes" }, '"tie_word_embeddings"', '"yes"');
    fails({ ...base(), eos_token_id: ["2"] }, '"eos_token_id"', '["2"]');
    fails({ ...base(), rope_parameters: { rope_theta: "1e4", rope_type: "default" } }, "rope_theta", '"1e4"');
  });
  it("features the decoder does not implement", () => {
    fails({ ...base(), hidden_act: "gelu" }, '"hidden_act"', "gelu");
    fails(
      { ...base(), rope_parameters: { rope_theta: 1e4, rope_type: "dynamic", factor: 2 } },
      "rope_type",
      "dynamic",
    );
    fails(
      {
        ...base(),
        rope_parameters: { rope_theta: 1e4, rope_type: "yarn", factor: 2, attention_factor: 1.2 },
      },
      "attention_factor",
    );
    fails({ ...deepseekV3Hub(), topk_method: "greedy" }, "topk_method", "greedy");
    fails({ ...fixture("tiny-qwen2"), use_sliding_window: true }, "use_sliding_window");
    fails({ ...base(), model_type: "mistral", sliding_window: 64 }, "sliding_window", "64");
  });
  it("inconsistent shapes", () => {
    fails({ ...base(), num_key_value_heads: 3 }, "num_key_value_heads", "divisor");
    fails({ ...deepseekV3Hub(), topk_group: 9 }, "topk_group", "9");
    fails({ ...deepseekV3Hub(), head_dim: 128 }, "head_dim", "qk_rope_head_dim");
  });
  it("toHfConfig refuses what the target architecture cannot express", () => {
    const qwen = parseFixture("tiny-qwen2");
    expect(() => toHfConfig({ ...qwen, attentionBias: false } as ModelConfig)).toThrow(/llama/);
    expect(() => toHfConfig({ ...qwen, nRoutedExperts: 4 } as ModelConfig)).toThrow(/deepseek_v3/);
  });
});

describe("generation_config.json", () => {
  it("reads the fixtures and fills defaults", () => {
    const g = parseGenerationConfig(
      fixture("tiny-llama", "generation_config.json"),
      "generation_config.json",
    );
    expect(g.eosTokenIds).toEqual([2]);
    expect(g.bosTokenId).toBe(1);
    expect(g.doSample).toBe(false);
    expect(g.temperature).toBe(1);
    expect(g.topP).toBe(1);
    expect(g.topK).toBe(50);
    expect(g.maxNewTokens).toBeNull();
    const q = parseGenerationConfig(
      fixture("tiny-qwen2", "generation_config.json"),
      "generation_config.json",
    );
    expect(q.eosTokenIds).toEqual([]);
  });

  it("reads an R1-style sampling config with an eos list", () => {
    const g = parseGenerationConfig(
      { do_sample: true, temperature: 0.6, top_p: 0.95, eos_token_id: [1, 7], max_new_tokens: 32768 },
      "gen.json",
    );
    expect(g).toMatchObject({
      doSample: true,
      temperature: 0.6,
      topP: 0.95,
      eosTokenIds: [1, 7],
      maxNewTokens: 32768,
    });
    expect(() => parseGenerationConfig({ temperature: "hot" }, "gen.json")).toThrow(
      /gen.json.*temperature.*"hot"/,
    );
    expect(() => parseGenerationConfig({ top_p: 1.5 }, "gen.json")).toThrow(/top_p/);
  });
});
