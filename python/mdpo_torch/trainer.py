"""The torch trainer process: `python -m mdpo_torch.trainer` (PROTOCOL.md sections 1-2).

It speaks exactly the protocol of src/main/trainer/protocol.ts over stdio, one JSON object per
line: ParentMessage in on stdin, ChildMessage out on stdout, `seq` counted per direction from 1.
stdout carries protocol lines only: at start the process moves its own fd 1 onto stderr, so a
print, a warning or a C library's output can never corrupt the stream. Like child.ts it runs one
job and exits; it never touches the database.

Several processes (config.torch.processes / devices; src/main/python/launch.ts starts
`torch.distributed.run --standalone -m mdpo_torch.trainer`, WORLD_SIZE > 1): rank 0 alone reads
stdin and speaks the protocol; the other ranks write nothing to stdout (their fd 1 goes to
stderr), get the job from rank 0, and train their share of each step (distributed.py). Before
every optimizer step rank 0 broadcasts its state (run, paused, cancel), so a pause, a resume, a
cancel or the parent's EOF reach every rank at the same step; while paused the ranks poll once
a second so no collective times out. Each rank dies with the launcher (distributed.py).
"""
from __future__ import annotations

import json
import math
import os
import sys
import threading
import traceback

PARENT_TYPES = {"start", "pause", "resume", "cancel"}


class Port:
    """Sequenced, thread-safe protocol output on the original stdout (silent on ranks other than 0)."""

    def __init__(self, speaks: bool = True) -> None:
        fd = os.dup(1)
        os.dup2(2, 1)  # fd 1 (what print and C code write to) now goes to stderr
        sys.stdout = sys.stderr
        self._out = os.fdopen(fd, "w", encoding="utf-8", buffering=1) if speaks else None
        if not speaks:
            os.close(fd)
        self._seq = 0
        self._lock = threading.Lock()

    def send(self, message: dict) -> None:
        if self._out is None:
            return
        with self._lock:
            self._seq += 1
            self._out.write(json.dumps({**message, "seq": self._seq}, allow_nan=False, default=_plain) + "\n")
            self._out.flush()


def _plain(value):
    return str(value)


def finite_or_none(values: dict) -> dict:
    return {k: (float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None) for k, v in values.items()}


def serialize_error(error: BaseException) -> dict:
    return {"name": type(error).__name__, "message": str(error),
            "stack": "".join(traceback.format_exception(type(error), error, error.__traceback__))}


