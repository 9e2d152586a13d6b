"""The trainer process speaks src/main/trainer/protocol.ts: ready -> start -> started ->
metrics/progress/checkpoint -> one terminal message -> exit; pause/resume/cancel answer with `re`;
stdout carries protocol lines only. SIGKILL mid-run then resume equals the uninterrupted run."""
import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from jobs import make_job, make_records
from mdpo_torch.engine import run_job
from mdpo_torch.train import LoopHooks
from trainer_process import TrainerProcess

FAMILY = "qwen2_vl"


def adapters(folder: Path) -> dict:
    return load_file(str(folder / "adapter_model.safetensors"))


def test_sigkill_then_resume_equals_an_uninterrupted_run(tmp_path, tiny_model):
    settings = dict(records=make_records(6), maxSteps=5, batchSize=2, gradAccum=2, learningRate=1e-2, checkpointEvery=1,
                    _epochs=1)
    # Uninterrupted, in-process.
    job_a = make_job(tmp_path / "a", tiny_model(FAMILY), **dict(settings))
    steps_a: list[dict] = []
    hooks = LoopHooks()
    hooks.on_step = steps_a.append
    assert run_job(job_a, hooks)["step"] == 5
    # Killed with SIGKILL right after checkpoint 2 was announced, then resumed in a new process.
    job_b = make_job(tmp_path / "b", tiny_model(FAMILY), **dict(settings))
    t = TrainerProcess(tmp_path)
    t.wait_for(lambda m: m["type"] == "ready")
    t.send("start", job=job_b)
    ck = t.wait_for(lambda m: m["type"] == "checkpoint" and m["step"] == 2)
    os.kill(t.proc.pid, signal.SIGKILL)
    assert t.proc.wait(timeout=60) == -signal.SIGKILL
    ck_dir = Path(ck["path"]).parent
    latest = json.loads((ck_dir / "latest.json").read_text())
    assert (ck_dir / latest["checkpoint"] / "state.json").is_file()  # the kill left a complete latest checkpoint
    job_b["resumeFrom"] = {"step": 2, "path": ck["path"]}
    r = TrainerProcess(tmp_path)
    r.wait_for(lambda m: m["type"] == "ready")
    r.send("start", job=job_b)
    started = r.wait_for(lambda m: m["type"] == "started")
    assert started["startStep"] == 2 and started["totalSteps"] == 5
    done = r.wait_for(lambda m: m["type"] in ("done", "failed", "cancelled"))
    assert done["type"] == "done", done
    assert r.finish() == 0
    metrics_b = {m["step"]: m["values"] for m in r.messages if m["type"] == "metrics"}
    assert sorted(metrics_b) == [3, 4, 5]
    for s in (3, 4, 5):  # the resumed steps report what the uninterrupted run reported
        for name in ("loss", "logps/chosen", "logps/imageless_chosen", "grad_norm", "learning_rate"):
            assert metrics_b[s][name] == pytest.approx(steps_a[s - 1]["metrics"][name], abs=1e-5), (s, name)
    a, b = adapters(Path(job_a["runDir"]) / "adapter"), adapters(Path(job_b["runDir"]) / "adapter")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(b[k], a[k], atol=1e-5, rtol=0)
    assert max(float(v.abs().max()) for k, v in a.items() if "lora_B" in k) > 1e-3  # the adapters did train


def test_lifecycle_pause_resume_cancel_and_clean_stdout(tmp_path, tiny_model):
    job = make_job(tmp_path, tiny_model(FAMILY), records=make_records(4), maxSteps=50, checkpointEvery=0, run_id=9)
    t = TrainerProcess(tmp_path)
    ready = t.wait_for(lambda m: m["type"] == "ready")
    assert ready["pid"] == t.proc.pid
    t.send("start", job=job)
    t.wait_for(lambda m: m["type"] == "metrics" and m["step"] == 1)
    pause = t.send("pause")
    paused = t.wait_for(lambda m: m["type"] == "paused")
    assert paused["re"] == pause and paused["runId"] == 9
    resume = t.send("resume")
    resumed = t.wait_for(lambda m: m["type"] == "resumed")
    assert resumed["re"] == resume and resumed["step"] == paused["step"]
    t.wait_for(lambda m: m["type"] == "metrics" and m["step"] == paused["step"] + 1)
    t.send("cancel")
    cancelled = t.wait_for(lambda m: m["type"] in ("cancelled", "done", "failed"))
    assert cancelled["type"] == "cancelled", cancelled
    exit_msg = t.wait_for(lambda m: m["type"] == "exit")
    assert exit_msg["code"] == 0 and t.proc.wait(timeout=60) == 0
    # The cancel wrote a checkpoint of the step it stopped at, announced before `cancelled`.
    ck = [m for m in t.messages if m["type"] == "checkpoint"]
    assert ck and ck[-1]["step"] == cancelled["step"] and Path(ck[-1]["path"], "state.json").is_file()
    # Every stdout line is a protocol message, numbered 1, 2, 3 ... in order.
    assert [m["seq"] for m in t.messages] == list(range(1, len(t.messages) + 1))
    types = [m["type"] for m in t.messages]
    assert types[0] == "ready" and types[-1] == "exit" and "started" in types
    assert sum(x in ("done", "cancelled", "failed") for x in types) == 1
    progress = next(m for m in t.messages if m["type"] == "progress")
    assert set(progress) >= {"step", "totalSteps", "epoch", "elapsedMs", "etaMs", "pairsPerSec", "tokensPerSec"}
    state = json.loads(Path(ck[-1]["path"], "state.json").read_text())
    assert state["engine"] == "torch" and state["step"] == cancelled["step"]
    inputs = state["inputs"]
    assert inputs["schema"] == "mdpo-studio/inputs@1" and inputs["engine"]["name"] == "torch"
    assert inputs["dataset"]["size"] == 4 and len(inputs["base"]) == 64 and len(inputs["tokenizer"]) == 64


def test_malformed_and_out_of_order_commands_are_reported_not_fatal(tmp_path):
    t = TrainerProcess(tmp_path)
    t.wait_for(lambda m: m["type"] == "ready")
    t.proc.stdin.write("not json\n")
    t.proc.stdin.flush()
    warn = t.wait_for(lambda m: m["type"] == "log")
    assert warn == {"seq": 2, "type": "log", "level": "warn", "message": "trainer: ignored a malformed message"}
    t.seq = 1  # skip #1
    t.send("pause")
    gap = t.wait_for(lambda m: m["type"] == "log" and "expected" in m["message"])
    assert gap["message"] == "trainer: expected command #1, got #2"
    assert t.finish() == 4  # stdin closed without a job: the parent is gone


def test_parent_gone_mid_run_cancels_with_a_checkpoint_and_exits_4(tmp_path, tiny_model):
    job = make_job(tmp_path, tiny_model(FAMILY), records=make_records(4), maxSteps=50, checkpointEvery=0)
    t = TrainerProcess(tmp_path)
    t.wait_for(lambda m: m["type"] == "ready")
    t.send("start", job=job)
    t.wait_for(lambda m: m["type"] == "metrics" and m["step"] == 1)
    assert t.finish() == 4  # stdin closed: an orphan must not train on with nobody recording it
    types = [m["type"] for m in t.messages]
    assert "cancelled" in types and types[-1] == "exit" and t.messages[-1]["code"] == 4
    ck = [m for m in t.messages if m["type"] == "checkpoint"]
    assert ck and Path(ck[-1]["path"], "adapter_model.safetensors").is_file()
