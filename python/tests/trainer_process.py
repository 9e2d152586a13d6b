"""Drives `python -m mdpo_torch.trainer` as the supervisor does: JSON lines both ways."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import subprocess_env


class TrainerProcess:
    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "mdpo_torch.trainer"], cwd=str(cwd), env=subprocess_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.messages: list[dict] = []
        self.raw: list[str] = []
        self.q: queue.Queue = queue.Queue()
        self.seq = 0
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.raw.append(line)
            msg = json.loads(line)  # every stdout line must be a protocol message
            self.messages.append(msg)
            self.q.put(msg)
        self.q.put(None)

    def send(self, type_: str, **fields) -> int:
        self.seq += 1
        self.proc.stdin.write(json.dumps({"seq": self.seq, "type": type_, **fields}) + "\n")
        self.proc.stdin.flush()
        return self.seq

    def wait_for(self, pred, timeout: float = 240) -> dict:
        end = time.time() + timeout
        while time.time() < end:
            try:
                msg = self.q.get(timeout=max(0.1, end - time.time()))
            except queue.Empty:
                break
            if msg is None:
                raise AssertionError(f"trainer exited before the expected message; stderr tail:\n{''.join(self.stderr[-30:])}")
            if pred(msg):
                return msg
        raise AssertionError(f"timed out; got {[m['type'] for m in self.messages]}; stderr:\n{''.join(self.stderr[-30:])}")

    def finish(self, timeout: float = 240) -> int:
        self.proc.stdin.close()
        code = self.proc.wait(timeout=timeout)
        return code
