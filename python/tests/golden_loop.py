"""The torch engine's loop on a golden pair (test/fixtures/hf-golden), from the goldens' initial
PEFT adapter: used by test_golden.py, and by test/torch-engine-parity.test.ts through
`python tests/golden_loop.py <family> <steps> <out_dir>` (writes adapter_model.safetensors in
PEFT's layout and steps.json with every step's metrics)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "hf-golden"


def run_golden_loop(family: str, steps: int):
    """(model, trainable params, per-step info) after `steps` optimizer steps on the one golden pair."""
    from peft import PeftModel

    from mdpo_torch.data.records import Pair
    from mdpo_torch.models import load_model, load_processor
    from mdpo_torch.objective import objective_config
    from mdpo_torch.train import LoopConfig, LoopHooks, PreferenceTask, PreparedPair, train_preference

    g = json.loads((ROOT / family / "golden.json").read_text())
    s = g["settings"]
    folder = ROOT / family / "model"
    processor = load_processor(folder)
    model = PeftModel.from_pretrained(load_model(folder, torch.float32), str(ROOT / family / "adapter-init"), is_trainable=True)
    model.train()
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    pair = Pair(0, "golden", g["question"], g["chosen"], g["rejected"], ROOT / "inputs" / "image.png",
                (ROOT / "inputs" / "image-neg.png",))
    prepared = [PreparedPair(pair, g["prompt_text"], tuple(g["chosen_ids"]), tuple(g["rejected_ids"]), tuple(g["prompt_ids"]))]
    objective = objective_config("mdpo", beta=s["beta"], delta=s["delta"])
    cfg = LoopConfig(objective=objective, learning_rate=s["adamw"]["lr"], schedule="constant", warmup_ratio=0.0, epochs=steps,
                     batch_size=1, grad_accum=1, max_grad_norm=s["max_grad_norm"], weight_decay=s["adamw"]["weight_decay"],
                     adam_beta2=s["adamw"]["betas"][1], adam_eps=s["adamw"]["eps"], max_steps=steps, shuffle=False)
    task = PreferenceTask(model, processor, prepared, objective, fixed_per_pair=True, autocast=None, device=torch.device("cpu"))
    infos: list[dict] = []
    train_preference(model, task, params, cfg, LoopHooks(on_step=infos.append))
    return g, model, params, infos


def main() -> None:
    family, steps, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    torch.set_num_threads(1)
    _, model, _, infos = run_golden_loop(family, steps)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    (out / "steps.json").write_text(json.dumps([i["metrics"] for i in infos]))


if __name__ == "__main__":
    main()