class Child:
    def __init__(self, port: Port, parallel=None) -> None:
        self.port = port
        self.parallel = parallel
        self.last_in = 0
        self.job: dict | None = None
        self.started_job = threading.Event()
        self.cond = threading.Condition()
        self.paused: int | None = None  # seq of the pause command
        self.cancel = False
        self.parent_gone = False
        self.current_step = 0

    # ------------------------------------------------------------------ incoming (reader thread)
    def read_forever(self, stream) -> None:
        for line in stream:
            line = line.strip()
            if line:
                self.handle(line)
        with self.cond:  # EOF: the parent is gone; an orphan would train on with nobody recording it
            self.parent_gone = True
            self.cancel = True
            self.paused = None
            self.cond.notify_all()
        self.started_job.set()

    def warn(self, message: str) -> None:
        self.port.send({"type": "log", "level": "warn", "message": message})

    def handle(self, line: str) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            msg = None
        if not (isinstance(msg, dict) and isinstance(msg.get("seq"), int) and msg.get("type") in PARENT_TYPES):
            self.warn("trainer: ignored a malformed message")
            return
        expected = self.last_in + 1
        if msg["seq"] != expected:
            self.warn(f"trainer: expected command #{expected}, got #{msg['seq']}")
            if msg["seq"] <= self.last_in:
                return
        self.last_in = msg["seq"]
        kind = msg["type"]
        if kind == "start":
            if self.job is not None:
                self.warn("trainer: already running a job")
            else:
                self.job = msg.get("job")
                self.started_job.set()
        elif kind == "pause":
            with self.cond:
                if self.paused is None:
                    self.paused = msg["seq"]
        elif kind == "resume":
            self.resume_from_pause(msg["seq"])
        elif kind == "cancel":
            with self.cond:
                self.cancel = True
            self.resume_from_pause(msg["seq"])

    def resume_from_pause(self, re: int) -> None:
        with self.cond:
            was = self.paused
            self.paused = None
            self.cond.notify_all()
        if was is not None and self.job is not None:
            self.port.send({"type": "resumed", "runId": self.job.get("runId"), "step": self.current_step, "re": re})

    # ------------------------------------------------------------------ the job (main thread)
    def wait_if_paused(self, step: int) -> None:
        self.current_step = step
        with self.cond:
            if self.paused is None or self.cancel:
                return
            self.port.send({"type": "paused", "runId": self.job.get("runId"), "step": step, "re": self.paused})
            while self.paused is not None and not self.cancel:
                self.cond.wait()

    def sync_step(self, step: int) -> None:
        """Several processes: every rank calls this before each optimizer step; rank 0's state decides.
        The paused message goes out once; the ranks meet once a second until a resume or a cancel."""
        self.current_step = step
        told = False
        while True:
            state = "run"
            if self.parallel.is_main:
                with self.cond:
                    if self.cancel:
                        state = "cancel"
                    elif self.paused is not None:
                        if not told:
                            self.port.send({"type": "paused", "runId": self.job.get("runId"), "step": step, "re": self.paused})
                            told = True
                        self.cond.wait(timeout=1.0)
                        state = "cancel" if self.cancel else ("paused" if self.paused is not None else "run")
            box = [state]
            import torch.distributed as dist

            dist.broadcast_object_list(box, src=0)
            if box[0] == "cancel":
                self.cancel = True
            if box[0] != "paused":
                return

    def run(self) -> int:
        from .errors import CancelledError
        from .train.loop import LoopHooks

        job = self.job
        run_id = job.get("runId") if isinstance(job, dict) else None
        self.current_step = ((job or {}).get("resumeFrom") or {}).get("step", 0) if isinstance(job, dict) else 0
        hooks = LoopHooks()
        if self.parallel is None:
            hooks.before_step = self.wait_if_paused
            hooks.cancelled = lambda: self.cancel
        else:  # the state every rank agreed on in sync_step, never rank 0's live flag
            agreed = {"cancel": False}

            def before(step: int) -> None:
                self.sync_step(step)
                agreed["cancel"] = self.cancel

            hooks.before_step = before
            hooks.cancelled = lambda: agreed["cancel"]
        hooks.log = lambda message: self.port.send({"type": "log", "level": "info", "message": message})
        hooks.on_checkpoint = lambda step, path: self.port.send({"type": "checkpoint", "runId": run_id, "step": step, "path": path})
        hooks.on_start = lambda total, first: self.port.send(
            {"type": "started", "runId": run_id, "totalSteps": total, "backend": hooks.backend, "startStep": first})

        def on_step(info: dict) -> None:
            self.current_step = info["step"]
            self.port.send({"type": "metrics", "runId": run_id, "step": info["step"], "values": finite_or_none(info["metrics"])})
            self.port.send({"type": "progress", "runId": run_id, "step": info["step"], "totalSteps": info["totalSteps"],
                            "epoch": info["epoch"], "elapsedMs": info["elapsedMs"], "etaMs": info["etaMs"],
                            "pairsPerSec": info["pairsPerSec"], "tokensPerSec": info["tokensPerSec"]})

        hooks.on_step = on_step
        # The exit code is decided when the terminal message goes out: 4 only when the parent was
        # gone before that (a stdin closed after `done` is a normal end).
        gone_before_end = False
        try:
            if not isinstance(job, dict) or not isinstance(job.get("config"), dict):
                raise ValueError("The start message carries no job with a config")
            from .engine import run_job

            result = run_job(job, hooks) if self.parallel is None else run_job(job, hooks, self.parallel)
            gone_before_end = self.parent_gone
            if self.cancel:
                self.port.send({"type": "cancelled", "runId": run_id, "step": result["step"]})
            else:
                self.port.send({"type": "done", "runId": run_id, "step": result["step"],
                                "result": finite_or_none(result["result"])})
        except CancelledError:
            gone_before_end = self.parent_gone
            self.port.send({"type": "cancelled", "runId": run_id, "step": self.current_step})
        except BaseException as error:  # every failure becomes one `failed` message
            gone_before_end = self.parent_gone
            traceback.print_exc(file=sys.stderr)
            if self.cancel and not isinstance(error, Exception):
                self.port.send({"type": "cancelled", "runId": run_id, "step": self.current_step})
            else:
                self.port.send({"type": "failed", "runId": run_id, "error": serialize_error(error)})
        return 4 if gone_before_end else 0


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parallel = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # torch is imported here only under a launcher
        from .distributed import Parallel

        parallel = Parallel.from_env()
    port = Port(speaks=parallel is None or parallel.is_main)
    child = Child(port, parallel)
    code = 1
    try:
        if parallel is None or parallel.is_main:
            reader = threading.Thread(target=child.read_forever, args=(sys.stdin,), daemon=True)
            reader.start()
            # Several processes: the launcher's pid (killing it kills every rank, distributed.py).
            port.send({"type": "ready", "pid": os.getpid() if parallel is None else os.getppid()})
            child.started_job.wait()
        if parallel is not None:
            box = [child.job]
            import torch.distributed as dist

            dist.broadcast_object_list(box, src=0)  # the job rank 0 got on stdin
            child.job = box[0]
            if parallel.is_main:
                port.send({"type": "log", "level": "info", "message": f"{parallel.world} processes: each step's pairs are shared among them (the effective batch does not change)"})
        if child.job is None:
            code = 4
        else:
            import transformers

            transformers.utils.logging.disable_progress_bar()
            code = child.run()
    except BaseException as error:  # noqa: BLE001 - the last resort: report, then exit 1
        port.send({"type": "failed", "runId": (child.job or {}).get("runId") if isinstance(child.job, dict) else None,
                   "error": serialize_error(error)})
        code = 1
    port.send({"type": "exit", "code": code})
    if parallel is not None:
        try:
            parallel.close()
        except Exception:  # noqa: BLE001 - a peer already gone; the exit code says what happened
            pass
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
