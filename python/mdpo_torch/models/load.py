"""Loading a VLM from a local folder: AutoModelForImageTextToText + AutoProcessor, offline,
never running code from the folder (trust_remote_code=False) and never unpickling weights
(safetensors only)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

from ..errors import ModelLoadError  # noqa: E402
from ..data.template import chat_template_of  # noqa: E402


def check_folder(folder: str | Path) -> Path:
    path = Path(folder)
    if not path.is_dir():
        raise ModelLoadError(f"The base model folder {path} does not exist (or is not a folder).")
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{path} is not a Hugging Face model folder: it has no config.json.")
    if not any(path.glob("*.safetensors")):
        pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pt")]
        extra = f" It has {', '.join(pickled)}: pickle files, which this app never loads (convert them to safetensors)." if pickled else ""
        raise ModelLoadError(f"{path} has no *.safetensors weights.{extra}")
    return path


def load_config(folder: Path):
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(folder, trust_remote_code=False, local_files_only=True)
    except Exception as e:  # transformers raises ValueError/OSError/KeyError for unknown or broken configs
        raise ModelLoadError(f"transformers cannot load the model config in {folder}: {type(e).__name__}: {e}") from e


def load_processor(folder: Path):
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(folder, trust_remote_code=False, local_files_only=True)
    except Exception as e:
        hint = (" This family's processor needs torchvision: run `npm run setup:python` (or pip install the pins in "
                "python/requirements.txt).") if "orchvision" in str(e) else ""
        raise ModelLoadError(f"transformers cannot load the processor in {folder}: {type(e).__name__}: {str(e).strip()}{hint}") from e
    if not hasattr(processor, "tokenizer") or not hasattr(processor, "image_processor"):
        raise ModelLoadError(f"{folder} has no image-text processor (AutoProcessor gave {type(processor).__name__}); "
                             "the torch engine trains vision-language models only.")
    chat_template_of(processor)
    return processor


def text_config_of(config):
    return getattr(config, "text_config", None) or config


def load_model(folder: Path, weight_dtype: torch.dtype):
    from transformers import AutoModelForImageTextToText

    try:
        model = AutoModelForImageTextToText.from_pretrained(
            folder, dtype=weight_dtype, trust_remote_code=False, use_safetensors=True, local_files_only=True)
    except Exception as e:
        raise ModelLoadError(f"transformers cannot load {folder} as an image-text-to-text model: {type(e).__name__}: {e}") from e
    return model
