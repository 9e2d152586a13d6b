"""Answers probe questions about images with a local Hugging Face model, optionally with a PEFT adapter.

The app uses it for answer jobs and ask where its own (tfjs) answerer cannot read the base family
(Qwen2-VL, Qwen2.5-VL, ...). Run as ``python -m mdpo_torch.answer``; it speaks JSON lines:

stdin, first line::

    {"base": "<folder>", "adapter": "<folder>" | null, "maxTokens": 64, "temperature": 0, "seed": 0,
     "device": "cpu" | "cuda" | "auto"}

then one line per item::

    {"id": <any>, "key": "<item key>", "image": "<png/jpeg file>", "question": "..."}

stdout: ``{"type": "ready", "family": "<model_type>"}`` once the model is loaded, then per item
``{"type": "answer", "id": ..., "text": "..."}`` or ``{"type": "error", "id": ..., "error": {"name", "message"}}``.
A failure to load ends with ``{"type": "failed", "error": {...}}`` and exit code 1. The process ends at EOF.

Greedy by default; with a temperature, sampling is seeded per item (seed and item key), so an
answer does not depend on which items came before it. The folder is untrusted: offline, no
remote code, safetensors weights only (the adapter too).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class AnswerError(Exception):
    """A request or a folder that cannot be used; the message names which."""


def _item_seed(seed: int, key: str) -> int:
    digest = hashlib.sha256(f"{seed}/answer/{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class Answerer:
    """Loads the model (and adapter) once; ``answer`` is called per item."""

    def __init__(self, base: str, adapter: str | None, max_tokens: int, temperature: float, seed: int, device: str = "cpu"):
        import torch
        from transformers import AutoConfig, AutoModelForImageTextToText, AutoProcessor

        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise AnswerError(f"maxTokens must be a positive integer, got {max_tokens!r}")
        if not isinstance(temperature, (int, float)) or not temperature >= 0:
            raise AnswerError(f"temperature must be >= 0, got {temperature!r}")
        base_dir = Path(base)
        if not (base_dir / "config.json").is_file():
            raise AnswerError(f"{base_dir} has no config.json (expected a local Hugging Face model folder; nothing is downloaded)")
        if not any(base_dir.glob("*.safetensors")):
            raise AnswerError(f"{base_dir} has no .safetensors weights (pickled weights are never loaded)")
        if adapter is not None and not (Path(adapter) / "adapter_model.safetensors").is_file():
            raise AnswerError(f"{Path(adapter) / 'adapter_model.safetensors'} is missing (a PEFT adapter in safetensors is needed)")
        self.max_tokens = max_tokens
        self.temperature = float(temperature)
        self.seed = int(seed)
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device))
        opts: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        self.family = str(AutoConfig.from_pretrained(base, **opts).model_type)
        self.processor = AutoProcessor.from_pretrained(base, **opts)
        if getattr(self.processor, "chat_template", None) is None:
            raise AnswerError(f"{base_dir} has no chat template (chat_template.jinja or the processor's chat_template)")
        model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32, use_safetensors=True, **opts)
        if adapter is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter, is_trainable=False)
        self.model = model.to(self.device).eval()
        self.eos = self.processor.tokenizer.eos_token_id

    def answer(self, image: str, question: str, key: str) -> str:
        import torch
        from PIL import Image

        if not isinstance(question, str) or not question.strip():
            raise AnswerError("question must be a non-empty string")
        try:
            with Image.open(image) as im:
                picture = im.convert("RGB")
        except OSError as e:
            raise AnswerError(f"Cannot read the image {image}: {e}") from e
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(text=text, images=[picture], return_tensors="pt").to(self.device)
        sampling = self.temperature > 0
        gen: dict[str, Any] = {"max_new_tokens": self.max_tokens, "do_sample": sampling, "eos_token_id": self.eos, "pad_token_id": self.eos}
        if sampling:
            gen.update(temperature=self.temperature, top_k=0, top_p=1.0)
            torch.manual_seed(_item_seed(self.seed, key))
        with torch.no_grad():
            out = self.model.generate(**inputs, **gen)  # [1, prompt + new]
        new = out[0, inputs["input_ids"].shape[1]:].tolist()
        if self.eos in new:
            new = new[: new.index(self.eos)]
        return self.processor.tokenizer.decode(new, skip_special_tokens=True).strip()


def _error(e: BaseException) -> dict[str, str]:
    return {"name": type(e).__name__, "message": str(e) or type(e).__name__}


def serve(stdin, stdout) -> int:
    def write(obj: dict[str, Any]) -> None:
        stdout.write(json.dumps(obj) + "\n")
        stdout.flush()

    first = stdin.readline()
    try:
        spec = json.loads(first)
        if not isinstance(spec, dict) or not isinstance(spec.get("base"), str):
            raise AnswerError('The first line must be {"base": "<folder>", ...}')
        answerer = Answerer(spec["base"], spec.get("adapter"), spec.get("maxTokens", 64), spec.get("temperature", 0), spec.get("seed", 0), spec.get("device", "cpu"))
    except Exception as e:  # noqa: BLE001 - every load failure is reported, then the process ends
        write({"type": "failed", "error": _error(e)})
        return 1
    write({"type": "ready", "family": answerer.family})
    for line in stdin:
        if not line.strip():
            continue
        item_id = None
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise AnswerError("Each request must be a JSON object")
            item_id = req.get("id")
            text = answerer.answer(req.get("image"), req.get("question"), str(req.get("key", item_id)))
            write({"type": "answer", "id": item_id, "text": text})
        except Exception as e:  # noqa: BLE001 - one bad item does not end the others
            write({"type": "error", "id": item_id, "error": _error(e)})
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.stdin, sys.stdout))
