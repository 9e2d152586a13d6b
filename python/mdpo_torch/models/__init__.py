"""Model loading, placement, memory estimate and LoRA (src/core/hf + src/core/model counterpart)."""
from .device import Placement, device_memory_bytes, pick_placement
from .load import check_folder, load_config, load_model, load_processor, text_config_of
from .lora import LORA_TARGETS_ALL, add_lora, dropout_off, language_model_prefix, target_regex, trainable_parameters
from .memory import MemoryEstimate, estimate_memory, lora_parameter_estimate, refuse_if_too_big

__all__ = ["LORA_TARGETS_ALL", "MemoryEstimate", "Placement", "add_lora", "check_folder", "device_memory_bytes",
           "dropout_off", "estimate_memory", "language_model_prefix", "load_config", "load_model", "load_processor",
           "lora_parameter_estimate", "pick_placement", "refuse_if_too_big", "target_regex", "text_config_of",
           "trainable_parameters"]
