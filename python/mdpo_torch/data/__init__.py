"""Records, images, chat-template layout and batches (src/core/data's counterpart)."""
from .batch import Batch, Row, build_batch, prompt_ids
from .images import load_image
from .records import Pair, check_negative_epochs, load_pairs, load_records
from .template import Limits, answer_ids, chat_template_of, fit_answer, prompt_text

__all__ = ["Batch", "Limits", "Pair", "Row", "answer_ids", "build_batch", "chat_template_of", "check_negative_epochs",
           "fit_answer", "load_image", "load_pairs", "load_records", "prompt_ids", "prompt_text"]
