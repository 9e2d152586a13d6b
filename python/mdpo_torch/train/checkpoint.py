"""Training checkpoints (PROTOCOL.md section 6): one folder per checkpoint.

    <dir>/checkpoint-000120/
      adapter_model.safetensors, adapter_config.json   PEFT's layout (PeftModel.from_pretrained loads it)
      optimizer.safetensors   "<param>.exp_avg", "<param>.exp_avg_sq"; metadata step
      rng.safetensors         torch's CPU generator state (and CUDA's when used), uint8
      state.json              step, epoch, position, config, ref cache, fingerprints, metrics
    <dir>/latest.json         {"checkpoint": "checkpoint-000120", "step": 120}

Written into a temporary sibling folder, every file fsync'ed, then renamed into place; latest.json
is replaced by rename. A crash at any moment leaves the previous checkpoint intact. Nothing is
pickled: safetensors and JSON only.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError

STATE_FORMAT = "mdpo-studio/train-state"
STATE_VERSION = 1
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"


def folder_name(step: int) -> str:
    return f"checkpoint-{step:06d}"


def _fsync_tree(folder: Path) -> None:
    for f in folder.iterdir():
        if f.is_file():
            with open(f, "rb") as h:
                os.fsync(h.fileno())


def write_json_atomic(path: Path, value) -> None:
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}-{time.time_ns()}")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_adapter(folder: Path, model) -> None:
    """PEFT's own save_pretrained (adapter_model.safetensors + adapter_config.json)."""
    model.save_pretrained(str(folder), safe_serialization=True)
    readme = folder / "README.md"
    if readme.exists():
        readme.unlink()


def export_adapter(target: Path, model) -> Path:
    """The final adapter (<runDir>/adapter), written whole or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}-{time.time_ns()}")
    tmp.mkdir()
    save_adapter(tmp, model)
    _fsync_tree(tmp)
    _replace_dir(tmp, target)
    return target


def _replace_dir(tmp: Path, final: Path) -> None:
    stale = final.with_name(f"{final.name}.old-{os.getpid()}-{time.time_ns()}")
    existed = final.exists()
    if existed:
        os.rename(final, stale)
    os.rename(tmp, final)
    if existed:
        shutil.rmtree(stale, ignore_errors=True)


def save_checkpoint(directory: Path, *, model, optimizer, params: list[tuple[str, torch.nn.Parameter]],
                    state: dict, keep_last: int = 3) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    name = folder_name(state["step"])
    final = directory / name
    tmp = directory / f"{name}.tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()
    try:
        save_adapter(tmp, model)
        moments: dict[str, torch.Tensor] = {}
        opt_step = 0
        for n, p in params:
            s = optimizer.state.get(p)
            if s:
                moments[f"{n}.exp_avg"] = s["exp_avg"].detach().float().cpu().contiguous()
                moments[f"{n}.exp_avg_sq"] = s["exp_avg_sq"].detach().float().cpu().contiguous()
                opt_step = int(s["step"])
        save_file(moments, str(tmp / "optimizer.safetensors"), metadata={"step": str(opt_step)})
        rng = {"cpu": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            for i, s in enumerate(torch.cuda.get_rng_state_all()):
                rng[f"cuda{i}"] = s
        save_file(rng, str(tmp / "rng.safetensors"))
        with open(tmp / "state.json", "w", encoding="utf-8") as f:
            json.dump({**state, "optimizerStep": opt_step}, f, indent=1)
        _fsync_tree(tmp)
        _replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_json_atomic(directory / "latest.json", {"checkpoint": name, "step": state["step"]})
    if keep_last > 0:
        _prune(directory, keep_last, name)
    return final


def _prune(directory: Path, keep_last: int, latest: str) -> None:
    entries = sorted(e.name for e in directory.iterdir() if e.is_dir() and e.name.startswith("checkpoint-") and e.name[11:].isdigit())
    old = [e for e in entries if e != latest][: max(0, len(entries) - keep_last)]
    for e in old:
        shutil.rmtree(directory / e, ignore_errors=True)


def resolve_checkpoint(path: str | Path) -> Path:
    folder = Path(path)
    if (folder / "state.json").is_file():
        return folder
    try:
        latest = json.loads((folder / "latest.json").read_text())
        return folder / latest["checkpoint"]
    except (OSError, ValueError, KeyError):
        raise CheckpointError(f"No checkpoint in {folder}: neither state.json nor latest.json is there") from None


@dataclass
class LoadedCheckpoint:
    folder: Path
    state: dict
    adapter: dict[str, torch.Tensor]
    moments: dict[str, torch.Tensor]
    optimizer_step: int
    rng: dict[str, torch.Tensor]


def load_checkpoint(path: str | Path) -> LoadedCheckpoint:
    folder = resolve_checkpoint(path)
    try:
        state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{folder}/state.json cannot be read: {e}") from None
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{folder}/state.json is not a training state (format {state.get('format')!r})")
    if state.get("version", 0) > STATE_VERSION:
        raise CheckpointError(f"{folder} was written by a newer version (state version {state['version']} > {STATE_VERSION})")
    if state.get("engine") != "torch":
        raise CheckpointError(f"{folder} was written by the {state.get('engine', 'tfjs')} engine; the torch engine resumes only its own checkpoints")
    try:
        adapter = load_file(str(folder / ADAPTER_WEIGHTS))
        opt_file = folder / "optimizer.safetensors"
        moments = load_file(str(opt_file))
        from safetensors import safe_open

        with safe_open(str(opt_file), framework="pt") as f:
            opt_step = int((f.metadata() or {}).get("step", state.get("optimizerStep", 0)))
        rng = load_file(str(folder / "rng.safetensors"))
    except (OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{folder} is incomplete or damaged: {e}") from None
    return LoadedCheckpoint(folder, state, adapter, moments, opt_step, rng)
