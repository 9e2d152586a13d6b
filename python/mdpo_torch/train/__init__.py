"""The training loop and what it needs (src/core/train's counterpart)."""
from .checkpoint import export_adapter, load_checkpoint, resolve_checkpoint, save_checkpoint
from .config import LoopConfig, epochs_touched, incompatible_changes, loop_config_from_shared, total_steps_for
from .logps import sequence_logps
from .loop import LoopHooks, TrainResult, epoch_order, train_preference
from .ref_cache import RefCache
from .schedule import learning_rate_at, warmup_steps
from .task import PreferenceTask, PreparedPair, prepare_pairs

__all__ = ["LoopConfig", "LoopHooks", "PreferenceTask", "PreparedPair", "RefCache", "TrainResult", "epoch_order",
           "epochs_touched", "export_adapter", "incompatible_changes", "learning_rate_at", "load_checkpoint",
           "loop_config_from_shared", "prepare_pairs", "resolve_checkpoint", "save_checkpoint", "sequence_logps",
           "total_steps_for", "train_preference", "warmup_steps"]
