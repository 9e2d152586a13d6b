"""Against the HF goldens of python/golden (made by transformers + PEFT themselves, by another
script): on the same checkpoint folders, pair and images, this engine's chat-template layout,
answer tokens (+ end token), summed log-probs of the base (the reference) and of the policy with
the goldens' PEFT adapter, and the mDPO loss, agree to 1e-4.

onevision is left out: its golden folder holds the processor's parts (the goldens expand the
image placeholder for the base crop by hand), while this engine runs transformers' own
LlavaOnevisionProcessor, whose anyres layout has more image tokens. smolvlm2 needs num2words."""
import json
from pathlib import Path

import pytest
import torch

from mdpo_torch.data import Row, answer_ids, build_batch, load_image, prompt_text
from mdpo_torch.models import load_model, load_processor
from mdpo_torch.objective import objective_config, preference_values
from mdpo_torch.train import sequence_logps

ROOT = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "hf-golden"
KINDS = ("chosen", "rejected", "imageless")


@pytest.mark.parametrize("family", ["llava-qwen2", "llava-llama", "smolvlm"])
def test_layout_logps_and_loss_match_the_goldens(family):
    from peft import PeftModel

    g = json.loads((ROOT / family / "golden.json").read_text())
    folder = ROOT / family / "model"
    processor = load_processor(folder)
    text = prompt_text(processor, g["question"], True)
    assert text == g["prompt_text"]
    chosen = answer_ids(processor, g["question"], g["chosen"], True, where="golden")
    rejected = answer_ids(processor, g["question"], g["rejected"], True, where="golden")
    assert (chosen, rejected) == (g["chosen_ids"], g["rejected_ids"])
    m = load_image(ROOT / "inputs" / "image.png", what="m")
    m_neg = load_image(ROOT / "inputs" / "image-neg.png", what="m'")
    batch = build_batch(processor, [Row(text, m, tuple(chosen)), Row(text, m, tuple(rejected)), Row(text, m_neg, tuple(chosen))],
                        processor.tokenizer.pad_token_id or 0)
    assert batch.inputs["input_ids"][0, : len(g["prompt_ids"])].tolist() == g["prompt_ids"]
    model = PeftModel.from_pretrained(load_model(folder, torch.float32), str(ROOT / family / "adapter-init")).eval()
    with torch.no_grad():
        policy = sequence_logps(model, batch, None).tolist()
        with model.disable_adapter():
            ref = sequence_logps(model, batch, None).tolist()
    assert ref == pytest.approx([g["logps_ref"][k] for k in KINDS], abs=1e-4)
    assert policy == pytest.approx([g["logps_policy"][k] for k in KINDS], abs=1e-4)
    values = preference_values({"policy_chosen": [policy[0]], "policy_rejected": [policy[1]], "ref_chosen": [ref[0]],
                                "ref_rejected": [ref[1]], "policy_imageless": [policy[2]], "ref_imageless": [ref[2]]},
                               objective_config("mdpo", beta=g["settings"]["beta"], delta=g["settings"]["delta"]))
    assert values["loss"] == pytest.approx(g["loss"], abs=1e-4)


@pytest.mark.parametrize("family", ["llava-qwen2", "llava-llama", "smolvlm"])
def test_one_step_of_the_loop_matches_the_goldens_adamw_step(family):
    """This engine's loop (reference cache, loss, clipping, AdamW with the app's settings) from the
    goldens' initial adapter: grad_norm, loss and the adapter after one step equal torch's own."""
    from safetensors import safe_open

    from golden_loop import run_golden_loop

    g, _model, params, steps = run_golden_loop(family, 1)
    m = steps[0]["metrics"]
    assert m["loss"] == pytest.approx(g["loss"], abs=1e-4)
    assert m["grad_norm"] == pytest.approx(g["grad_norm"], rel=1e-4)
    with safe_open(str(ROOT / family / "golden.safetensors"), framework="pt") as f:
        worst = 0.0
        for n, p in params:
            key = "step." + n.removeprefix("base_model.model.").replace(".default", "")
            worst = max(worst, float((p.detach() - f.get_tensor(key)).abs().max()))
    assert worst < 1e-5, worst
