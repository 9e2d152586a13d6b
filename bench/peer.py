#!/usr/bin/env python3
"""The PyTorch peer of `npm run bench`: the same VLM, the same weights, the same batch,
stepped the way the mDPO authors' code (TRL 0.7.2's DPOTrainer) does it:

  * one forward over [chosen; rejected] concatenated (padded to the longest row), logits at
    every position, log-probs gathered at the answer tokens (labels -100 elsewhere);
  * a separate forward for the corrupted image m' with the chosen answer;
  * the reference model (the same weights, adapters switched off) run every step under
    torch.no_grad(), no caching;
  * the loss, backward, clip_grad_norm_(1.0), torch.optim.AdamW.

The model mirrors src/core/model (ViT + mlp2x_gelu connector + Llama decoder with RoPE
(rotate_half), GQA, SwiGLU, tied head, LoRA on the language model's linears). Weights come
from our checkpoint writer (safetensors, read here by a small reader: no pip).

Usage: peer.py <exchange dir> <mode: parity|time> [threads]. Reads batch.json, model/, adapter/,
images.safetensors from the directory; writes peer-<mode>.json there.
"""
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I32": torch.int32, "I64": torch.int64}


def read_safetensors(path):
    """[u64 LE header length][JSON header][data]; returns {name: float32/int tensor}."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        buf = bytearray(raw[base + begin : base + end])
        t = torch.frombuffer(buf, dtype=dtype) if len(buf) > 0 else torch.empty(0, dtype=dtype)
        t = t.reshape(info["shape"])
        out[name] = t.float() if t.is_floating_point() else t.long()
    return out


# ----------------------------------------------------------------------------- the model

class Vlm:
    def __init__(self, cfg, weights, adapters, scaling):
        self.c = cfg
        self.w = weights  # HF name -> tensor (frozen)
        self.ad = adapters  # module path -> (A [r, in], B [out, r]), requires_grad
        self.scaling = scaling
        fam = cfg["family"]
        if fam == "idefics3":
            raise SystemExit("peer: only the builtin/llava naming is implemented")
        self.V = "vision_tower.vision_model."
        self.T = "language_model.model."

    def linear(self, path, x, lora):
        y = F.linear(x, self.w[path + ".weight"], self.w.get(path + ".bias"))
        ad = self.ad.get(path)
        if lora and ad is not None:
            a, b = ad
            y = y + F.linear(F.linear(x, a), b) * self.scaling
        return y

    def act(self, x, kind):
        if kind == "gelu":
            return F.gelu(x)
        if kind == "gelu_pytorch_tanh":
            return F.gelu(x, approximate="tanh")
        if kind == "quick_gelu":
            return x * torch.sigmoid(1.702 * x)
        raise ValueError(kind)

    def vision(self, pixels):
        """pixels [B, H, W, 3] normalised -> [B, N, Dtext]. Frozen: no adapters."""
        v, V, w = self.c["vision"], self.V, self.w
        x = F.conv2d(pixels.permute(0, 3, 1, 2), w[V + "embeddings.patch_embedding.weight"],
                     w.get(V + "embeddings.patch_embedding.bias"), stride=v["patchSize"])
        x = x.flatten(2).transpose(1, 2)  # [B, N, D]
        if v["useClassToken"]:
            cls = w[V + "embeddings.class_embedding"].expand(x.shape[0], 1, -1)
            x = torch.cat([cls, x], 1)
        x = x + w[V + "embeddings.position_embedding.weight"]
        eps = v["layerNormEps"]
        ln = lambda t, p: F.layer_norm(t, (t.shape[-1],), w[p + ".weight"], w[p + ".bias"], eps)
        if v["preLayerNorm"]:
            x = ln(x, V + "pre_layrnorm")
        L = v["numLayers"]
        want = L + 1 + v["featureLayer"] if v["featureLayer"] < 0 else v["featureLayer"]
        nh = v["numHeads"]
        for i in range(want):
            P = f"{V}encoder.layers.{i}."
            h = ln(x, P + "layer_norm1")
            B, N, D = h.shape
            q, k, vv = (self.linear(P + "self_attn." + n, h, False).view(B, N, nh, D // nh).transpose(1, 2) for n in ("q_proj", "k_proj", "v_proj"))
            a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D // nh), -1) @ vv
            x = x + self.linear(P + "self_attn.out_proj", a.transpose(1, 2).reshape(B, N, D), False)
            x = x + self.linear(P + "mlp.fc2", self.act(self.linear(P + "mlp.fc1", ln(x, P + "layer_norm2"), False), v["hiddenAct"]), False)
        if v["postLayerNorm"]:
            x = ln(x, V + "post_layernorm")
        if v["useClassToken"]:
            x = x[:, 1:]
        return self.linear("multi_modal_projector.linear_2", F.gelu(self.linear("multi_modal_projector.linear_1", x, False)), False)

    def rms(self, x, name):
        eps = self.c["text"]["rmsNormEps"]
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * self.w[name]

    def logits(self, pixels, ids, valid, lora):
        """Full sequences [bos] + image + text, right-padded. Returns logits at EVERY slot [B, T, V]."""
        t = self.c["text"]
        img = self.vision(pixels)  # [B, N, D]
        emb = self.w[self.T + "embed_tokens.weight"]
        bos = torch.full((ids.shape[0], 1), self.c["tokens"]["bos"], dtype=torch.long)
        x = torch.cat([F.embedding(bos, emb), img, F.embedding(ids, emb)], 1)  # [B, T, D]
        B, T, D = x.shape
        H, KV = t["numHeads"], t["numKeyValueHeads"]
        hd = D // H
        inv = 1.0 / (t["ropeTheta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
        ang = torch.cat([ang, ang], -1)
        cos, sin = ang.cos().float(), ang.sin().float()  # [T, hd]
        rot = lambda u: torch.cat([-u[..., hd // 2 :], u[..., : hd // 2]], -1)
        rope = lambda u: u * cos + rot(u) * sin
        causal = torch.ones(T, T, dtype=torch.bool).tril()
        allowed = causal[None, None] & valid[:, None, None, :]  # [B, 1, T, T]
        mask = torch.zeros(B, 1, T, T).masked_fill(~allowed, -1e9)
        for i in range(t["numLayers"]):
            P = f"{self.T}layers.{i}."
            h = self.rms(x, P + "input_layernorm.weight")
            q = rope(self.linear(P + "self_attn.q_proj", h, lora).view(B, T, H, hd).transpose(1, 2))
            k = rope(self.linear(P + "self_attn.k_proj", h, lora).view(B, T, KV, hd).transpose(1, 2))
            v = self.linear(P + "self_attn.v_proj", h, lora).view(B, T, KV, hd).transpose(1, 2)
            k = k.repeat_interleave(H // KV, 1)  # HF repeat_kv
            v = v.repeat_interleave(H // KV, 1)
            s = q @ k.transpose(-1, -2) / math.sqrt(hd) + mask
            a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
            x = x + self.linear(P + "self_attn.o_proj", a, lora)
            h2 = self.rms(x, P + "post_attention_layernorm.weight")
            x = x + self.linear(P + "mlp.down_proj", F.silu(self.linear(P + "mlp.gate_proj", h2, lora)) * self.linear(P + "mlp.up_proj", h2, lora), lora)
        x = self.rms(x, self.T + "norm.weight")
        head = emb if t["tieWordEmbeddings"] else self.w["language_model.lm_head.weight"]
        return F.linear(x, head)


def build_rows(cfg, prompts, answers):
    """TRL-style: [bos] + image + prompt + answer, right-padded; labels -100 except the answer."""
    N = num_image_tokens(cfg)
    pad = cfg["tokens"]["pad"]
    Lt = max(len(p) + len(a) for p, a in zip(prompts, answers))
    ids, valid, labels = [], [], []
    for p, a in zip(prompts, answers):
        text = p + a
        ids.append(text + [pad] * (Lt - len(text)))
        real = 1 + N + len(text)
        valid.append([j < real for j in range(1 + N + Lt)])
        lab = [-100] * (1 + N + Lt)
        start = 1 + N + len(p)
        for j, tok in enumerate(a):
            lab[start + j] = tok
        labels.append(lab)
    return torch.tensor(ids), torch.tensor(valid), torch.tensor(labels)


def num_image_tokens(cfg):
    v = cfg["vision"]
    n = (v["imageSize"] // v["patchSize"]) ** 2
    if cfg["connector"]["type"] == "pixel_shuffle":
        s = cfg["connector"].get("scaleFactor", 2)
        n //= s * s
    return n


def batch_logps(logits, labels):
    """TRL's get_batch_logps: shift, log_softmax over the vocabulary, sum where labels != -100."""
    labels = labels[:, 1:].clone()
    logits = logits[:, :-1, :]
    mask = labels != -100
    labels[~mask] = 0
    per_token = torch.gather(logits.log_softmax(-1), 2, labels.unsqueeze(2)).squeeze(2)
    return (per_token * mask).sum(-1)


