"""Each listed family trains 3 mDPO steps on a repeated batch and its loss falls; the reference is
the base with adapters off (step 1's rewards are exactly 0); LoRA sits on the language model only;
the exported adapter loads in real PEFT and reproduces the trained model's log-probs."""
import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from jobs import make_job, make_records
from mdpo_torch.engine import run_job
from mdpo_torch.train import LoopHooks

FAMILIES = ["qwen2_vl", "qwen2_5_vl", "idefics3", "llava", "llava_onevision"]
VISION = ("vision", "visual", "connector", "multi_modal_projector", "lm_head")


def train(tmp_path: Path, model_dir: Path, **config) -> tuple[dict, list[dict]]:
    steps: list[dict] = []
    hooks = LoopHooks()
    hooks.on_step = steps.append
    # Two pairs, batch 2: every step sees the same batch (a repeated batch).
    job = make_job(tmp_path, model_dir, records=make_records(2), **config)
    return job, (run_job(job, hooks), steps)[1]


@pytest.mark.parametrize("family", FAMILIES)
def test_three_mdpo_steps_lower_the_loss(tmp_path, tiny_model, family):
    job, steps = train(tmp_path, tiny_model(family), maxSteps=3, learningRate=1e-2, warmupRatio=0, schedule="constant")
    losses = [s["metrics"]["loss"] for s in steps]
    first = steps[0]["metrics"]
    assert first["loss"] == pytest.approx(3 * 0.6931471805599453, abs=1e-6)  # reference = base: r = 0 at step 1
    assert first["rewards/chosen"] == pytest.approx(0, abs=1e-5)
    assert losses[2] < losses[1] < losses[0], losses
    assert set(first) >= {"loss", "loss/dpo", "loss/conditional", "loss/anchor", "rewards/chosen", "rewards/rejected",
                          "rewards/margins", "rewards/accuracies", "logps/chosen", "logps/rejected",
                          "rewards/imageless_chosen", "rewards/imageless_margins", "rewards/imageless_accuracies",
                          "logps/imageless_chosen", "grad_norm", "learning_rate"}
    adapter = Path(job["runDir"]) / "adapter"
    with safe_open(str(adapter / "adapter_model.safetensors"), framework="pt") as f:
        keys = list(f.keys())
    assert keys and all("lora_A" in k or "lora_B" in k for k in keys)
    assert not [k for k in keys if any(v in k for v in VISION)], "LoRA must sit on the language model only"
    assert len(keys) == 2 * 7 * 2  # 2 layers x 7 linears x (A, B)


def test_exported_adapter_loads_in_peft_and_gives_the_trained_logps(tmp_path, tiny_model):
    """PeftModel.from_pretrained(<runDir>/adapter) scores the pairs as the trained policy does: a
    3-step run's step-3 metrics are computed with the weights after 2 updates, which is what the
    2-step run exported (constant schedule, so the first two updates are the same)."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    from mdpo_torch.data import Limits, load_pairs
    from mdpo_torch.models import load_processor
    from mdpo_torch.objective import objective_config
    from mdpo_torch.train import PreferenceTask, prepare_pairs

    folder = tiny_model("qwen2_vl")
    settings = dict(learningRate=1e-2, warmupRatio=0, schedule="constant")
    job, _ = train(tmp_path / "two", folder, maxSteps=2, **settings)
    _, three = train(tmp_path / "three", folder, maxSteps=3, **settings)
    adapter = Path(job["runDir"]) / "adapter"
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 4 and cfg["lora_alpha"] == 8
    base = AutoModelForImageTextToText.from_pretrained(folder, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(adapter))
    model.eval()
    processor = load_processor(folder)
    pairs = load_pairs(job["dataset"]["recordsFile"], job["config"]["torch"]["negativesDir"], seed=0,
                       negative={}, need_negatives=True)
    objective = objective_config("mdpo")
    prepared = prepare_pairs(processor, pairs, objective, Limits(512))
    task = PreferenceTask(model, processor, prepared, objective, fixed_per_pair=True, autocast=None, device=torch.device("cpu"))
    task.begin_step(2)
    task.micro_batch([0, 1], 0)
    values = task.step_metrics()
    logged = three[2]["metrics"]
    for name in ("logps/chosen", "logps/rejected", "logps/imageless_chosen", "rewards/margins", "loss"):
        assert values[name] == pytest.approx(logged[name], abs=1e-4), name
    assert abs(values["rewards/chosen"]) > 1e-3  # the adapter really moved the model away from the reference


@pytest.mark.parametrize("variant,anchor,terms", [
    ("dpo", "chosen", 1),
    ("dpo-no-image", "chosen", 1),
    ("mdpo-no-conditional", "chosen+rejected", 3),
    ("mdpo-no-anchor", "chosen", 2),
    ("mdpo", "chosen+rejected+negative", 5),
])
def test_every_variant_and_anchor_placement_runs_through_the_engine(tmp_path, tiny_model, variant, anchor, terms):
    """Step 1 (adapters at PEFT's init, B = 0): every active -log σ piece is log 2, so the loss is
    (number of pieces) x log 2; m' is scored only when a term needs it."""
    _, steps = train(tmp_path, tiny_model("idefics3"), maxSteps=1, variant=variant, anchor=anchor)
    m = steps[0]["metrics"]
    assert m["loss"] == pytest.approx(terms * 0.6931471805599453, abs=1e-6)
    assert ("logps/imageless_chosen" in m) == (variant in ("mdpo", "mdpo-no-anchor"))
