"""The loop's guards: NaN/Inf in the loss or a gradient stops the run before anything is applied,
CUDA-style out-of-memory ends it with the numbers and what to change (checkpoint kept), and the
memory estimate refuses a run that cannot fit before the model is loaded."""
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import mdpo_torch.engine as engine
from jobs import make_job, make_records
from mdpo_torch.errors import MemoryEstimateError, OutOfMemoryError, TrainingDivergedError
from mdpo_torch.models.memory import estimate_memory, refuse_if_too_big
from mdpo_torch.train import LoopHooks, PreferenceTask


def failing_at(step_to_fail: int, what):
    """Wraps PreferenceTask.micro_batch so that optimizer step `step_to_fail` (1-based) misbehaves."""
    original = PreferenceTask.micro_batch
    calls = {"n": 0}

    def micro_batch(self, indices, epoch):
        calls["n"] += 1
        share, tokens = original(self, indices, epoch)
        if calls["n"] == step_to_fail:
            return what(self, share, tokens)
        return share, tokens

    return micro_batch


def job_for(tmp_path, tiny_model):
    return make_job(tmp_path, tiny_model("llava"), records=make_records(2), maxSteps=3, checkpointEvery=1)


def test_nan_loss_stops_before_the_update(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(PreferenceTask, "micro_batch", failing_at(2, lambda self, s, t: (math.nan, t)))
    job = job_for(tmp_path, tiny_model)
    with pytest.raises(TrainingDivergedError, match=r"Training diverged at step 2: loss is nan\. The last good checkpoint is "
                                                    r".*checkpoint-000001\. Try a lower learning rate"):
        engine.run_job(job, LoopHooks())
    ck = Path(job["runDir"]) / "checkpoints"
    assert sorted(p.name for p in ck.iterdir() if p.is_dir()) == ["checkpoint-000001"]
    assert not (Path(job["runDir"]) / "adapter").exists()


def test_non_finite_gradient_names_the_parameter(tmp_path, tiny_model, monkeypatch):
    def poison(self, share, tokens):
        name, p = next((n, p) for n, p in self.model.named_parameters() if p.requires_grad)
        p.grad[0, 0] = math.inf
        return share, tokens

    monkeypatch.setattr(PreferenceTask, "micro_batch", failing_at(1, poison))
    job = job_for(tmp_path, tiny_model)
    with pytest.raises(TrainingDivergedError, match=r"step 1: gradient of base_model\.model\..*lora_A.* is inf\. "
                                                    r"No checkpoint was written before it"):
        engine.run_job(job, LoopHooks())
    assert not (Path(job["runDir"]) / "checkpoints").exists()


def test_out_of_memory_keeps_the_last_step_checkpointed(tmp_path, tiny_model, monkeypatch):
    def oom(self, share, tokens):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(PreferenceTask, "micro_batch", failing_at(3, oom))
    job = job_for(tmp_path, tiny_model)
    job["config"]["checkpointEvery"] = 0  # the OOM handler itself writes the step-2 checkpoint
    with pytest.raises(OutOfMemoryError, match=r"Out of memory on cpu at step 3\. Lower batchSize \(now 2; raise gradAccum "
                                               r".*The checkpoint .*checkpoint-000002 is kept"):
        engine.run_job(job, LoopHooks())
    folder = Path(job["runDir"]) / "checkpoints" / "checkpoint-000002"
    assert (folder / "state.json").is_file() and load_file(str(folder / "adapter_model.safetensors"))


def test_memory_estimate_refuses_with_numbers_before_loading(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(engine, "device_memory_bytes", lambda device: 1 << 20)  # a 1 MiB device
    loaded = []
    monkeypatch.setattr(engine, "load_model", lambda *a, **k: loaded.append(a))
    job = job_for(tmp_path, tiny_model)
    with pytest.raises(MemoryEstimateError, match=r"This run needs about 0\.\d\d GiB but cpu has 0\.00 GiB available \("
                                                  r"0\.1M parameters: weights .* GiB.*Lower batchSize or maxLength"):
        engine.run_job(job, LoopHooks())
    assert loaded == [] and not Path(job["runDir"]).exists()


def test_memory_estimate_arithmetic(tiny_model):
    from transformers import AutoConfig

    folder = tiny_model("llava")
    text = AutoConfig.from_pretrained(folder).text_config
    e = estimate_memory(folder, text, weight_bytes=4, lora_params=1000, rows=6, tokens=100, answer_tokens=30, recompute=True)
    params = sum(p.numel() for p in load_file(str(folder / "model.safetensors")).values())
    assert e.parameters == params and e.weights == 4 * params and e.lora == 16_000
    assert e.activations == 6 * 100 * 32 * 2 * 4 * 2 + 6 * 31 * text.vocab_size * (4 + 4)
    assert e.total == int((e.weights + e.lora + e.activations) * 1.1)
    with pytest.raises(MemoryEstimateError, match="needs about"):
        refuse_if_too_big(e, e.total - 1, "cpu")
    refuse_if_too_big(e, e.total, "cpu")
