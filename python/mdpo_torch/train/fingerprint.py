"""Input fingerprints, the record src/core/train/fingerprint.ts defines for ANY engine
(schema "mdpo-studio/inputs@1", state.json field `inputs`), written with every checkpoint and
compared on resume: a checkpoint's reference log-probs and progress belong to its inputs.

Every hash is SHA-256 over FRAMES: uint32 little-endian byte length, then the bytes. For the torch
engine:
- base: each tensor of the folder's *.safetensors in sorted key order: frame(name),
  frame(shape "a,b"), frame(values as float32). The frozen weights the reference computes with.
- tokenizer: frame(file name) + frame(bytes) of TOKENIZER_FILES present (chat template included).
- dataset: per usable pair in order: frame(id), frame(prompt ids int32, the processor's layout
  with image placeholders), frame(chosen ids), frame(rejected ids) (answer + end token, after
  truncation), frame(m as float32 [H, W, 3] in [0, 1]).
- negative: frame("fixed" | "per-epoch"), frame(JSON of spec), then m' (epoch 0) of the first
  NEGATIVE_PROBES pairs as float32 [H, W, 3] in [0, 1].
- engine: {"name": "torch", "version": torch.__version__, "backend": "cpu" | "cuda" | "mps"}.
"""
from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import torch

INPUTS_SCHEMA = "mdpo-studio/inputs@1"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   "chat_template.json")
NEGATIVE_PROBES = 8


class FrameHash:
    def __init__(self) -> None:
        self.h = hashlib.sha256()

    def bytes(self, b: bytes) -> "FrameHash":
        self.h.update(struct.pack("<I", len(b)))
        self.h.update(b)
        return self

    def text(self, s: str) -> "FrameHash":
        return self.bytes(s.encode("utf-8"))

    def float32(self, a) -> "FrameHash":
        return self.bytes(np.ascontiguousarray(a, dtype="<f4").tobytes())

    def int32(self, ids) -> "FrameHash":
        return self.bytes(np.asarray(list(ids), dtype="<i4").tobytes())

    def hex(self) -> str:
        return self.h.hexdigest()


def base_fingerprint(folder: Path) -> str | None:
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        return None
    where: dict[str, Path] = {}
    for f in files:
        with safe_open(str(f), framework="pt") as st:
            for k in st.keys():
                where[k] = f
    h = FrameHash()
    handles = {f: safe_open(str(f), framework="pt") for f in files}
    for name in sorted(where):
        t = handles[where[name]].get_tensor(name)
        h.text(name).text(",".join(str(d) for d in t.shape)).float32(t.to(torch.float32).numpy())
    return h.hex()


def tokenizer_fingerprint(folder: Path) -> str | None:
    h, found = FrameHash(), 0
    for name in TOKENIZER_FILES:
        p = folder / name
        if p.is_file():
            h.text(name).bytes(p.read_bytes())
            found += 1
    return h.hex() if found else None


def image_array(image) -> np.ndarray:
    """A PIL RGB image as float32 [H, W, 3] in [0, 1]."""
    return np.asarray(image, dtype=np.float32) / 255.0


def negative_spec(negative: dict) -> dict:
    kind = negative.get("strategy", "crop")
    if kind == "crop":
        return {"kind": "crop", "minArea": negative.get("cropMin", 0.01), "maxArea": negative.get("cropMax", 0.2)}
    return {"kind": kind}


def js_json(value) -> str:
    """JSON.stringify's spelling for the plain objects hashed here."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def reference_scope(inputs: dict) -> str:
    """The scope of cached reference log-probs: everything they depend on (referenceScope in TS)."""
    return (FrameHash().text(INPUTS_SCHEMA).text(inputs.get("base") or "").text(inputs.get("tokenizer") or "")
            .text(inputs["dataset"]["sha256"]).text(inputs["negative"]["sha256"]).hex())


def _short(h: str | None) -> str:
    return "none" if h is None else h[:12]


def _spec_text(s: dict | None) -> str:
    return "undeclared" if s is None else " ".join(str(v) if k == "kind" else f"{k}={v}" for k, v in s.items())


def compare_inputs(saved, now: dict) -> tuple[list[str], list[str]]:
    """(changes that refuse the resume, notes that allow it), as compareInputs in TypeScript."""
    changed: list[str] = []
    notes: list[str] = []
    s = saved if isinstance(saved, dict) else None
    if not s or s.get("schema") != INPUTS_SCHEMA:
        changed.append("the checkpoint records no input fingerprints, so it cannot be checked against the base model and dataset")
        return changed, notes
    se, ne = s.get("engine") or {}, now["engine"]
    if se.get("name") != ne["name"]:
        changed.append(f"the engine: the checkpoint was written by {se.get('name', 'an unknown engine')}, this run uses {ne['name']}")
    else:
        if se.get("backend") != ne["backend"]:
            notes.append(f"resumed on the {ne['backend']} backend; the checkpoint was written on {se.get('backend')} "
                         "(results agree to float32 rounding, not bit for bit)")
        if se.get("version") != ne["version"]:
            notes.append(f"{ne['name']} {ne['version']} continues a checkpoint written by {se.get('name')} {se.get('version')}")
    if s.get("base") != now["base"]:
        changed.append(f"the base model's weights (fingerprint {_short(s.get('base'))} -> {_short(now['base'])})")
    if s.get("tokenizer") != now["tokenizer"]:
        changed.append(f"the tokenizer (fingerprint {_short(s.get('tokenizer'))} -> {_short(now['tokenizer'])})")
    sd, nd = s.get("dataset") or {}, now["dataset"]
    if sd.get("size") != nd["size"]:
        changed.append(f"the dataset: {sd.get('size', '?')} pairs -> {nd['size']} pairs")
    elif sd.get("sha256") != nd["sha256"]:
        changed.append(f"the dataset's records (same {nd['size']} pairs, different contents; fingerprint "
                       f"{_short(sd.get('sha256'))} -> {_short(nd['sha256'])})")
    sn, nn = s.get("negative"), now["negative"]
    if not sn or sn.get("sha256") != nn["sha256"] or sn.get("fixedPerPair") != nn["fixedPerPair"]:
        was = f"{_spec_text(sn.get('spec'))}, {'fixed per pair' if sn.get('fixedPerPair') else 'per epoch'}" if sn else "unknown"
        is_ = f"{_spec_text(nn['spec'])}, {'fixed per pair' if nn['fixedPerPair'] else 'per epoch'}"
        changed.append(f"the m' strategy or its parameters ({was} -> {is_}; the m' images differ)")
    return changed, notes
