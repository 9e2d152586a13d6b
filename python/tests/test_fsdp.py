"""FSDP2 and the DeepSpeed refusal (mdpo_torch/fsdp.py): accelerate's environment read as its launcher writes it,
which modules become FSDP units, and 2 gloo processes under FSDP with an uneven split of the step (3 pairs: rank 1
runs one zero-weight micro-batch) giving the adapters and losses of one process. test/torch-fsdp.test.ts runs the
real `accelerate launch` with an FSDP config file."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import TESTS_DIR, subprocess_env
from mdpo_torch.errors import JobError
from mdpo_torch.fsdp import FsdpSettings, launch_mode, wrap_units

FSDP2 = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "2"}


def test_deepspeed_is_refused_naming_the_fsdp_equivalents():
    with pytest.raises(JobError) as e:
        launch_mode({"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "3"}, world=2)
    text = str(e.value)
    assert "ACCELERATE_USE_DEEPSPEED=true, ZeRO stage 3" in text
    assert "FULL_SHARD ~ ZeRO-3" in text and "SHARD_GRAD_OP ~ ZeRO-2" in text and "MULTI_GPU" in text
    with pytest.raises(JobError):
        launch_mode({"ACCELERATE_USE_DEEPSPEED": "1"}, world=1)  # one process too: nothing would honour it


def test_no_accelerate_config_and_plain_ddp_leave_the_model_whole():
    assert launch_mode({}, world=2).fsdp is None
    assert launch_mode({"ACCELERATE_USE_FSDP": "false", "ACCELERATE_USE_DEEPSPEED": "false"}, world=2).fsdp is None


def test_fsdp2_settings_as_accelerate_writes_them():
    mode = launch_mode({**FSDP2, "FSDP_RESHARD_AFTER_FORWARD": "true", "FSDP_AUTO_WRAP_POLICY": "TRANSFORMER_BASED_WRAP",
                        "FSDP_CPU_RAM_EFFICIENT_LOADING": "true"}, world=2)
    assert mode.fsdp == FsdpSettings(True, "TRANSFORMER_BASED_WRAP")
    assert any("cpu ram efficient loading" in n for n in mode.notes)
    assert launch_mode({**FSDP2, "FSDP_RESHARD_AFTER_FORWARD": "false"}, world=2).fsdp.reshard_after_forward is False
    size = launch_mode({**FSDP2, "FSDP_AUTO_WRAP_POLICY": "SIZE_BASED_WRAP", "FSDP_MIN_NUM_PARAMS": "500"}, world=2).fsdp
    assert (size.wrap, size.min_params) == ("SIZE_BASED_WRAP", 500)
    named = launch_mode({**FSDP2, "FSDP_TRANSFORMER_CLS_TO_WRAP": "LlamaDecoderLayer, CLIPEncoderLayer"}, world=2).fsdp
    assert named.classes == ("LlamaDecoderLayer", "CLIPEncoderLayer")
    one = launch_mode(FSDP2, world=1)
    assert one.fsdp is None and "nothing to shard" in one.notes[-1]


def test_fsdp1_strategies_map_onto_fsdp2():
    v1 = {"ACCELERATE_USE_FSDP": "true", "FSDP_VERSION": "1"}
    assert launch_mode({**v1, "FSDP_SHARDING_STRATEGY": "FULL_SHARD"}, world=2).fsdp.reshard_after_forward is True
    assert launch_mode({**v1, "FSDP_SHARDING_STRATEGY": "2"}, world=2).fsdp.reshard_after_forward is False  # SHARD_GRAD_OP
    no_shard = launch_mode({**v1, "FSDP_SHARDING_STRATEGY": "NO_SHARD"}, world=2)
    assert no_shard.fsdp is None and "plain data parallel" in no_shard.notes[0]
    with pytest.raises(JobError, match="HYBRID_SHARD is not supported"):
        launch_mode({**v1, "FSDP_SHARDING_STRATEGY": "HYBRID_SHARD"}, world=2)


@pytest.mark.parametrize("env, field", [
    ({"FSDP_OFFLOAD_PARAMS": "true"}, "fsdp_offload_params"),
    ({"FSDP_RESHARD_AFTER_FORWARD": "maybe"}, "FSDP_RESHARD_AFTER_FORWARD='maybe'"),
    ({"FSDP_AUTO_WRAP_POLICY": "LAYER_WRAP"}, "fsdp_auto_wrap_policy"),
    ({"FSDP_AUTO_WRAP_POLICY": "SIZE_BASED_WRAP", "FSDP_MIN_NUM_PARAMS": "1e6"}, "fsdp_min_num_params"),
    ({"FSDP_VERSION": "3"}, "fsdp_version"),
])
def test_settings_the_engine_cannot_honour_are_refused_by_name(env, field):
    with pytest.raises(JobError) as e:
        launch_mode({**FSDP2, **env}, world=2)
    assert field in str(e.value)


def test_units_are_the_decoder_and_vision_layers(tiny_model):
    from mdpo_torch.models import load_model

    model = load_model(tiny_model("llava"), torch.float32)
    units = wrap_units(model, FsdpSettings(True, "TRANSFORMER_BASED_WRAP"))
    names = sorted({type(u).__name__ for u in units})
    assert names == ["CLIPEncoderLayer", "LlamaDecoderLayer"]
    assert len(units) == model.config.text_config.num_hidden_layers + model.config.vision_config.num_hidden_layers
    named = wrap_units(model, FsdpSettings(True, "TRANSFORMER_BASED_WRAP", ("LlamaDecoderLayer",)))
    assert len(named) == model.config.text_config.num_hidden_layers
    assert wrap_units(model, FsdpSettings(True, "NO_WRAP")) == []
    by_size = wrap_units(model, FsdpSettings(True, "SIZE_BASED_WRAP", min_params=10**9))
    assert by_size == []  # nothing reaches it: the root alone
    with pytest.raises(JobError, match="no such module.*LlamaDecoderLayer"):
        wrap_units(model, FsdpSettings(True, "TRANSFORMER_BASED_WRAP", ("GPT2Block",)))


def _run(tmp: Path, model: Path, nproc: int, env: dict, batch: int = 1, accum: int = 3) -> list[dict]:
    runner = [str(TESTS_DIR / "fsdp_runner.py"), str(tmp), str(model), str(batch), str(accum)]
    cmd = [sys.executable, *runner] if nproc == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc),
        "--master_port", str(random.randint(30000, 39000)), *runner]
    p = subprocess.run(cmd, env={**subprocess_env(), "OMP_NUM_THREADS": "1", **env}, capture_output=True, text=True,
                       timeout=600)
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    assert lines and lines[-1]["type"] in ("done", "failed"), p.stderr[-3000:]
    return lines


@pytest.fixture(scope="module")
def one_process(tiny_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("one")
    return out, _run(out, tiny_model("llava"), 1, {})


@pytest.mark.parametrize("reshard, kind", [("true", "FULL_SHARD"), ("false", "SHARD_GRAD_OP")])
def test_two_fsdp_processes_with_an_uneven_split_equal_one_process(tiny_model, tmp_path, one_process, reshard, kind):
    one_dir, one = one_process
    two = _run(tmp_path / "two", tiny_model("llava"), 2, {**FSDP2, "FSDP_RESHARD_AFTER_FORWARD": reshard})
    assert two[-1] == {"type": "done", "step": 4}, two[-1]
    sharded = next(m["message"] for m in two if m["type"] == "log" and m["message"].startswith(f"FSDP2 {kind}"))
    ranks, full = json.loads(sharded.split("per rank ")[1].split(" of ")[0]), int(sharded.split(" of ")[1].split()[0])
    assert len(ranks) == 2 and all(r < full for r in ranks)
    steps = lambda lines: [m["values"] for m in lines if m["type"] == "metrics"]  # noqa: E731
    assert len(steps(two)) == 4
    for a, b in zip(steps(one), steps(two)):
        assert abs(a["loss"] - b["loss"]) < 1e-5 and abs(a["grad_norm"] - b["grad_norm"]) < 1e-5
    a = load_file(str(one_dir / "run" / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(tmp_path / "two" / "run" / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5
    assert any(float(a[k].abs().max()) > 0 for k in a if "lora_B" in k)  # it trained
    assert sorted(p.name for p in (tmp_path / "two" / "run" / "checkpoints").iterdir()) == [
        "checkpoint-000002", "checkpoint-000004", "latest.json"]


def test_deepspeed_launch_fails_before_any_write(tiny_model, tmp_path):
    lines = _run(tmp_path, tiny_model("llava"), 2, {"ACCELERATE_USE_DEEPSPEED": "true", "ACCELERATE_DEEPSPEED_ZERO_STAGE": "2"})
    assert lines[-1]["type"] == "failed" and lines[-1]["name"] == "JobError"
    assert "SHARD_GRAD_OP ~ ZeRO-2" in lines[-1]["message"]
    assert not (tmp_path / "run").exists()
