#!/usr/bin/env python3
"""Golden fixtures from transformers + PEFT for test/hf-golden*.test.ts (issue 14).

For every family src/core/hf supports (smolvlm = Idefics3, smolvlm2 = SmolVLM (model_type smolvlm),
llava-llama = LLaVA + CLIP + Llama,
llava-qwen2 = LLaVA + SigLIP + Qwen2, onevision = LLaVA-OneVision base crop), writes
<out>/<family>/:
  model/          a tiny random HF folder made WITH transformers (config classes,
                  save_pretrained of the model, tokenizer and processor), BF16 weights;
  adapter-init/   the PEFT LoRA adapter the goldens use (PeftModel.save_pretrained);
  golden.json     processor ids, templated prompt text, answer ids, log-probs, loss, settings;
  golden.safetensors  pixel_values, logits (base and with the adapter), LoRA gradients, and
                  the adapter after one AdamW step;
  tokenizer-parity.json  HF's ids for the >= 200 strings of <out>/tokenizer-strings.json.
and <out>/inputs/ (image.png = m, image-neg.png = m', image-wide.png: 48 x 40, resampled by every processor).

Deterministic and offline: HF_HUB_OFFLINE=1, seeded numpy weights, CPU, one thread.
Usage: python python/golden/make_fixtures.py [--out test/fixtures/hf-golden] [--only FAMILY ...]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import zlib

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from families import FAMILIES, ProcessorParts, build  # noqa: E402
from mdpo_torch import ADAMW, BETA, DELTA, LORA, MAX_GRAD_NORM, TARGETS, answer_logp, logits_of, mdpo_loss  # noqa: E402
from parity_strings import parity_strings  # noqa: E402

SEED = 20241
QUESTION = "What is in the image?"
CHOSEN = "A red circle on a white background."
REJECTED = "A blue square in the corner."
IMAGE_SIZE = 32

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


def make_images(out: str) -> tuple[Image.Image, Image.Image]:
    """m: a seeded 32 x 32 picture (gradient, a disc, noise); m': a 30% crop of it, resized back (PIL bicubic)."""
    rng = np.random.Generator(np.random.PCG64(SEED))
    y, x = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE].astype(np.float64)
    img = np.stack([x * 8, y * 8, (x + y) * 4], axis=-1)
    disc = (x - 20) ** 2 + (y - 12) ** 2 < 49
    img[disc] = [230, 30, 40]
    img = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    m = Image.fromarray(img, "RGB")
    neg = m.crop((4, 6, 21, 23)).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BICUBIC)
    d = os.path.join(out, "inputs")
    os.makedirs(d, exist_ok=True)
    m.save(os.path.join(d, "image.png"))
    neg.save(os.path.join(d, "image-neg.png"))
    # 48 x 40: every processor resamples it (how far sharp is from PIL, measured by the tests).
    y, x = np.mgrid[0:40, 0:48].astype(np.float64)
    wide = np.clip(np.stack([x * 5, y * 6, (x + y) * 3], axis=-1) + rng.normal(0, 20, (40, 48, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(wide, "RGB").save(os.path.join(d, "image-wide.png"))
    return m, neg


def user_messages(question: str):
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]


def answer_ids(tok, template_owner, prompt_text: str, question: str, answer: str) -> list[int]:
    """The answer's tokens as they appear inside the whole templated conversation, then the end token.

    full = template(user, assistant); the answer text is what follows the generation prompt up
    to the end of the answer; its ids are those of tokenize(prompt + answer) after the prompt's."""
    full = template_owner.apply_chat_template(
        user_messages(question) + [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
        add_generation_prompt=False,
        tokenize=False,
    )
    assert full.startswith(prompt_text), (full, prompt_text)
    tail = full[len(prompt_text) :]
    k = tail.index(answer) + len(answer)
    a = tok(prompt_text + tail[:k], add_special_tokens=True).input_ids
    p = tok(prompt_text, add_special_tokens=True).input_ids
    assert a[: len(p)] == p, "the prompt's tokens change when the answer follows it"
    return a[len(p) :] + [tok.eos_token_id]


def processor_inputs(family: str, proc, prompt_text: str, image: Image.Image):
    """(input_ids used by the model, attention mask, model pixel kwargs, HF processor's own ids)."""
    if isinstance(proc, ProcessorParts):
        ids = proc.tokenizer(prompt_text.replace("<image>", proc.image_text), add_special_tokens=True).input_ids
        if family == "onevision":
            pv = proc.image_processor(images=[image], return_tensors="pt").pixel_values  # [1, tiles, 3, S, S]
            return ids, [1] * len(ids), {"pixel_values": pv[:, 0]}, None  # the base crop
        enc = proc.image_processor(images=[[image]], return_tensors="pt")  # [1, 1, 3, S, S]
        pixels = {"pixel_values": enc.pixel_values}
        if "pixel_attention_mask" in enc:
            pixels["pixel_attention_mask"] = enc.pixel_attention_mask
        return ids, [1] * len(ids), pixels, None
    enc = proc(text=prompt_text, images=[image], return_tensors="pt")
    ids = enc.input_ids[0].tolist()
    pixels = {"pixel_values": enc.pixel_values}
    if "pixel_attention_mask" in enc:
        pixels["pixel_attention_mask"] = enc.pixel_attention_mask
    return ids, enc.attention_mask[0].tolist(), pixels, ids


def seeded_lora(model, family: str) -> None:
    """A ~ U(-1/sqrt(in), 1/sqrt(in)) and B ~ U(-0.5/sqrt(r), 0.5/sqrt(r)) from numpy, seeded by module name."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" not in name:
                continue
            rng = np.random.Generator(np.random.PCG64([SEED + 1, zlib.crc32(name.encode())]))
            bound = 1 / np.sqrt(p.shape[1]) if "lora_A" in name else 0.5 / np.sqrt(p.shape[1])
            p.copy_(torch.from_numpy(rng.uniform(-bound, bound, tuple(p.shape)).astype(np.float32)))


def lora_key(name: str) -> str:
    """PeftModel parameter name -> '<module path>.lora_A.weight' (transformers' in-memory path)."""
    n = name.replace("base_model.model.", "", 1).replace(".default", "")
    return n


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).clone().contiguous()  # a copy: clipping edits grads in place


def generate_family(family: str, out: str, m: Image.Image, neg: Image.Image, strings: list[str]) -> None:
    d = os.path.join(out, family)
    shutil.rmtree(d, ignore_errors=True)
    model_dir = os.path.join(d, "model")
    model, proc = build(family, SEED)
    model.to(torch.bfloat16).save_pretrained(model_dir)
    proc.save_pretrained(model_dir)
    del model

    # Everything below reads the folder back, as a user of transformers would.
    model = transformers.AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32)
    model.eval()
    # use_fast=False: the PIL image backend, the one these goldens were made with. With
    # torchvision installed transformers would pick its torchvision ("fast") backend, whose
    # resampling differs (up to 0.008 in pixel_values_wide); the comparisons start from the
    # golden pixel_values either way, and the PIL backend keeps the goldens bit-stable.
    if isinstance(proc, ProcessorParts):
        proc.image_processor = transformers.AutoImageProcessor.from_pretrained(model_dir, use_fast=False)
        proc.tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    else:
        proc = transformers.AutoProcessor.from_pretrained(model_dir, use_fast=False)
    tok = proc.tokenizer

    prompt_text = proc.apply_chat_template(user_messages(QUESTION), add_generation_prompt=True, tokenize=False)
    prompt_ids, prompt_mask, pix_m, hf_ids = processor_inputs(family, proc, prompt_text, m)
    _, _, pix_neg, _ = processor_inputs(family, proc, prompt_text, neg)
    chosen = answer_ids(tok, proc, prompt_text, QUESTION, CHOSEN)
    rejected = answer_ids(tok, proc, prompt_text, QUESTION, REJECTED)
    seq_w, seq_l = prompt_ids + chosen, prompt_ids + rejected

    wide = Image.open(os.path.join(out, "inputs", "image-wide.png")).convert("RGB")
    pv_wide = proc.image_processor(images=[wide], return_tensors="pt").pixel_values  # OneVision: base crop first
    tensors: dict[str, torch.Tensor] = {
        "pixel_values": f32(pix_m["pixel_values"]),
        "pixel_values_neg": f32(pix_neg["pixel_values"]),
        "pixel_values_wide": f32(pv_wide.reshape(-1, 3, IMAGE_SIZE, IMAGE_SIZE)[0]),
    }
    with torch.no_grad():
        logits_w = logits_of(family, model, seq_w, pix_m)  # [T, V]
        base = {
            "chosen": answer_logp(logits_w, seq_w, len(chosen)).item(),
            "rejected": answer_logp(logits_of(family, model, seq_l, pix_m), seq_l, len(rejected)).item(),
            "imageless": answer_logp(logits_of(family, model, seq_w, pix_neg), seq_w, len(chosen)).item(),
        }
    tensors["logits"] = f32(logits_w)

    # LoRA attached as the app attaches it (language-model linears, the app's regex), B != 0.
    cfg = peft.LoraConfig(task_type="CAUSAL_LM", target_modules=TARGETS[family], bias="none", **LORA)
    pm = peft.get_peft_model(model, cfg)
    seeded_lora(pm, family)
    # A name, not this machine's path: the folder must regenerate byte for byte anywhere.
    pm.peft_config["default"].base_model_name_or_path = f"hf-golden/{family}/model"
    pm.save_pretrained(os.path.join(d, "adapter-init"))
    os.remove(os.path.join(d, "adapter-init", "README.md"))  # PEFT's model card template
    named = [(n, p) for n, p in pm.named_parameters() if p.requires_grad]
    assert named and all("lora_" in n for n, _ in named), "only LoRA parameters may train"

    with torch.no_grad(), pm.disable_adapter():
        ref = torch.stack([
            answer_logp(logits_of(family, pm, seq_w, pix_m), seq_w, len(chosen)),
            answer_logp(logits_of(family, pm, seq_l, pix_m), seq_l, len(rejected)),
            answer_logp(logits_of(family, pm, seq_w, pix_neg), seq_w, len(chosen)),
        ])
    logits_lora = logits_of(family, pm, seq_w, pix_m)
    pc = answer_logp(logits_lora, seq_w, len(chosen))
    pr = answer_logp(logits_of(family, pm, seq_l, pix_m), seq_l, len(rejected))
    pi = answer_logp(logits_of(family, pm, seq_w, pix_neg), seq_w, len(chosen))
    loss = mdpo_loss(pc, pr, pi, ref[0], ref[1], ref[2])
    loss.backward()
    tensors["logits_lora"] = f32(logits_lora)
    params = [p for _, p in named]
    grad_norm = torch.nn.utils.get_total_norm([p.grad for p in params]).item()
    for n, p in named:
        tensors[f"grad.{lora_key(n)}"] = f32(p.grad)
    torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
    opt = torch.optim.AdamW(params, **ADAMW)
    opt.step()
    for n, p in named:
        tensors[f"step.{lora_key(n)}"] = f32(p)

    golden = {
        "family": family,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
        "seed": SEED,
        "question": QUESTION,
        "chosen": CHOSEN,
        "rejected": REJECTED,
        "prompt_text": prompt_text,
        "prompt_ids": prompt_ids,
        "prompt_attention_mask": prompt_mask,
        "hf_processor_ids": hf_ids,
        "chosen_ids": chosen,
        "rejected_ids": rejected,
        "logps_base": base,
        "logps_ref": {"chosen": ref[0].item(), "rejected": ref[1].item(), "imageless": ref[2].item()},
        "logps_policy": {"chosen": pc.item(), "rejected": pr.item(), "imageless": pi.item()},
        "loss": loss.item(),
        "grad_norm": grad_norm,
        "settings": {"lora": LORA, "target_modules": TARGETS[family], "beta": BETA, "delta": DELTA,
                     "adamw": {**ADAMW, "betas": list(ADAMW["betas"])}, "max_grad_norm": MAX_GRAD_NORM},
        "image_size": IMAGE_SIZE,
    }
    save_file(tensors, os.path.join(d, "golden.safetensors"), metadata={"producer": "python/golden/make_fixtures.py"})
    write_json(os.path.join(d, "golden.json"), golden)
    parity = [{"plain": tok(s, add_special_tokens=False).input_ids, "specials": tok(s, add_special_tokens=True).input_ids} for s in strings]
    write_json(os.path.join(d, "tokenizer-parity.json"), parity)
    print(f"[golden] {family}: prompt {len(prompt_ids)} tokens, loss {loss.item():.6f}, grad norm {grad_norm:.4f}", flush=True)


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, ensure_ascii=False)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "hf-golden"))
    ap.add_argument("--only", nargs="*", choices=FAMILIES, default=FAMILIES)
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    m, neg = make_images(out)
    strings = parity_strings()
    write_json(os.path.join(out, "tokenizer-strings.json"), strings)
    for family in args.only:
        generate_family(family, out, m, neg, strings)


if __name__ == "__main__":
    main()
