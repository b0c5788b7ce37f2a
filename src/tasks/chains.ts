// Countdown's candidate expressions ("chains"): numbers combined left to right, a o b o c ...,
// every intermediate a non-negative integer as in the TV game. The corpus traces try chains; the
// verifier accepts any expression, so chains are how traces search, not a rule on answers.
import { type BinOp, type Expr, evaluate, formatExpr, ratToInt, reductionChain } from "./expr.ts";

/** Left-deep tree ((n0 o0 n1) o1 n2)...; null when an intermediate is negative or not an integer. */
export function chainTree(nums: number[], ops: BinOp[]): Expr | null {
  let tree: Expr = { kind: "num", value: BigInt(nums[0]), pos: -1 };
  for (let i = 0; i < ops.length; i++) {
    tree = {
      kind: "bin",
      op: ops[i],
      left: tree,
      right: { kind: "num", value: BigInt(nums[i + 1]), pos: -1 },
    };
    if (ops[i] === "/" && nums[i + 1] === 0) return null;
    const v = ratToInt(evaluate(tree));
    if (v === null || v < 0) return null;
  }
  return tree;
}

/** Every distinct valid chain over 2 or more of the numbers (each used at most once). */
export function allChains(numbers: number[], ops: readonly BinOp[]): Expr[] {
  const byText = new Map<string, Expr>();
  const extend = (order: number[], used: boolean[]) => {
    if (order.length >= 2) {
      const nOps = order.length - 1;
      for (let code = 0; code < ops.length ** nOps; code++) {
        const chosen: BinOp[] = [];
        for (let i = 0, c = code; i < nOps; i++, c = Math.floor(c / ops.length))
          chosen.push(ops[c % ops.length]);
        const tree = chainTree(order, chosen);
        if (tree) byText.set(formatExpr(tree), tree);
      }
    }
    for (let i = 0; i < numbers.length; i++) {
      if (used[i]) continue;
      used[i] = true;
      extend([...order, numbers[i]], used);
      used[i] = false;
    }
  };
  extend(
    [],
    numbers.map(() => false),
  );
  return [...byText.values()];
}

export function chainInt(tree: Expr): number {
  return ratToInt(evaluate(tree))!;
}

/** Undo the chain from the target back to its first number: 3*5-2 = 13 is checked as (13+2)/5 = 3. */
export function inverseCheck(tree: Expr, target: number): string[] {
  const rights: { op: BinOp; n: Expr }[] = [];
  let cur = tree;
  while (cur.kind === "bin") {
    rights.push({ op: cur.op, n: cur.right });
    cur = cur.left;
  }
  const inv: Record<BinOp, BinOp> = { "+": "-", "-": "+", "*": "/", "/": "*" };
  let back: Expr = { kind: "num", value: BigInt(target), pos: -1 };
  for (const r of rights) {
    // x*0 cannot be undone; such chains are checked forwards instead.
    if (r.op === "*" && r.n.kind === "num" && r.n.value === 0n) return reductionChain(tree);
    back = { kind: "bin", op: inv[r.op], left: back, right: r.n };
  }
  return reductionChain(back);
}
