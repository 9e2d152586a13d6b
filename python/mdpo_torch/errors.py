"""Typed errors: their class name travels as `failed.error.name` (PROTOCOL.md section 2)."""


class EngineError(Exception):
    """Base of the errors the engine raises on purpose (a plain message naming what to change)."""


class JobError(EngineError):
    """The job spec is incomplete or contradicts itself."""


class UnsupportedTaskError(EngineError):
    """A task the torch engine does not run (evaluate, demo, ask stay on the tfjs engine)."""


class DataError(EngineError):
    """A record, the images folder or its manifest cannot be used; the message names which."""


class ModelLoadError(EngineError):
    """The base model folder cannot be loaded by transformers, or lacks what training needs."""


class MemoryEstimateError(EngineError):
    """The estimate before loading says the run does not fit the device."""


class CheckpointError(EngineError):
    """A checkpoint cannot be read, or does not belong to this run."""


class TrainingDivergedError(EngineError):
    """NaN or Inf in the loss or a gradient; nothing of that step was applied."""


class OutOfMemoryError(EngineError):
    """The device ran out of memory; the last checkpoint is kept."""


class CancelledError(EngineError):
    """The parent asked to cancel."""
