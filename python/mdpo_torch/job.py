"""An exported cluster job without the app: `python -m mdpo_torch.job --job job.json --out out`.

`mdpo runs export-job` writes a folder (src/main/jobs/export.ts): job.json, data/records.json, data/images
(m and m' as the app renders them, PROTOCOL.md 3.1), model/ (the base), engine/ (this package).
This entry point runs that job with the same engine (engine.run_job, unchanged) and writes the
protocol's child messages (PROTOCOL.md section 2: started, metrics, progress, checkpoint, and one
terminal message) one JSON object per line to <out>/events.jsonl instead of stdout, so that
`mdpo runs import-job` reads them back as if the app had watched the run.

Relative paths in job.json are resolved against the job folder, so the folder may be moved
anywhere. Started again after an interruption (a SLURM preemption, a kill), it resumes from
<out>/checkpoints/latest.json. SIGTERM/SIGINT: checkpoint the current step, then `cancelled`.

Under `accelerate launch` / torchrun with N processes (WORLD_SIZE > 1) every process trains its
share of each step (distributed.py); only rank 0 writes events, checkpoints and the adapter, and
a stop signal seen by any rank stops all of them at the same step.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

JOB_FORMAT = "mdpo-studio/cluster-job"
JOB_VERSION = 1
EVENTS = "events.jsonl"


class NullLog:
    """What ranks other than 0 report: nothing."""

    def send(self, message: dict) -> None:
        pass


class EventLog:
    """Appends sequenced ChildMessages to events.jsonl (flushed and fsync'ed per line)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = 0
        if path.exists():  # a resumed job continues the numbering
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self._seq = max(self._seq, int(json.loads(line).get("seq", 0)))
                except (ValueError, AttributeError):
                    pass  # a line cut by a kill
        self._file = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        with self._lock:
            self._seq += 1
            self._file.write(json.dumps({**message, "seq": self._seq, "time": time.time()}, allow_nan=False) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())


def _finite(values: dict) -> dict:
    return {k: (float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in values.items()}


def resolve_job(job_file: Path, out: Path) -> dict:
    """job.json -> the engine's TrainJob (PROTOCOL.md 3) with absolute paths on this machine."""
    from .errors import JobError

    try:
        spec = json.loads(job_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobError(f"No job file at {job_file}") from None
    except json.JSONDecodeError as e:
        raise JobError(f"{job_file} is not valid JSON: {e}") from None
    if not isinstance(spec, dict) or spec.get("format") != JOB_FORMAT:
        raise JobError(f'{job_file}: field "format" must be "{JOB_FORMAT}"')
    if spec.get("version") != JOB_VERSION:
        raise JobError(f'{job_file}: field "version" is {spec.get("version")!r}; this engine reads version {JOB_VERSION}')
    root = job_file.resolve().parent
    here = lambda rel: str((root / rel).resolve())  # noqa: E731
    config = dict(spec["config"])
    config["baseModel"] = here(spec["model"])
    config["torch"] = {**(config.get("torch") or {}), "python": None, "negativesDir": here(spec["images"])}
    checkpoints = out / "checkpoints"
    latest = checkpoints / "latest.json"
    resume = None
    if latest.exists():
        saved = json.loads(latest.read_text(encoding="utf-8"))
        resume = {"step": int(saved["step"]), "path": str(checkpoints / saved["checkpoint"])}
    return {"runId": spec.get("runId", 1), "config": config, "runDir": str(out), "home": str(out), "appRoot": str(root),
            "dataset": {"root": here("data"), "format": "records", "recordsFile": here(spec["records"])},
            "resumeFrom": resume, "task": {"kind": "train"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mdpo_torch.job", description=__doc__.split("\n")[0])
    parser.add_argument("--job", required=True, help="job.json of an exported job folder")
    parser.add_argument("--out", required=True, help="folder for events.jsonl, checkpoints/ and adapter/")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    out = Path(args.out).resolve()
    from .distributed import Parallel
    from .errors import CancelledError
    from .train.loop import LoopHooks
    from .trainer import serialize_error

    parallel = Parallel.from_env()
    log = EventLog(out / EVENTS) if parallel is None or parallel.is_main else NullLog()

    run_id = None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    current = {"step": 0}
    try:
        job = resolve_job(Path(args.job), out)
        run_id = job["runId"]
        current["step"] = (job["resumeFrom"] or {}).get("step", 0)
        hooks = LoopHooks()
        # Every rank asks once per step at the same point, so the vote is a safe collective.
        hooks.cancelled = stop.is_set if parallel is None else lambda: any(parallel.gather(stop.is_set()))
        hooks.log = lambda message: log.send({"type": "log", "level": "info", "message": message})
        # Paths in checkpoint messages are relative to <out>: the job folder may be copied elsewhere before import.
        hooks.on_checkpoint = lambda step, path: log.send(
            {"type": "checkpoint", "runId": run_id, "step": step, "path": os.path.relpath(path, out)})
        hooks.on_start = lambda total, first: log.send(
            {"type": "started", "runId": run_id, "totalSteps": total, "backend": hooks.backend, "startStep": first})

        def on_step(info: dict) -> None:
            current["step"] = info["step"]
            log.send({"type": "metrics", "runId": run_id, "step": info["step"], "values": _finite(info["metrics"])})
            log.send({"type": "progress", "runId": run_id, "step": info["step"], "totalSteps": info["totalSteps"],
                      "epoch": info["epoch"], "elapsedMs": info["elapsedMs"], "etaMs": info["etaMs"],
                      "pairsPerSec": info["pairsPerSec"], "tokensPerSec": info["tokensPerSec"]})

        hooks.on_step = on_step
        if job["resumeFrom"]:
            hooks.log(f"resuming from {os.path.relpath(job['resumeFrom']['path'], out)} (step {job['resumeFrom']['step']})")
        from .engine import run_job

        if parallel is not None:
            hooks.log(f"{parallel.world} processes: each step's {job['config'].get('batchSize')} x {job['config'].get('gradAccum')} "
                      "pairs are shared among them (the effective batch does not change)")
        result = run_job(job, hooks) if parallel is None else run_job(job, hooks, parallel)
        log.send({"type": "done", "runId": run_id, "step": result["step"], "result": _finite(result["result"])})
        code = 0
    except CancelledError:
        log.send({"type": "cancelled", "runId": run_id, "step": current["step"]})
        code = 4
    except BaseException as error:  # noqa: BLE001 - every failure becomes one `failed` line
        traceback.print_exc(file=sys.stderr)
        log.send({"type": "failed", "runId": run_id, "error": serialize_error(error)})
        code = 1
    log.send({"type": "exit", "code": code})
    if parallel is not None:
        parallel.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
