"""Data parallelism over N processes (`accelerate launch` / torchrun set RANK, WORLD_SIZE, LOCAL_RANK).

The effective batch of a step is the config's batchSize x gradAccum, whatever the number of
processes: the step's micro-batches (the loop's, in the seeded epoch order every rank computes
the same way) are dealt round-robin to the ranks, each rank runs forward + backward on its own,
and at the step's last micro-batch the gradients are summed over the ranks (each micro-batch's
loss is already weighted by its share of the step, so the sum is the one-process gradient, as
DDP's all-reduce would give). Every rank then applies the same clipped AdamW step to the same
weights. The step's log-prob records and the reference log-probs computed this step are
gathered too, so metrics, the reference cache and checkpoints are those of one process: a run
may resume with another number of processes, or another split of the effective batch
(batchSize x gradAccum), and continue exactly.

Only rank 0 reports and writes checkpoints and the final adapter (engine.run_job).
Backends: gloo on CPU, nccl on CUDA.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Parallel:
    rank: int
    world: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @staticmethod
    def from_env() -> "Parallel | None":
        """None for one process; else joins the process group the launcher described."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        _die_with_parent()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "").lower() not in ("true", "1")
        if cuda:
            torch.cuda.set_device(local)  # pick_placement's "cuda" is then this process's GPU
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo")
        return Parallel(dist.get_rank(), dist.get_world_size(), local)

    def gather(self, value):
        out = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()


def _die_with_parent() -> None:
    """The launcher (torchrun's agent inside `accelerate launch`) starts each rank in its own session,
    so a kill of the launcher's process group would leave the ranks training on, unobserved, writing
    checkpoints. On Linux each rank asks the kernel to SIGKILL it when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        return
    if os.getppid() == 1:  # the parent died before the request took effect
        os._exit(137)


class ShardedTask:
    """Wraps a PreferenceTask: runs this rank's micro-batches, and at the step's last one sums
    gradients, loss and tokens over the ranks and merges records and new reference log-probs."""

    def __init__(self, task, parallel: Parallel, params: list[torch.nn.Parameter]) -> None:
        self.inner, self.parallel, self.params = task, parallel, params
        self._reset(0)

    def __getattr__(self, name):  # size, cache, pairs, ... are the inner task's
        return getattr(self.inner, name)

    def __setattr__(self, name, value):
        if name == "cache" and "inner" in self.__dict__:
            self.inner.cache = value  # the loop restores the cache on resume
        else:
            super().__setattr__(name, value)

    def _reset(self, n_pairs: int) -> None:
        self._pairs_total, self._pairs_seen, self._k = n_pairs, 0, 0
        self._loss, self._tokens, self._returned = 0.0, 0, 0.0
        self._mine: list[tuple[int, dict[str, list[float]]]] = []
        self._known: set[str] = set(self.inner.cache.values)

    def begin_step(self, n_pairs: int) -> None:
        self.inner.begin_step(n_pairs)  # the inner weights each micro-batch by b / n_pairs (the whole step)
        self._reset(n_pairs)

    def micro_batch(self, indices: list[int], epoch: int) -> tuple[float, int]:
        k = self._k
        self._k += 1
        self._pairs_seen += len(indices)
        if k % self.parallel.world == self.parallel.rank:
            before = {key: len(v) for key, v in self.inner.records.items()}
            share, tokens = self.inner.micro_batch(indices, epoch)
            self._loss += share
            self._tokens += tokens
            self._mine.append((k, {key: v[before.get(key, 0):] for key, v in self.inner.records.items()}))
        if self._pairs_seen < self._pairs_total:
            return 0.0, 0
        return self._sync()

    def _sync(self) -> tuple[float, int]:
        """The step's last micro-batch, on every rank: one-process gradient, loss, records, cache."""
        for p in self.params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        cache = self.inner.cache.values
        new = {key: v for key, v in cache.items() if key not in self._known}
        parts = self.parallel.gather({"loss": self._loss, "tokens": self._tokens, "records": self._mine, "cache": new})
        for part in parts:
            cache.update(part["cache"])
        merged = sorted((mb for part in parts for mb in part["records"]), key=lambda x: x[0])  # micro-batch order
        records = {key: [] for key in self.inner.records}
        for _, rec in merged:
            for key, values in rec.items():
                records.setdefault(key, []).extend(values)
        self.inner.records = records
        return sum(p["loss"] for p in parts), sum(p["tokens"] for p in parts)
