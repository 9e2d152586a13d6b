"""FSDP2 under `accelerate launch` with an FSDP config; DeepSpeed refused (PROTOCOL.md, "Sharded runs").

accelerate does not wrap this engine's model (the engine is a plain script it launches): it passes
the config's choices to every process in environment variables (accelerate/utils/launch.py,
prepare_multi_gpu_env), and `launch_mode` reads them:

  ACCELERATE_USE_FSDP=true        shard the frozen base with torch FSDP2 (`fully_shard`)
  FSDP_VERSION 1 | 2              both run on FSDP2 here; version 1's FSDP_SHARDING_STRATEGY maps onto it
  FSDP_RESHARD_AFTER_FORWARD      (version 2) true ~ FULL_SHARD ~ ZeRO-3, false ~ SHARD_GRAD_OP ~ ZeRO-2
  FSDP_SHARDING_STRATEGY          (version 1) FULL_SHARD, SHARD_GRAD_OP; NO_SHARD = plain data parallel;
                                  HYBRID_SHARD[_ZERO2] refused (it needs a 2-D mesh)
  FSDP_AUTO_WRAP_POLICY           TRANSFORMER_BASED_WRAP (default here: every layer of a layer list, the
                                  decoder's and the vision tower's; FSDP_TRANSFORMER_CLS_TO_WRAP names
                                  classes instead), SIZE_BASED_WRAP (FSDP_MIN_NUM_PARAMS), NO_WRAP (root only)
  FSDP_OFFLOAD_PARAMS=true        refused (not supported by this engine)
  FSDP_CPU_RAM_EFFICIENT_LOADING, FSDP_ACTIVATION_CHECKPOINTING, FSDP_STATE_DICT_TYPE: not read (a log
                                  line says so): every process reads the checkpoint then keeps its shard;
                                  config.torch.gradientCheckpointing decides recomputation; adapter
                                  checkpoints are always whole tensors
  ACCELERATE_USE_DEEPSPEED=true   refused before anything is loaded or written

What is sharded: the frozen base (every decoder and vision layer is one FSDP unit, the rest is the
root's). The LoRA weights are FSDP's `ignored_params`: each process holds all of them (a few MB),
so the optimizer, clipping, checkpoints and the exported adapter are those of one process, and
their gradients are summed by one explicit all-reduce per step (distributed.ShardedTask._sync).
FSDP itself reduces no gradient (every parameter it manages is frozen): never both.

Every rank must run every forward and backward (FSDP all-gathers each layer's weights in both), so
FsdpStepTask does not deal micro-batches round-robin: it splits the step's pairs (position i goes to
rank i mod N) and runs its share in micro-batches of at most batchSize pairs; a rank with fewer
micro-batches than rank 0 runs zero-weight ones (a real pair, loss x 0) so the counts match.
Reference forwards (adapters off, cached) are agreed on per micro-batch: when any rank lacks a
reference log-prob, the ranks that do not run one forward and discard it.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from .distributed import Parallel, ShardedTask
from .errors import JobError
from .train.logps import sequence_logps
from .train.task import PreferenceTask

WRAP_POLICIES = ("TRANSFORMER_BASED_WRAP", "SIZE_BASED_WRAP", "NO_WRAP")
_V1_STRATEGIES = ("FULL_SHARD", "SHARD_GRAD_OP", "NO_SHARD", "HYBRID_SHARD", "HYBRID_SHARD_ZERO2")
_TRUE = ("y", "yes", "t", "true", "on", "1")
_FALSE = ("n", "no", "f", "false", "off", "0")
_ALTERNATIVES = ("Use an accelerate FSDP config instead (distributed_type: FSDP, fsdp_version: 2; "
                 "fsdp_reshard_after_forward: true is FULL_SHARD ~ ZeRO-3, false is SHARD_GRAD_OP ~ ZeRO-2) "
                 "or plain DDP (distributed_type: MULTI_GPU). An exported job has both: "
                 "ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh")


@dataclass(frozen=True)
class FsdpSettings:
    reshard_after_forward: bool
    wrap: str  # one of WRAP_POLICIES
    classes: tuple[str, ...] = ()  # TRANSFORMER_BASED_WRAP: class names to wrap; () = every layer of a layer list
    min_params: int = 0  # SIZE_BASED_WRAP

    def describe(self) -> str:
        kind = "FULL_SHARD" if self.reshard_after_forward else "SHARD_GRAD_OP"
        return f"FSDP2 {kind} (reshard_after_forward={str(self.reshard_after_forward).lower()}, {self.wrap})"


@dataclass(frozen=True)
class LaunchMode:
    fsdp: FsdpSettings | None
    notes: tuple[str, ...] = field(default_factory=tuple)


def _flag(env, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise JobError(f"{name}={raw!r} (from the accelerate config) is not a boolean; expected true or false")


def launch_mode(env=None, world: int = 1) -> LaunchMode:
    """What the accelerate config asks of this process group. Raises JobError for DeepSpeed and for FSDP
    settings this engine cannot honour, naming the setting; nothing has been loaded or written yet."""
    env = os.environ if env is None else env
    if _flag(env, "ACCELERATE_USE_DEEPSPEED", False):
        stage = env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE")
        raise JobError("This job was launched with a DeepSpeed config (ACCELERATE_USE_DEEPSPEED=true"
                       f"{f', ZeRO stage {stage}' if stage else ''}); the torch engine does not run under DeepSpeed "
                       "(deepspeed is not among its pinned requirements and needs CUDA). " + _ALTERNATIVES + ".")
    if not _flag(env, "ACCELERATE_USE_FSDP", False):
        return LaunchMode(None)
    version = env.get("FSDP_VERSION", "1")
    if version not in ("1", "2"):
        raise JobError(f"FSDP_VERSION={version!r} (fsdp_version in the accelerate config): expected 1 or 2")
    notes: list[str] = []
    if version == "2":
        reshard = _flag(env, "FSDP_RESHARD_AFTER_FORWARD", True)
    else:
        raw = env.get("FSDP_SHARDING_STRATEGY", "FULL_SHARD").upper()
        strategy = _V1_STRATEGIES[int(raw) - 1] if raw.isdigit() and 1 <= int(raw) <= 5 else raw
        if strategy not in _V1_STRATEGIES:
            raise JobError(f"FSDP_SHARDING_STRATEGY={raw!r} (fsdp_sharding_strategy): expected one of {', '.join(_V1_STRATEGIES)}")
        if strategy.startswith("HYBRID"):
            raise JobError(f"fsdp_sharding_strategy {strategy} is not supported by the torch engine (it shards within a "
                           "node over a 2-D mesh). Use FULL_SHARD or SHARD_GRAD_OP, or fsdp_version: 2.")
        if strategy == "NO_SHARD":
            return LaunchMode(None, ("fsdp_sharding_strategy NO_SHARD: every process holds the whole model "
                                     "(plain data parallel, as without FSDP)",))
        reshard = strategy == "FULL_SHARD"
        notes.append(f"fsdp_version 1, {strategy}: run with FSDP2 (fully_shard), reshard_after_forward={str(reshard).lower()}")
    if _flag(env, "FSDP_OFFLOAD_PARAMS", False):
        raise JobError("fsdp_offload_params: true (FSDP_OFFLOAD_PARAMS) is not supported by the torch engine. Set it to "
                       "false; to fit a bigger model use more processes, bf16, a smaller batchSize or maxLength.")
    policy = (env.get("FSDP_AUTO_WRAP_POLICY") or "TRANSFORMER_BASED_WRAP").upper()
    if policy not in WRAP_POLICIES:
        raise JobError(f"FSDP_AUTO_WRAP_POLICY={policy!r} (fsdp_auto_wrap_policy): expected one of {', '.join(WRAP_POLICIES)}")
    classes = tuple(c.strip() for c in (env.get("FSDP_TRANSFORMER_CLS_TO_WRAP") or "").split(",") if c.strip())
    min_params = 0
    if policy == "SIZE_BASED_WRAP":
        raw = env.get("FSDP_MIN_NUM_PARAMS", "100000000")
        if not raw.isdigit():
            raise JobError(f"FSDP_MIN_NUM_PARAMS={raw!r} (fsdp_min_num_params): expected a whole number")
        min_params = int(raw)
    for name, what in (("FSDP_CPU_RAM_EFFICIENT_LOADING", "every process reads the checkpoint, then keeps only its shard"),
                       ("FSDP_ACTIVATION_CHECKPOINTING", "config.torch.gradientCheckpointing decides recomputation")):
        if _flag(env, name, False):
            notes.append(f"{name.lower().replace('_', ' ')}: not read by the torch engine ({what})")
    if world <= 1:
        return LaunchMode(None, (*notes, "FSDP with one process: nothing to shard; the model is held whole"))
    return LaunchMode(FsdpSettings(reshard, policy, classes, min_params), tuple(notes))


def _layer_lists(model: nn.Module) -> list[nn.Module]:
    """Each element of the outermost nn.ModuleLists (decoder layers, vision encoder layers)."""
    units: list[nn.Module] = []

    def walk(module: nn.Module) -> None:
        for child in module.children():
            if isinstance(child, nn.ModuleList):
                units.extend(m for m in child if any(True for _ in m.parameters()))
            else:
                walk(child)

    walk(model)
    return units


def _by_size(model: nn.Module, min_params: int) -> list[nn.Module]:
    """Bottom-up: a module becomes a unit when the parameters not already in a unit below it reach min_params."""
    units: list[nn.Module] = []

    def walk(module: nn.Module) -> int:
        free = sum(walk(c) for c in module.children()) + sum(p.numel() for p in module.parameters(recurse=False))
        if free >= min_params and module is not model:
            units.append(module)
            return 0
        return free

    walk(model)
    return units


def wrap_units(model: nn.Module, settings: FsdpSettings) -> list[nn.Module]:
    """The submodules that become FSDP units (children before parents), the root excluded."""
    if settings.wrap == "NO_WRAP":
        return []
    if settings.wrap == "SIZE_BASED_WRAP":
        return _by_size(model, settings.min_params)
    if settings.classes:
        units = [m for m in model.modules() if type(m).__name__ in settings.classes and m is not model]
        if not units:
            found = sorted({type(m).__name__ for m in model.modules() if "Layer" in type(m).__name__ or "Block" in type(m).__name__})
            raise JobError(f"fsdp_transformer_layer_cls_to_wrap {', '.join(settings.classes)}: no such module in this model; "
                           f"its layer classes are {', '.join(found) or 'unknown'}")
        ids = {id(m) for m in units}  # a named class nested in another: the outer one only gathers it
        outer = [m for m in units if not any(id(a) in ids for a in _ancestors(model, m))]
        return list(reversed(outer))
    return _layer_lists(model)


def _ancestors(root: nn.Module, target: nn.Module) -> list[nn.Module]:
    path: list[nn.Module] = []

    def find(module: nn.Module, trail: list[nn.Module]) -> bool:
        if module is target:
            path.extend(trail)
            return True
        return any(find(c, trail + [module]) for c in module.children())

    find(root, [])
    return path


def parameter_bytes(model: nn.Module) -> tuple[int, int]:
    """(bytes this process holds, bytes of the whole model): a DTensor parameter counts its local shard."""
    from torch.distributed.tensor import DTensor

    local = full = 0
    for p in model.parameters():
        size = p.element_size()
        full += p.numel() * size
        local += (p.to_local().numel() if isinstance(p, DTensor) else p.numel()) * size
    return local, full


def shard_model(model: nn.Module, settings: FsdpSettings, parallel: Parallel, device: torch.device) -> list[int]:
    """fully_shard on each unit, then on the root; the trainable (LoRA) parameters are left whole on every rank.
    Returns every rank's parameter bytes (a collective), then the whole model's bytes last."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    trainable = {p for p in model.parameters() if p.requires_grad}
    with torch.no_grad():
        for p in trainable:  # FSDP moves what it manages to the mesh's device, not what it ignores
            p.data = p.data.to(device)
    mesh = init_device_mesh(device.type, (parallel.world,))
    units = wrap_units(model, settings)
    for unit in units:
        fully_shard(unit, mesh=mesh, reshard_after_forward=settings.reshard_after_forward, ignored_params=trainable)
    fully_shard(model, mesh=mesh, reshard_after_forward=settings.reshard_after_forward, ignored_params=trainable)
    local, full = parameter_bytes(model)
    return [int(b) for b in parallel.gather(local)] + [full]


