#!/usr/bin/env python3
"""Theirs reading ours: what transformers + PEFT make of the files the app exports.

  python check_ours.py --family F --model DIR --adapter DIR --merged DIR --golden FILE --ids 1,2,3 --out FILE

--golden: the family's golden.safetensors (its `pixel_values` is the image input); --ids: the
full sequence (prompt with its image run + answer). Writes to --out (safetensors):
  logits_peft    base folder + PeftModel.from_pretrained(--adapter)        [T, V]
  logits_merged  AutoModelForImageTextToText.from_pretrained(--merged)     [T, V]
and prints one JSON line: the warnings (Python warnings and transformers/PEFT log records at
WARNING or above) raised while loading our adapter and our merged folder that loading PEFT's
own adapter (the golden's adapter-init, the control) does not raise too.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import peft  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mdpo_torch import logits_of  # noqa: E402

torch.set_num_threads(1)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.name}: {record.getMessage()}")


def load_quietly(fn, sink: list[str], what: str):
    """Runs fn, collecting every warning it raises (Python warnings + library log records)."""
    handler = Collect()
    loggers = [logging.getLogger(n) for n in ("transformers", "peft", "accelerate")]
    for lg in loggers:
        lg.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()
    finally:
        for lg in loggers:
            lg.removeHandler(handler)
    # The missing torchvision only selects transformers' PIL image backend; it is about this
    # environment, not about the files being checked (and no processor is loaded here anyway).
    msgs = [f"{what}: {w.category.__name__}: {w.message}" for w in caught]
    msgs += [f"{what}: {r}" for r in handler.records if "torchvision" not in r]
    sink.extend(msgs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    for k in ("family", "model", "adapter", "merged", "golden", "ids", "out"):
        ap.add_argument(f"--{k}", required=True)
    a = ap.parse_args()
    ids = [int(x) for x in a.ids.split(",")]
    pixels = {"pixel_values": load_file(a.golden)["pixel_values"]}
    found: list[str] = []

    # Control: PEFT's own adapter for the same model (the golden's adapter-init). Warnings it
    # raises too come from the libraries themselves (deprecations between transformers and
    # PEFT), not from the files under test; only the rest count against ours.
    control: list[str] = []
    ctl = transformers.AutoModelForImageTextToText.from_pretrained(a.model, dtype=torch.float32)
    load_quietly(lambda: peft.PeftModel.from_pretrained(ctl, os.path.join(os.path.dirname(a.golden), "adapter-init")), control, "PeftModel.from_pretrained")
    del ctl
    base = transformers.AutoModelForImageTextToText.from_pretrained(a.model, dtype=torch.float32)
    pm = load_quietly(lambda: peft.PeftModel.from_pretrained(base, a.adapter), found, "PeftModel.from_pretrained")
    pm.eval()
    merged = load_quietly(lambda: transformers.AutoModelForImageTextToText.from_pretrained(a.merged, dtype=torch.float32), found, "from_pretrained(merged)")
    merged.eval()
    with torch.no_grad():
        out = {
            "logits_peft": logits_of(a.family, pm, ids, pixels).float().contiguous(),
            "logits_merged": logits_of(a.family, merged, ids, pixels).float().contiguous(),
        }
    save_file(out, a.out)
    ours = [w for w in found if w not in control]
    print(json.dumps({"warnings": ours, "control": control, "peft": peft.__version__, "transformers": transformers.__version__}))


if __name__ == "__main__":
    main()
