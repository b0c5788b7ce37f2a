// The ORT executor's session cache is bounded (src/engine/ort/compile.ts): past
// R1LAB_ORT_MAX_SESSIONS CPU sessions the least recently used one is released, and a compiled
// function whose session was released reopens it and still computes the right values. Each CPU
// session keeps its arena for life, so an unbounded cache grew a long run (r1's default preset)
// to 23 GB.
import { beforeAll, describe, expect, it } from "vitest";

process.env.R1LAB_ORT_MAX_SESSIONS = "2";

type Mod = typeof import("../src/engine/ort/compile.ts");
let ort: Mod;
let np: typeof import("../src/engine/jax.ts").numpy;

beforeAll(async () => {
  const { initEngine } = await import("../src/engine/device.ts");
  await initEngine({ device: "cpu", executor: "ort" });
  ort = await import("../src/engine/ort/compile.ts");
  np = (await import("../src/engine/jax.ts")).numpy;
});

describe("ORT session cache", () => {
  it("keeps at most R1LAB_ORT_MAX_SESSIONS sessions and reopens released ones with the same results", () => {
    const before = ort.openSessions();
    const f = ort.compileOrt((x: any) => np.multiply(x.ref, x).add(1), { name: "square plus one" });
    const run = (n: number): number[] => {
      const x = np.array(
        Float32Array.from({ length: n }, (_, i) => i - 1),
        { shape: [n] } as never,
      );
      return Array.from(f(x).dataSync() as Float32Array);
    };
    const expected = (n: number) => Array.from({ length: n }, (_, i) => (i - 1) * (i - 1) + 1);
    // Four shapes: four distinct graphs, so four sessions were opened one after the other.
    for (const n of [3, 4, 5, 6]) expect(run(n)).toEqual(expected(n));
    expect(f.stats.signatures).toBe(4);
    expect(ort.openSessions()).toBeLessThanOrEqual(Math.max(before, 2));
    // The first shape's session was released; calling it again reopens it, with the same values.
    expect(run(3)).toEqual(expected(3));
    expect(f.stats.signatures).toBe(4); // traced once: only the session was reopened
    expect(ort.openSessions()).toBeLessThanOrEqual(Math.max(before, 2));
  });

  it("recognises a repeated argument structure without its key, and retraces when keys, order or shapes change", () => {
    // f({a, b}, [c]) = a * 2 + b - c: which leaf is which comes from the tree's structure.
    const f = ort.compileOrt((t: any, l: any) => np.subtract(np.add(np.multiply(t.a, 2), t.b), l[0]), {
      name: "structure",
    });
    const arr = (v: number[]) => np.array(Float32Array.from(v), { shape: [v.length] } as never);
    const run = (t: Record<string, number[]>, l: number[]) =>
      Array.from(
        f(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, arr(v)])), [
          arr(l),
        ]).dataSync() as Float32Array,
      );
    expect(run({ a: [1, 2], b: [10, 20] }, [3, 4])).toEqual([9, 20]);
    expect(run({ a: [5, 6], b: [1, 1] }, [1, 1])).toEqual([10, 12]); // same structure: the last entry
    expect(f.stats.signatures).toBe(1);
    // Keys in the other order: other leaves in each position, so another signature (same values).
    expect(run({ b: [10, 20], a: [1, 2] }, [3, 4])).toEqual([9, 20]);
    expect(f.stats.signatures).toBe(2);
    expect(run({ a: [1, 2], b: [10, 20] }, [3, 4])).toEqual([9, 20]); // back to the first one
    expect(f.stats.signatures).toBe(2);
    expect(run({ a: [1, 2, 3], b: [1, 1, 1] }, [0, 0, 0])).toEqual([3, 5, 7]); // new shapes
    expect(f.stats.signatures).toBe(3);
    expect(run({ a: [1, 2, 3], b: [1, 1, 1], c: [7, 7, 7] }, [0, 0, 0])).toEqual([3, 5, 7]); // an extra key
    expect(f.stats.signatures).toBe(4);
    expect(f.stats.calls).toBe(6);
  });
});
