"""Prompts and answers through the model's own chat template, and the answer's tokens.

The prompt is `apply_chat_template([user: image + prompt], add_generation_prompt=True)`; the
full text appends the assistant turn. The answer's tokens are those of the full text after the
prompt up to the end of the answer, plus ONE more token: the template's end-of-turn token
(docs/objective.md: answer tokens plus the end-of-answer token; the newline after it is not counted).
The prompt's own tokens (image placeholders expanded) come from the processor at batch time.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError, ModelLoadError


@dataclass(frozen=True)
class Limits:
    """docs/objective.md: 2048 tokens in all, prompt 1024, answer 1024 (answer counts its end token)."""
    max_length: int = 2048
    max_prompt_length: int = 1024
    max_answer_length: int = 1024

    def check(self) -> None:
        if self.max_answer_length < 2:
            raise DataError(f"Expected maxAnswerLength >= 2 (one answer token and the end token), but got {self.max_answer_length}")
        if self.max_length < 3 or self.max_prompt_length < 1:
            raise DataError(f"Expected maxLength >= 3 and maxPromptLength >= 1, but got {self.max_length}, {self.max_prompt_length}")


def chat_template_of(processor) -> str:
    tmpl = getattr(processor, "chat_template", None) or getattr(getattr(processor, "tokenizer", None), "chat_template", None)
    if not tmpl:
        raise ModelLoadError("The model has no chat template (neither the processor nor the tokenizer defines one), "
                             "so prompts and answers cannot be laid out as the model was trained. Add chat_template.jinja "
                             "to the model folder.")
    return tmpl


def user_messages(prompt: str, with_image: bool) -> list[dict]:
    content = ([{"type": "image"}] if with_image else []) + [{"type": "text", "text": prompt}]
    return [{"role": "user", "content": content}]


def prompt_text(processor, prompt: str, with_image: bool) -> str:
    return processor.apply_chat_template(user_messages(prompt, with_image), add_generation_prompt=True, tokenize=False)


def answer_ids(processor, prompt: str, answer: str, with_image: bool, *, where: str) -> list[int]:
    """Answer tokens + the end-of-turn token, as the template lays them out after the prompt."""
    tok = processor.tokenizer
    msgs = user_messages(prompt, with_image)
    head = prompt_text(processor, prompt, with_image)
    full = processor.apply_chat_template(msgs + [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
                                         tokenize=False)
    if not full.startswith(head):
        raise DataError(f"{where}: the chat template renders the prompt differently once the answer is added, "
                        "so the answer's tokens cannot be told apart from the prompt's")
    start = full.find(answer, len(head))
    found = answer
    if start < 0:
        found = answer.strip()
        start = full.find(found, len(head))
    if start < 0:
        raise DataError(f"{where}: the chat template does not render the answer text verbatim")
    end = start + len(found)
    enc = lambda text: tok(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    ids_head, ids_answer, ids_full = enc(head), enc(full[:end]), enc(full)
    if ids_answer[: len(ids_head)] != ids_head or ids_full[: len(ids_answer)] != ids_answer:
        raise DataError(f"{where}: the tokenizer merges tokens across the prompt/answer boundary; cannot mask the answer exactly")
    ids = ids_answer[len(ids_head):]
    end_token = end_of_turn(tok, ids_full[len(ids_answer):])
    if end_token is None:
        raise DataError(f"{where}: the chat template closes the answer with no special token and the tokenizer has no eos token")
    if not ids:
        raise DataError(f"{where}: the answer has no tokens")
    return ids + [end_token]


def end_of_turn(tok, suffix: list[int]) -> int | None:
    """The template's end-of-turn token: the first special token after the answer (only whitespace
    before it), e.g. <|im_end|> or <end_of_utterance>; else the tokenizer's eos token (a template
    that closes the turn with plain text, like LLaVA-1.5's "ASSISTANT: answer ")."""
    special = set(tok.all_special_ids)
    for t in suffix:
        if t in special:
            return t
        if tok.decode([t]).strip():
            break
    return tok.eos_token_id


def fit_answer(ids: list[int], prompt_len: int, limits: Limits, *, where: str) -> list[int]:
    """Keeps the answer's first tokens and its end token within the limits, or refuses."""
    if prompt_len > limits.max_prompt_length:
        raise DataError(f"{where}: the prompt with its image takes {prompt_len} tokens, more than maxPromptLength "
                        f"{limits.max_prompt_length}. Raise maxPromptLength (and maxLength) or shorten the prompt.")
    keep = min(limits.max_answer_length, limits.max_length - prompt_len) - 1
    if keep < 1:
        raise DataError(f"{where}: the prompt with its image takes {prompt_len} tokens, so maxLength {limits.max_length} "
                        "leaves no room for the answer (it would be truncated away). Raise maxLength or shorten the prompt.")
    return ids[:keep] + [ids[-1]] if len(ids) - 1 > keep else ids