class FsdpPreferenceTask(PreferenceTask):
    """PreferenceTask whose reference forwards are agreed on: all ranks run one, or none."""

    def _reference(self, rows, ids, kinds):
        need = any(not self._cacheable(k) or self.cache.get(i, k) is None for i, k in zip(ids, kinds))
        flag = torch.tensor([1 if need else 0], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if int(flag.item()) and not need:
            with torch.no_grad(), self.model.disable_adapter():
                sequence_logps(self.model, self._batch(rows[:1]), self.autocast)  # the collectives only; discarded
        return super()._reference(rows, ids, kinds)


class FsdpStepTask(ShardedTask):
    """The step's pairs split over the ranks (position i -> rank i mod N), each rank's share in micro-batches of
    at most batchSize pairs, the same number of forwards and backwards on every rank; then ShardedTask._sync
    (gradients, loss, records by position, new reference log-probs)."""

    def _reset(self, n_pairs: int) -> None:
        super()._reset(n_pairs)
        self._step: list[int] = []
        self._batch_size = 0

    def micro_batch(self, indices: list[int], epoch: int) -> tuple[float, int]:
        self._step.extend(indices)
        self._batch_size = max(self._batch_size, len(indices))
        self._pairs_seen += len(indices)
        if self._pairs_seen < self._pairs_total:
            return 0.0, 0
        self._run_share(epoch)
        return self._sync()

    def _run_share(self, epoch: int) -> None:
        world, rank, bs, step = self.parallel.world, self.parallel.rank, self._batch_size, self._step
        mine = list(range(rank, len(step), world))  # positions in the step
        chunks = [mine[i:i + bs] for i in range(0, len(mine), bs)]
        count = math.ceil(math.ceil(len(step) / world) / bs)  # rank 0's, the most any rank has
        for c in range(count):
            if c >= len(chunks):
                self._idle(step[0], epoch)
                continue
            chunk = chunks[c]
            before = {key: len(v) for key, v in self.inner.records.items()}
            share, tokens = self.inner.micro_batch([step[p] for p in chunk], epoch)
            self._loss += share
            self._tokens += tokens
            new = {key: v[before.get(key, 0):] for key, v in self.inner.records.items()}
            for j, position in enumerate(chunk):  # one entry per pair, merged by its position in the step
                self._mine.append((position, {key: [v[j]] for key, v in new.items() if v}))

    def _idle(self, index: int, epoch: int) -> None:
        """A zero-weight micro-batch of one real pair: the collectives of a forward and backward, no gradient."""
        inner = self.inner
        saved = inner.step_pairs, inner.records
        inner.step_pairs = math.inf  # its share b / inf = 0: loss x 0
        inner.records = {key: [] for key in saved[1]}
        try:
            inner.micro_batch([index], epoch)
        finally:
            inner.step_pairs, inner.records = saved
