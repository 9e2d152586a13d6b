"""Small real tokenizers for the golden fixtures, trained with the `tokenizers` library.

Deterministic: BPE training on a fixed corpus (below) is deterministic in tokenizers 0.23
(ties broken by token order), so the same tokenizer.json comes out on every machine.

Two shapes, as the real checkpoints have them:
  - byte-level BPE (GPT-2 style for SmolVLM, Qwen2's split regex + byte level for Qwen2);
  - Llama-2 style sentencepiece BPE: "▁" for spaces, a prepended "▁", byte fallback
    (<0x00>..<0xFF>), <unk>/<s>/</s>, and a post-processor that prepends <s>.
"""
from __future__ import annotations

import json

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

# A fixed training corpus: the fixtures' questions/answers, shapes and colours, digits, a little
# unicode. Nothing here is read from disk or the network.
_BASE = [
    "What is in the image?",
    "A red circle on a white background.",
    "A blue square in the corner of the picture.",
    "There is a green triangle and a yellow star.",
    "The cat is sitting on the mat next to the dog.",
    "How many objects are there? There are 3 objects: 1 circle, 2 squares.",
    "Describe the picture in detail, please.",
    "The image shows a small purple hexagon above a large orange rectangle.",
    "No, there is no cat here; the picture is empty.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2024 3.14 -7 1,000,000",
    "Unicode: café naïve über straße déjà vu — “quotes” ‘single’ … 日本語 中文 한국어 😀 🐱",
    "Tabs\tand  double  spaces   and\nnew lines\n\nhere.",
    "the the the of and to in is it that this with for on as at by",
    "Yes. No. Maybe? Certainly! (parentheses) [brackets] {braces} <angles>",
]
CORPUS = [line for _ in range(4) for line in _BASE]

# Qwen2's pre-tokenizer split pattern.
QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)


def byte_level(specials: list[str], vocab_size: int, qwen: bool) -> Tokenizer:
    """Byte-level BPE; the specials come first (ids 0..), as added special tokens."""
    tok = Tokenizer(models.BPE())
    if qwen:
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    else:
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def llama_sentencepiece(extra_specials: list[str], vocab_size: int) -> Tokenizer:
    """Llama-2 style: <unk> <s> </s>, 256 byte-fallback tokens, trained merges; <s> prepended."""
    # Train on "▁"-joined words (sentencepiece's view), merges never cross a word start.
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    trainer_tok.train_from_iterator(CORPUS, trainer=trainer)
    trained = json.loads(trainer_tok.to_str())["model"]
    vocab: dict[str, int] = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for piece, _ in sorted(trained["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in trained["merges"]]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tok.add_special_tokens(["<unk>", "<s>", "</s>"])
    tok.add_special_tokens(extra_specials)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    return tok