class Peer:
    def __init__(self, d):
        self.d = d
        with open(os.path.join(d, "batch.json")) as f:
            self.job = json.load(f)
        with open(os.path.join(d, "model", "config.json")) as f:
            self.cfg = json.load(f)["vlm"]
        weights = read_safetensors(os.path.join(d, "model", "model.safetensors"))
        with open(os.path.join(d, "adapter", "adapter_config.json")) as f:
            acfg = json.load(f)
        aw = read_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"))
        pre = "base_model.model."
        adapters = {}
        for key in aw:
            if key.endswith(".lora_A.weight"):
                path = key[len(pre) : -len(".lora_A.weight")]
                a = aw[key].clone().requires_grad_(True)
                b = aw[pre + path + ".lora_B.weight"].clone().requires_grad_(True)
                adapters[path] = (a, b)
        self.params = [p for ab in adapters.values() for p in ab]
        self.model = Vlm(self.cfg, weights, adapters, acfg["lora_alpha"] / acfg["r"])
        imgs = read_safetensors(os.path.join(d, "images.safetensors"))
        mean = torch.tensor(self.cfg["image"]["mean"])
        std = torch.tensor(self.cfg["image"]["std"])
        self.pixels = (imgs["images"] - mean) / std  # [B, H, W, 3]
        self.neg_pixels = (imgs["negatives"] - mean) / std
        j = self.job
        self.prompts, self.chosen, self.rejected = j["promptIds"], j["chosenIds"], j["rejectedIds"]
        self.cr = build_rows(self.cfg, self.prompts + self.prompts, self.chosen + self.rejected)
        self.neg = build_rows(self.cfg, self.prompts, self.chosen)
        self.opt = torch.optim.AdamW(self.params, lr=j["learningRate"], betas=(0.9, 0.98), eps=1e-8, weight_decay=j["weightDecay"])

    def forward(self, lora):
        """(chosen, rejected, imageless) log-probs: [y_w; y_l] in one forward, then y_w | m'."""
        w = self.job["weights"]
        ids, valid, labels = self.cr
        b = len(self.prompts)
        both = batch_logps(self.model.logits(torch.cat([self.pixels, self.pixels]), ids, valid, lora), labels)
        chosen, rejected = both[:b], both[b:]
        imageless = None
        if w["conditional"] != 0:
            ids2, valid2, labels2 = self.neg
            imageless = batch_logps(self.model.logits(self.neg_pixels, ids2, valid2, lora), labels2)
        return chosen, rejected, imageless

    def loss(self, pol, ref):
        j = self.job
        beta, delta, w = j["beta"], j["delta"], j["weights"]
        r_w = pol[0] - ref[0]
        r_l = pol[1] - ref[1]
        total = w["dpo"] * -F.logsigmoid(beta * (r_w - r_l)).mean()
        if w["conditional"] != 0:
            total = total + w["conditional"] * -F.logsigmoid(beta * (r_w - (pol[2] - ref[2]))).mean()
        if w["anchor"] != 0:
            total = total + w["anchor"] * -F.logsigmoid(beta * (r_w - delta)).mean()
        return total

    def step(self):
        with torch.no_grad():
            ref = self.forward(False)  # every step, as TRL does without precompute_ref_log_probs
        pol = self.forward(True)
        loss = self.loss(pol, ref)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.opt.step()
        return loss.item(), norm.item(), pol, ref


