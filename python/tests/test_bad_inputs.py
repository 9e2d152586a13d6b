"""Bad inputs end with a clear error naming the problem, and nothing is half-written: the run
folder is not even created (every check runs before the model is loaded and before any write)."""
import json
import shutil
from pathlib import Path

import pytest

from builders import build_qwen2_vl
from jobs import make_job, make_records
from mdpo_torch.engine import run_job
from mdpo_torch.errors import CheckpointError, DataError, JobError, ModelLoadError
from mdpo_torch.train import LoopHooks
from trainer_process import TrainerProcess


def run(job):
    return run_job(job, LoopHooks())


def test_a_folder_transformers_cannot_load_fails_over_the_protocol(tmp_path, tiny_model):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model("qwen2_vl"), broken)
    cfg = json.loads((broken / "config.json").read_text())
    (broken / "config.json").write_text(json.dumps({**cfg, "model_type": "no_such_family"}))
    job = make_job(tmp_path, broken, run_id=4)
    t = TrainerProcess(tmp_path)
    t.wait_for(lambda m: m["type"] == "ready")
    t.send("start", job=job)
    failed = t.wait_for(lambda m: m["type"] in ("failed", "done"))
    assert failed["type"] == "failed" and failed["runId"] == 4
    assert failed["error"]["name"] == "ModelLoadError"
    assert f"transformers cannot load the model config in {broken}" in failed["error"]["message"]
    assert "no_such_family" in failed["error"]["message"] and "Traceback" in failed["error"]["stack"]
    assert t.wait_for(lambda m: m["type"] == "exit")["code"] == 0
    assert not Path(job["runDir"]).exists()


def test_a_model_without_a_chat_template(tmp_path):
    folder = build_qwen2_vl(tmp_path / "plain", chat_template=None)
    job = make_job(tmp_path, folder)
    with pytest.raises(ModelLoadError, match="has no chat template"):
        run(job)
    assert not Path(job["runDir"]).exists()


def test_a_pair_whose_answer_is_truncated_away(tmp_path, tiny_model):
    job = make_job(tmp_path, tiny_model("qwen2_vl"))
    job["config"]["torch"]["maxLength"] = 24  # the prompt with its image alone is longer
    with pytest.raises(DataError, match=r"Record 0 \(pair-0\), chosen answer: the prompt with its image takes \d+ tokens, "
                                        r"so maxLength 24 leaves no room for the answer \(it would be truncated away\)"):
        run(job)
    assert not Path(job["runDir"]).exists()


def test_pickle_only_weights_are_refused_without_being_opened(tmp_path, tiny_model):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model("qwen2_vl"), folder)
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")
    job = make_job(tmp_path, folder)
    with pytest.raises(ModelLoadError, match=r"has no \*.safetensors weights. It has pytorch_model.bin: pickle files"):
        run(job)
    assert not Path(job["runDir"]).exists()


def test_missing_images_folder_and_builtin_base(tmp_path, tiny_model):
    job = make_job(tmp_path, tiny_model("qwen2_vl"))
    shutil.rmtree(job["config"]["torch"]["negativesDir"])
    with pytest.raises(DataError, match=r"The images manifest .*manifest.json does not exist"):
        run(job)
    job["config"]["baseModel"] = "builtin:world-base"
    with pytest.raises(JobError, match="runs on the tfjs engine"):
        run(job)
    assert not Path(job["runDir"]).exists()


def test_resume_refuses_a_changed_config_or_changed_inputs(tmp_path, tiny_model):
    job = make_job(tmp_path, tiny_model("qwen2_vl"), records=make_records(2), maxSteps=2)
    run(job)
    job["resumeFrom"] = {"step": 1, "path": str(Path(job["runDir"]) / "checkpoints" / "checkpoint-000001")}
    job["config"]["beta"] = 0.2
    with pytest.raises(CheckpointError, match="the config differs from the checkpoint's in objective"):
        run(job)
    job["config"]["beta"] = 0.1
    records = make_records(2)
    records[1]["chosen"] = "A different answer."
    Path(job["dataset"]["recordsFile"]).write_text(json.dumps(records))
    with pytest.raises(CheckpointError, match=r"what it was trained on changed since the checkpoint: the dataset's records "
                                              r"\(same 2 pairs, different contents"):
        run(job)
    Path(job["dataset"]["recordsFile"]).write_text(json.dumps(make_records(2)))
    neg = Path(job["config"]["torch"]["negativesDir"]) / "neg" / "000000-e0.png"
    from PIL import Image
    Image.new("RGB", Image.open(neg).size, (0, 0, 0)).save(neg)  # another m' for pair 0
    with pytest.raises(CheckpointError, match=r"the m' strategy or its parameters \(crop minArea=0.01 maxArea=0.2, fixed per "
                                              r"pair -> crop minArea=0.01 maxArea=0.2, fixed per pair; the m' images differ\)"):
        run(job)
