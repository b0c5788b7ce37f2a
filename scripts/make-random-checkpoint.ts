// Writes a Hugging Face model folder with a real model's exact config.json and random weights, for
// measuring r1lab at real sizes without downloading anything: Qwen2.5-0.5B (494M parameters, tied
// embeddings) or DeepSeek-R1-Distill-Qwen-1.5B (1.78B, untied). The configs are the published ones;
// weights are N(0, 0.02) (norms 1), stored as bf16 like the originals (3.6 GB for the 1.5B). The
// tokenizer is the tiny-qwen2 fixture's (its ids are a subset of the real vocabulary). The weights
// are streamed tensor by tensor into model.safetensors, so making the 1.5B holds one tensor at a
// time. Never commit the output.
//   pnpm tsx scripts/make-random-checkpoint.ts qwen2.5-0.5b|r1-distill-qwen-1.5b OUT_DIR [--seed N] [--dtype bf16|f32]
import { closeSync, copyFileSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeJsonAtomic } from "../src/engine/atomic.ts";
import { Rng } from "../src/engine/rng.ts";
import { parseHfConfig } from "../src/hf/config.ts";
import { paramShapes } from "../src/model/init.ts";

const QWEN_COMMON = {
  architectures: ["Qwen2ForCausalLM"],
  attention_dropout: 0.0,
  bos_token_id: 151643,
  eos_token_id: 151643,
  hidden_act: "silu",
  initializer_range: 0.02,
  model_type: "qwen2",
  rms_norm_eps: 1e-6,
  torch_dtype: "bfloat16",
  use_cache: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

/** config.json as published on the Hub (Qwen/Qwen2.5-0.5B, deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B). */
export const REAL_CONFIGS: Record<string, Record<string, unknown>> = {
  "qwen2.5-0.5b": {
    ...QWEN_COMMON,
    hidden_size: 896,
    intermediate_size: 4864,
    max_position_embeddings: 32768,
    max_window_layers: 24,
    num_attention_heads: 14,
    num_hidden_layers: 24,
    num_key_value_heads: 2,
    rope_theta: 1000000.0,
    sliding_window: 32768,
    tie_word_embeddings: true,
    transformers_version: "4.40.1",
  },
  "r1-distill-qwen-1.5b": {
    ...QWEN_COMMON,
    hidden_size: 1536,
    intermediate_size: 8960,
    max_position_embeddings: 131072,
    max_window_layers: 21,
    num_attention_heads: 12,
    num_hidden_layers: 28,
    num_key_value_heads: 2,
    rope_theta: 10000,
    sliding_window: 4096,
    tie_word_embeddings: false,
    transformers_version: "4.44.0",
    use_mrope: false,
  },
};

/** float32 -> bfloat16 bits, round to nearest even (NaN kept quiet). */
function toBf16(x: Float32Array, out: Uint16Array): void {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i];
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** One tensor's values: N(0, std^2) from sfc32 (two Box-Muller values per pair of draws), or a constant. */
function values(n: number, rng: Rng, std: number, fill: number | null): Float32Array {
  const x = new Float32Array(n);
  if (fill !== null) return x.fill(fill);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rng.float())) * std;
    const t = 2 * Math.PI * rng.float();
    x[i] = r * Math.cos(t);
    if (i + 1 < n) x[i + 1] = r * Math.sin(t);
  }
  return x;
}

export function makeRandomCheckpoint(
  name: string,
  outDir: string,
  opts: { seed?: number; dtype?: "bf16" | "f32"; log?: (s: string) => void } = {},
): void {
  const raw = REAL_CONFIGS[name];
  if (!raw) throw new Error(`unknown model '${name}'; one of: ${Object.keys(REAL_CONFIGS).join(", ")}`);
  const dtype = opts.dtype ?? "bf16";
  const log = opts.log ?? (() => {});
  const out = resolve(outDir);
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const config = parseHfConfig(raw, `${name} config`);
  const shapes = paramShapes(config, false);
  const names = Object.keys(shapes).sort();
  const bytesPer = dtype === "bf16" ? 2 : 4;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let at = 0;
  for (const n of names) {
    const size = shapes[n].reduce((a, b) => a * b, 1) * bytesPer;
    header[n] = { dtype: dtype === "bf16" ? "BF16" : "F32", shape: shapes[n], data_offsets: [at, at + size] };
    at += size;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(join(tmp, "model.safetensors"), "w");
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, "utf8"));
    const rng = Rng.stream(opts.seed ?? 0, `random-checkpoint/${name}`);
    for (const [i, n] of names.entries()) {
      const count = shapes[n].reduce((a, b) => a * b, 1);
      const fill = n.endsWith("norm.weight") ? 1 : null;
      const x = values(count, rng, 0.02, fill);
      let bytes: Uint8Array;
      if (dtype === "bf16") {
        const h = new Uint16Array(count);
        toBf16(x, h);
        bytes = new Uint8Array(h.buffer);
      } else bytes = new Uint8Array(x.buffer);
      for (let off = 0; off < bytes.length; off += 1 << 28)
        writeSync(fd, bytes, off, Math.min(1 << 28, bytes.length - off));
      if (i % 25 === 0 || count > 1e8) log(`  ${i + 1}/${names.length} ${n} [${shapes[n].join(", ")}]`);
    }
  } finally {
    closeSync(fd);
  }
  writeJsonAtomic(join(tmp, "config.json"), raw);
  writeJsonAtomic(join(tmp, "generation_config.json"), {
    _from_model_config: true,
    bos_token_id: 151643,
    eos_token_id: 151643,
  });
  const fixture = join(import.meta.dirname, "../tests/fixtures/hf-reference/tiny-qwen2");
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) copyFileSync(join(fixture, f), join(tmp, f));
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [name, dir, ...rest] = process.argv.slice(2);
  if (!name || !dir) {
    console.error(
      `usage: pnpm tsx scripts/make-random-checkpoint.ts <${Object.keys(REAL_CONFIGS).join("|")}> OUT_DIR [--seed N] [--dtype bf16|f32]`,
    );
    process.exit(2);
  }
  const flag = (k: string) => {
    const i = rest.indexOf(k);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const t0 = performance.now();
  makeRandomCheckpoint(name, dir, {
    seed: Number(flag("--seed") ?? 0),
    dtype: (flag("--dtype") as "bf16" | "f32" | undefined) ?? "bf16",
    log: (s) => console.log(s),
  });
  console.log(`${name}: wrote ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