def as_list(t):
    return None if t is None else [float(x) for x in t.detach()]


def main():
    d, mode = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    peer = Peer(d)
    # 0 (or nothing) = torch's own default, as a user's script would run.
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else int(peer.job.get("threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)
    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "blas": blas_info()}
    if mode == "parity":
        loss, norm, pol, ref = peer.step()
        with torch.no_grad():
            after = peer.forward(True)
        out.update({
            "loss": loss, "gradNorm": norm,
            "policy": [as_list(x) for x in pol], "reference": [as_list(x) for x in ref],
            "policyAfterStep": [as_list(x) for x in after],
        })
    else:
        warmup, repeats = peer.job["warmup"], peer.job["repeats"]
        for _ in range(warmup):
            peer.step()
        wall, cpu = [], []
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            peer.step()
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        out.update({"stepMs": wall, "cpuMs": cpu})
        # The backend's matmul peak on this machine, as for ours.
        a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
        best, best_cpu = math.inf, math.inf
        for i in range(4):
            t0, c0 = time.perf_counter(), time.process_time()
            a @ b
            if i > 0:
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
        out["matMulPeakGflops"] = 2 * 1024**3 / best / 1e9
        out["matMulPeakGflopsCpu"] = 2 * 1024**3 / max(best_cpu, 1e-6) / 1e9
    with open(os.path.join(d, f"peer-{mode}.json"), "w") as f:
        json.dump(out, f)


def blas_info():
    """Which BLAS the process actually loaded (Debian's torch links the generic libblas.so.3
    alternative, which libopenblas0-pthread provides)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split("/")[-1].strip() for line in f if "blas" in line.lower()}
        return ", ".join(sorted(libs)) or "unknown"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
