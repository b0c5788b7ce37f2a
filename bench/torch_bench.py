"""PyTorch peer of `pnpm bench`: the same decoders as r1lab (bench/models.ts), built from the same
ModelConfig fields (camelCase, as r1lab sends them), timed the same way.

Protocol: bench/main.ts starts this script once, then writes one JSON request per line on stdin
({"kind": "train" | "generate" | "grpo" | "eval" | "cache", ...}) and reads one JSON answer per
line on stdout. The first line written is a hello with the torch version and device.
Maths: RMSNorm, RoPE (half-split; DeepSeek's interleaved pairs are de-interleaved first), SwiGLU,
MHA with an additive mask, MLA (full keys in training, absorbed W_UK / W_UV over the cached latent
when decoding), DeepSeekMoE computing only each token's chosen experts (as r1lab's ORT executor does), AdamW +
global-norm clip.
KV cache: PyTorch-style growing cache (torch.cat per step).
"""
import json
import resource
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(2)
DEV = "cuda" if torch.cuda.is_available() else "cpu"


def sync():
    if DEV == "cuda":
        torch.cuda.synchronize()


def rms(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(T, dim, theta):
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], -1)
    return ang.cos().float().to(DEV), ang.sin().float().to(DEV)


def deinterleave(x):
    *lead, d = x.shape
    return x.reshape(*lead, d // 2, 2).transpose(-1, -2).reshape(*lead, d)


def apply_rope(x, cos, sin, interleaved):
    if interleaved:
        x = deinterleave(x)
    h = x.shape[-1] // 2
    rot = torch.cat([-x[..., h:], x[..., :h]], -1)
    return x * cos + rot * sin


class Model:
    def __init__(self, c, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.c = c
        self.p = {}
        D, H = c["hiddenSize"], c["numAttentionHeads"]

        def w(name, *shape):
            self.p[name] = (torch.randn(*shape, generator=g) * 0.02).to(DEV).requires_grad_()

        def ones(name, n):
            self.p[name] = torch.ones(n, device=DEV).requires_grad_()

        self.mla = c["modelType"] == "deepseek_v3"
        w("embed", c["vocabSize"], D)
        if c.get("tieWordEmbeddings"):
            self.p["head"] = self.p["embed"]  # Qwen2.5-0.5B: one matrix for both
        else:
            w("head", c["vocabSize"], D)
        ones("norm", D)
        for i in range(c["numHiddenLayers"]):
            pre = f"l{i}."
            ones(pre + "ln1", D)
            ones(pre + "ln2", D)
            if self.mla:
                qk = c["qkNopeHeadDim"] + c["qkRopeHeadDim"]
                if c["qLoraRank"] is not None:
                    w(pre + "q_a", c["qLoraRank"], D)
                    ones(pre + "q_ln", c["qLoraRank"])
                    w(pre + "q_b", H * qk, c["qLoraRank"])
                else:
                    w(pre + "q", H * qk, D)
                w(pre + "kv_a", c["kvLoraRank"] + c["qkRopeHeadDim"], D)
                ones(pre + "kv_ln", c["kvLoraRank"])
                w(pre + "kv_b", H * (c["qkNopeHeadDim"] + c["vHeadDim"]), c["kvLoraRank"])
                w(pre + "o", D, H * c["vHeadDim"])
            else:
                hd, kv = c["headDim"], c["numKeyValueHeads"] * c["headDim"]
                w(pre + "q", H * hd, D)
                w(pre + "k", kv, D)
                w(pre + "v", kv, D)
                w(pre + "o", D, H * hd)
                if c.get("attentionBias"):
                    w(pre + "qb", H * hd)
                    w(pre + "kb", kv)
                    w(pre + "vb", kv)
            if self.is_moe(i):
                E, F_ = c["nRoutedExperts"], c["moeIntermediateSize"]
                w(pre + "gate", E, D)
                self.p[pre + "bias"] = torch.zeros(E, device=DEV)
                w(pre + "eg", E, F_, D)
                w(pre + "eu", E, F_, D)
                w(pre + "ed", E, D, F_)
                Fs = F_ * c["nSharedExperts"]
                w(pre + "sg", Fs, D)
                w(pre + "su", Fs, D)
                w(pre + "sd", D, Fs)
            else:
                F_ = c["intermediateSize"]
                w(pre + "g", F_, D)
                w(pre + "u", F_, D)
                w(pre + "d", D, F_)
        rd = c["qkRopeHeadDim"] if self.mla else c["headDim"]
        self.cos, self.sin = rope_tables(c["maxPositionEmbeddings"], rd, c["ropeTheta"])
        self.scale = 1 / math.sqrt(c["qkNopeHeadDim"] + c["qkRopeHeadDim"]) if self.mla else 1 / math.sqrt(c["headDim"])

    def is_moe(self, i):
        return self.c["nRoutedExperts"] > 0 and i >= self.c["firstKDenseReplace"]

    def unique(self):
        # A tied head is the embedding itself: list each tensor once.
        seen, out = set(), []
        for k, v in self.p.items():
            if id(v) not in seen:
                seen.add(id(v))
                out.append((k, v))
        return out

    def trainable(self):
        return [v for k, v in self.unique() if not k.endswith("bias")]

    def attention(self, pre, x, pos, mask, cache):
        c, p = self.c, self.p
        B, T, _ = x.shape
        H, hd, Hkv = c["numAttentionHeads"], c["headDim"], c["numKeyValueHeads"]
        cos, sin = self.cos[pos : pos + T], self.sin[pos : pos + T]
        q = F.linear(x, p[pre + "q"], p.get(pre + "qb")).view(B, T, H, hd).transpose(1, 2)
        k = F.linear(x, p[pre + "k"], p.get(pre + "kb")).view(B, T, Hkv, hd).transpose(1, 2)
        v = F.linear(x, p[pre + "v"], p.get(pre + "vb")).view(B, T, Hkv, hd).transpose(1, 2)
        q, k = apply_rope(q, cos, sin, False), apply_rope(k, cos, sin, False)
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        if Hkv != H:
            k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        s = q @ k.transpose(-1, -2) * self.scale
        if mask is not None:
            s = s + mask
        o = s.softmax(-1) @ v
        return F.linear(o.transpose(1, 2).reshape(B, T, H * hd), p[pre + "o"])

    def mla_attention(self, pre, x, pos, mask, cache):
        c, p = self.c, self.p
        B, T, _ = x.shape
        H, nope, rope, R, vd = c["numAttentionHeads"], c["qkNopeHeadDim"], c["qkRopeHeadDim"], c["kvLoraRank"], c["vHeadDim"]
        il = c["ropeInterleave"]
        cos, sin = self.cos[pos : pos + T], self.sin[pos : pos + T]
        if c["qLoraRank"] is not None:
            qf = F.linear(rms(F.linear(x, p[pre + "q_a"]), p[pre + "q_ln"], c["rmsNormEps"]), p[pre + "q_b"])
        else:
            qf = F.linear(x, p[pre + "q"])
        q = qf.view(B, T, H, nope + rope).transpose(1, 2)
        q_nope, q_rope = q[..., :nope], apply_rope(q[..., nope:], cos, sin, il)
        kv_a = F.linear(x, p[pre + "kv_a"])
        ckv = rms(kv_a[..., :R], p[pre + "kv_ln"], c["rmsNormEps"])
        k_rope = apply_rope(kv_a[..., R:].reshape(B, 1, T, rope), cos, sin, il)
        if cache is None:
            kv = F.linear(ckv, p[pre + "kv_b"]).view(B, T, H, nope + vd).transpose(1, 2)
            k = torch.cat([kv[..., :nope], k_rope.expand(B, H, T, rope)], -1)
            s = torch.cat([q_nope, q_rope], -1) @ k.transpose(-1, -2) * self.scale + mask
            o = s.softmax(-1) @ kv[..., nope:]
        else:
            k_rope = k_rope.reshape(B, T, rope)
            if "ckv" in cache:
                ckv, k_rope = torch.cat([cache["ckv"], ckv], 1), torch.cat([cache["kr"], k_rope], 1)
            cache["ckv"], cache["kr"] = ckv, k_rope
            wkvb = p[pre + "kv_b"].view(H, nope + vd, R)
            q_lat = torch.einsum("bhtn,hnr->bhtr", q_nope, wkvb[:, :nope])
            s = (torch.einsum("bhtr,bsr->bhts", q_lat, ckv) + torch.einsum("bhtd,bsd->bhts", q_rope, k_rope)) * self.scale
            if mask is not None:
                s = s + mask
            o = torch.einsum("bhtr,hvr->bhtv", torch.einsum("bhts,bsr->bhtr", s.softmax(-1), ckv), wkvb[:, nope:])
        return F.linear(o.transpose(1, 2).reshape(B, T, H * vd), p[pre + "o"])

    def moe(self, pre, x):
        c, p = self.c, self.p
        B, T, D = x.shape
        E, G, K = c["nRoutedExperts"], c["nGroup"], c["numExpertsPerTok"]
        flat = x.reshape(B * T, D)
        N = flat.shape[0]
        scores = torch.sigmoid(F.linear(flat, p[pre + "gate"]))
        choice = (scores + p[pre + "bias"]).detach()
        if G > 1 and c["topkGroup"] < G:
            gs = choice.view(N, G, E // G).topk(min(2, E // G), -1).values.sum(-1)
            gmask = F.one_hot(gs.topk(c["topkGroup"], -1).indices, G).sum(1)
            emask = gmask[:, :, None].expand(N, G, E // G).reshape(N, E)
            choice = torch.where(emask > 0, choice, torch.zeros_like(choice))
        idx = choice.topk(K, -1).indices  # [N, K]
        gk = scores.gather(1, idx)  # gate of each choice [N, K]
        if c["normTopkProb"] and K > 1:
            gk = gk / (gk.sum(-1, keepdim=True) + 1e-20)
        gk = gk * c["routedScalingFactor"]
        # Only the chosen experts, as DeepSeek-V3's inference code does: per expert, its tokens.
        out = torch.zeros_like(flat)
        for e in range(E):
            tok, k = torch.where(idx == e)
            if tok.numel() == 0:
                continue
            xe = flat[tok]
            he = F.silu(F.linear(xe, p[pre + "eg"][e])) * F.linear(xe, p[pre + "eu"][e])
            out = out.index_add(0, tok, F.linear(he, p[pre + "ed"][e]) * gk[tok, k, None])
        sh = F.linear(F.silu(F.linear(flat, p[pre + "sg"])) * F.linear(flat, p[pre + "su"]), p[pre + "sd"])
        return (out + sh).view(B, T, D)

    def forward(self, ids, pos=0, mask=None, cache=None):
        c, p = self.c, self.p
        eps = c["rmsNormEps"]
        h = F.embedding(ids, p["embed"])
        for i in range(c["numHiddenLayers"]):
            pre = f"l{i}."
            a_in = rms(h, p[pre + "ln1"], eps)
            lc = cache[i] if cache is not None else None
            att = self.mla_attention if self.mla else self.attention
            h = h + att(pre, a_in, pos, mask, lc)
            f_in = rms(h, p[pre + "ln2"], eps)
            if self.is_moe(i):
                h = h + self.moe(pre, f_in)
            else:
                h = h + F.linear(F.silu(F.linear(f_in, p[pre + "g"])) * F.linear(f_in, p[pre + "u"]), p[pre + "d"])
        return F.linear(rms(h, p["norm"], eps), p["head"])


def causal_mask(T):
    return torch.full((T, T), -1e9, device=DEV).triu(1)[None, None]


def make_opt(m, lr=1e-3, beta2=0.95, wd=0.01):
    dec = [v for k, v in m.unique() if v.requires_grad and v.dim() >= 2]
    nodec = [v for k, v in m.unique() if v.requires_grad and v.dim() < 2]
    groups = [{"params": dec, "weight_decay": wd}, {"params": nodec, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, beta2), eps=1e-8)


def opt_step(m, opt):
    torch.nn.utils.clip_grad_norm_(m.trainable(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)


def timed(fn, warmup, steps):
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return ts


def bench_train(req):
    c, B, T = req["config"], req["batch"], req["seq"]
    m = Model(c)
    opt = make_opt(m)
    g = torch.Generator().manual_seed(1)
    mask = causal_mask(T)

    def step():
        ids = torch.randint(0, c["vocabSize"], (B, T + 1), generator=g).to(DEV)
        logits = m.forward(ids[:, :-1], 0, mask)
        loss = F.cross_entropy(logits.reshape(B * T, -1), ids[:, 1:].reshape(-1))
        loss.backward()
        opt_step(m, opt)
        return loss.item()

    ts = timed(step, req["warmup"], req["steps"])
    return {"step_seconds": ts, "tokens_per_s": B * T / statistics.median(ts)}


def sample(logits, temperature, top_p, g):
    if temperature <= 0:
        return logits.argmax(-1)
    probs = (logits / temperature).softmax(-1)
    if top_p < 1:
        sp, si = probs.sort(-1, descending=True)
        drop = sp.cumsum(-1) - sp >= top_p
        sp = sp.masked_fill(drop, 0)
        return si.gather(-1, torch.multinomial(sp, 1, generator=g)).squeeze(-1)
    return torch.multinomial(probs, 1, generator=g).squeeze(-1)


@torch.no_grad()
def generate(m, ids, new, temperature=0.0, top_p=1.0, g=None):
    B, P = ids.shape
    cache = [{} for _ in range(m.c["numHiddenLayers"])]
    logits = m.forward(ids, 0, causal_mask(P), cache)[:, -1]
    out = []
    for t in range(new):
        tok = sample(logits, temperature, top_p, g)
        out.append(tok)
        if t == new - 1:
            break
        logits = m.forward(tok[:, None], P + t, None, cache)[:, -1]
    return torch.stack(out, 1), cache


def bench_generate(req):
    c, B, P, N = req["config"], req["batch"], req["prompt"], req["new_tokens"]
    m = Model(c)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, c["vocabSize"], (B, P), generator=g).to(DEV)
    ts = timed(lambda: generate(m, ids, N), req["warmup"], req["steps"])
    _, cache = generate(m, ids, N)
    cache_bytes = sum(t.numel() * t.element_size() for layer in cache for t in layer.values()) / (B * (P + N - 1))
    return {"step_seconds": ts, "tokens_per_s": B * N / statistics.median(ts), "cache_bytes_per_token": cache_bytes}


def token_logprobs(m, ids, targets, mask, temperature):
    logits = m.forward(ids, 0, mask)
    logp = (logits / temperature).log_softmax(-1)
    picked = logp.gather(-1, targets[..., None]).squeeze(-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return picked, entropy


def bench_grpo(req):
    c, N, P, L, T = req["config"], req["rows"], req["prompt"], req["max_completion_length"], req["seq"]
    temp = req["temperature"]
    m, ref = Model(c), Model(c, seed=1)
    opt = make_opt(m, lr=1e-6, beta2=0.99, wd=0.0)
    g = torch.Generator().manual_seed(3)
    prompts = torch.randint(0, c["vocabSize"], (N, P), generator=g).to(DEV)
    amask = causal_mask(T)
    parts = {"rollout": [], "reference": [], "update": []}

    def step():
        t0 = time.perf_counter()
        comp, _ = generate(m, prompts, L, temp, 1.0, g)
        seqs = torch.cat([prompts, comp], 1)[:, : T + 1]
        seqs = F.pad(seqs, (0, T + 1 - seqs.shape[1]))
        ids, targets = seqs[:, :T], seqs[:, 1:]
        lmask = torch.zeros(N, T, device=DEV)
        lmask[:, P - 1 : P - 1 + L] = 1
        adv = torch.randn(N, generator=g).to(DEV)
        sync()
        t1 = time.perf_counter()
        with torch.no_grad():
            ref_logp, _ = token_logprobs(ref, ids, targets, amask, temp)
        sync()
        t2 = time.perf_counter()
        logp, ent = token_logprobs(m, ids, targets, amask, temp)
        ratio = torch.exp(logp - logp.detach())
        A = adv[:, None]
        per_tok = -torch.minimum(ratio * A, ratio.clamp(1 - 0.2, 1 + 0.28) * A)
        d = ref_logp - logp
        per_tok = per_tok + req["beta"] * (d.exp() - d - 1)
        loss = ((per_tok * lmask).sum(-1) / lmask.sum(-1).clamp(min=1)).mean()
        loss.backward()
        opt_step(m, opt)
        _ = (ent.detach() * lmask).sum().item() + loss.item()
        sync()
        t3 = time.perf_counter()
        return t1 - t0, t2 - t1, t3 - t2

    for _ in range(req["warmup"]):
        step()
    for _ in range(req["steps"]):
        r, f, u = step()
        parts["rollout"].append(r)
        parts["reference"].append(f)
        parts["update"].append(u)
    return {k: statistics.median(v) for k, v in parts.items()}


def bench_eval(req):
    c, n, P, L = req["config"], req["samples"], req["prompt"], req["max_completion_length"]
    m = Model(c)
    g = torch.Generator().manual_seed(4)
    ids = torch.randint(0, c["vocabSize"], (n, P), generator=g).to(DEV)
    ts = timed(lambda: generate(m, ids, L, req["temperature"], req["top_p"], g), req["warmup"], req["steps"])
    return {"step_seconds": ts, "samples_per_s": n / statistics.median(ts)}


def bench_matmul(req):
    """GFLOP/s of one [m, k] @ [k, n] float32 product: with the peer's threads, and on one thread (CPU)."""
    m, k, n = req["m"], req["k"], req["n"]
    a = torch.randn(m, k, device=DEV)
    b = torch.randn(k, n, device=DEV)
    flops = 2 * m * k * n

    def rate():
        ts = sorted(timed(lambda: a @ b, req["warmup"], req["steps"]))
        return flops / ts[len(ts) // 2] / 1e9

    with torch.no_grad():
        out = {"gflops": rate()}
        if DEV == "cpu":
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                out["gflops_1t"] = rate()
            finally:
                torch.set_num_threads(threads)
    return out


KINDS = {"train": bench_train, "generate": bench_generate, "grpo": bench_grpo, "eval": bench_eval, "matmul": bench_matmul}


def main():
    dev_name = torch.cuda.get_device_name(0) if DEV == "cuda" else "cpu"
    env = {k: os.environ.get(k) for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    print(json.dumps({"hello": True, "torch": torch.__version__, "device": dev_name, "threads": torch.get_num_threads(), "env": env}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            res = KINDS[req["kind"]](req)
            # Peak RSS of this process so far (KiB on Linux): per row when each row has its own peer.
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps({"id": req.get("id"), "ok": True, "peak_rss_mb": peak, **res}), flush=True)
        except Exception as e:  # reported to the TypeScript side, which prints it
            print(json.dumps({"id": req.get("id"), "ok": False, "error": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    main()
