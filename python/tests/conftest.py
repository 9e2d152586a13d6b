"""Shared fixtures: the package on sys.path, tiny checkpoints built once per session."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
TESTS_DIR = Path(__file__).resolve().parent
for p in (str(PYTHON_DIR), str(TESTS_DIR)):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402

torch.set_num_threads(2)

from builders import BUILDERS  # noqa: E402


NEEDS_TORCHVISION = {"qwen2_vl", "qwen2_5_vl", "llava_onevision"}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """tiny_model(family) -> folder, built once per family per session."""
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family in NEEDS_TORCHVISION and importlib.util.find_spec("torchvision") is None:
            pytest.fail(f"{family}'s processor needs torchvision (transformers' video processor), which this Python "
                        "environment lacks: add torchvision to python/requirements.txt and rerun npm run setup:python")
        if family not in built:
            built[family] = BUILDERS[family](tmp_path_factory.mktemp(family) / "model")
        return built[family]

    return get


def subprocess_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PYTHON_DIR), *(x for x in [env.get("PYTHONPATH")] if x)])
    env["PYTHONUNBUFFERED"] = "1"
    env["OMP_NUM_THREADS"] = "2"
    return env
