"""Reference numbers for src/core/train/optimizer.ts from torch.optim.AdamW itself.

Runs torch.optim.AdamW (the single-tensor implementation, foreach=False) for five steps with
per-step learning rates on a 2x2 matrix (weight decay 0.05) and a 4-vector (no decay: rank-1
tensors are not decayed, as the HF Trainer groups them), in float32 and in float64, and writes
the parameters after every step plus the final exp_avg / exp_avg_sq to a JSON file.

    python python/reference/adamw.py                      # writes test/fixtures/torch-adamw.json
    python python/reference/adamw.py --out /tmp/x.json    # the test's re-run writes elsewhere

The TypeScript test (src/core/train/optimizer.test.ts) compares our AdamW with these numbers,
and re-runs this script where Python exists to check the committed file is what it makes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

BETAS = (0.9, 0.98)
EPS = 1e-8
WEIGHT_DECAY = 0.05
P0 = [0.5, -1.0, 2.0, 0.25]
GRADS = [
    [0.1, -0.2, 0.3, 0.0],
    [0.4, 0.1, -0.5, 0.2],
    [-0.3, 0.2, 0.1, -0.1],
    [0.05, -0.05, 0.2, 0.3],
    [0.2, 0.2, -0.2, -0.2],
]
LRS = [0.01, 0.02, 0.015, 0.01, 0.005]

OUT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "torch-adamw.json"


def run(dtype: torch.dtype) -> dict:
    weight = torch.tensor(P0, dtype=dtype).reshape(2, 2).requires_grad_(True)  # [2, 2], decayed
    bias = torch.tensor(P0, dtype=dtype).requires_grad_(True)  # [4], not decayed
    opt = torch.optim.AdamW(
        [
            {"params": [weight], "weight_decay": WEIGHT_DECAY},
            {"params": [bias], "weight_decay": 0.0},
        ],
        lr=LRS[0],
        betas=BETAS,
        eps=EPS,
        foreach=False,
    )
    steps = []
    for grad, lr in zip(GRADS, LRS):
        for group in opt.param_groups:
            group["lr"] = lr
        weight.grad = torch.tensor(grad, dtype=dtype).reshape(2, 2)
        bias.grad = torch.tensor(grad, dtype=dtype)
        opt.step()
        steps.append({"weight": weight.detach().flatten().tolist(), "bias": bias.detach().tolist()})
    state = {
        name: {
            "exp_avg": opt.state[p]["exp_avg"].flatten().tolist(),
            "exp_avg_sq": opt.state[p]["exp_avg_sq"].flatten().tolist(),
        }
        for name, p in (("weight", weight), ("bias", bias))
    }
    return {"steps": steps, "state": state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    result = {
        "generator": "python/reference/adamw.py",
        "torch": torch.__version__,
        "config": {"betas": list(BETAS), "eps": EPS, "weight_decay": WEIGHT_DECAY, "foreach": False},
        "p0": P0,
        "grads": GRADS,
        "lrs": LRS,
        "float32": run(torch.float32),
        "float64": run(torch.float64),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
