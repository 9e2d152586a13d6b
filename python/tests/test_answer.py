"""python -m mdpo_torch.answer on a tiny Qwen2-VL folder with a PEFT adapter: the JSON-lines
protocol, answers equal to transformers' own greedy generate, seeded sampling, clear errors."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import subprocess_env
from PIL import Image

QUESTION = "What is in the picture?"


@pytest.fixture(scope="module")
def folders(tiny_model, tmp_path_factory):
    """The base, a PEFT adapter with non-zero LoRA B (it changes the output), and two images."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    base = tiny_model("qwen2_vl")
    root = tmp_path_factory.mktemp("answer")
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(5)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    peft.save_pretrained(root / "adapter", safe_serialization=True)
    images = []
    for i in range(2):
        rng = np.random.default_rng(i)
        path = root / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (56, 56, 3), dtype=np.uint8)).save(path)
        images.append(str(path))
    return base, root / "adapter", images


def reference(base: Path, adapter: Path | None, image: str, n: int) -> str:
    """transformers' own greedy generate, written out here, stopping at the tokenizer's eos."""
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText, AutoProcessor

    proc = AutoProcessor.from_pretrained(base)
    model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
    if adapter is not None:
        model = PeftModel.from_pretrained(model, adapter)
    model.eval()
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": QUESTION}]}]
    inputs = proc(text=proc.apply_chat_template(msgs, add_generation_prompt=True), images=[Image.open(image).convert("RGB")], return_tensors="pt")
    eos = proc.tokenizer.eos_token_id
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=n, eos_token_id=eos, pad_token_id=eos)
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    if eos in new:
        new = new[: new.index(eos)]
    return proc.tokenizer.decode(new, skip_special_tokens=True).strip()


def run(lines: list[dict | str]) -> tuple[int, list[dict]]:
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    p = subprocess.run([sys.executable, "-m", "mdpo_torch.answer"], input=text, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    return p.returncode, [json.loads(x) for x in p.stdout.splitlines() if x.strip()]


def test_greedy_answers_equal_transformers_generate(folders):
    base, adapter, images = folders
    spec = {"base": str(base), "adapter": str(adapter), "maxTokens": 8}
    items = [{"id": i, "key": f"k{i}", "image": im, "question": QUESTION} for i, im in enumerate(images)]
    code, out = run([spec, *items, {"id": 9, "key": "bad", "image": str(base / "nope.png"), "question": QUESTION}])
    assert code == 0
    assert out[0] == {"type": "ready", "family": "qwen2_vl"}
    expected = [reference(base, adapter, im, 8) for im in images]
    assert [o["text"] for o in out[1:3]] == expected
    assert [o["id"] for o in out[1:3]] == [0, 1]
    assert all(len(t) > 0 for t in expected)
    # The adapter changes what the model says (so the comparison above is the adapter's).
    assert expected != [reference(base, None, im, 8) for im in images]
    # A bad item is an error line naming the file; the process goes on and ends at EOF.
    assert out[3]["type"] == "error" and out[3]["id"] == 9
    assert out[3]["error"]["name"] == "AnswerError" and "nope.png" in out[3]["error"]["message"]


def test_sampling_is_seeded_per_item(folders):
    base, adapter, images = folders
    spec = {"base": str(base), "adapter": str(adapter), "maxTokens": 8, "temperature": 1.5, "seed": 7}
    a = {"id": 0, "key": "a", "image": images[0], "question": QUESTION}
    b = {"id": 1, "key": "b", "image": images[1], "question": QUESTION}
    _, first = run([spec, a, b])
    _, second = run([spec, b, a])  # other order: the same answer per item
    assert {o["id"]: o["text"] for o in first[1:]} == {o["id"]: o["text"] for o in second[1:]}
    _, reseeded = run([{**spec, "seed": 8}, a, b])
    assert [o["text"] for o in reseeded[1:]] != [o["text"] for o in first[1:]]


def test_load_failures_are_reported(folders, tmp_path):
    base, adapter, _ = folders
    code, out = run([{"base": str(tmp_path)}])
    assert code == 1 and out == [{"type": "failed", "error": {"name": "AnswerError", "message": f"{tmp_path} has no config.json (expected a local Hugging Face model folder; nothing is downloaded)"}}]
    (tmp_path / "adapter_config.json").write_text("{}")
    code, out = run([{"base": str(base), "adapter": str(tmp_path)}])
    assert code == 1 and "adapter_model.safetensors is missing" in out[0]["error"]["message"]
    code, out = run(["not json"])
    assert code == 1 and out[0]["type"] == "failed" and out[0]["error"]["name"] == "JSONDecodeError"
    code, out = run([{"base": str(base), "maxTokens": 0}])
    assert code == 1 and out[0]["error"]["message"] == "maxTokens must be a positive integer, got 0"
