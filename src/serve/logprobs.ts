// Log-probabilities of sampled tokens for the API's `logprobs`: the model's own distribution
// (log_softmax of the raw logits, before temperature and top-p, as vLLM reports by default), the
// chosen token's value and the k most likely tokens.

export interface TokenLogprob {
  logprob: number;
  /** The k most likely tokens, most likely first. */
  top: { id: number; logprob: number }[];
}

/** logprob of `tok` and the top k of logits row[offset .. offset + n). */
export function topLogprobs(
  row: Float32Array,
  offset: number,
  n: number,
  tok: number,
  k: number,
): TokenLogprob {
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, row[offset + i]);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(row[offset + i] - m);
  const lse = m + Math.log(s);
  const top: { id: number; logprob: number }[] = [];
  if (k > 0) {
    // Keep a sorted list of the k best (k is small: the API allows at most 20).
    for (let i = 0; i < n; i++) {
      const v = row[offset + i];
      if (top.length === k && v <= top[k - 1].logprob) continue;
      let at = top.length;
      while (at > 0 && top[at - 1].logprob < v) at--;
      top.splice(at, 0, { id: i, logprob: v });
      if (top.length > k) top.pop();
    }
    for (const t of top) t.logprob -= lse;
  }
  return { logprob: row[offset + tok] - lse, top };
}
