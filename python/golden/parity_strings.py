"""The >= 200 strings of the tokenizer parity check: unicode, whitespace runs, special tokens,
numbers, punctuation and plain sentences, built deterministically (no randomness needed)."""
from __future__ import annotations

WORDS = ["the", "cat", "image", "circle", "Red", "BLUE", "squares", "isn't", "we'll", "don't", "naïve", "café", "straße", "日本語", "中文", "한국어", "Ελληνικά", "русский", "עברית", "العربية", "😀", "🐱‍👤", "👍🏽", "e\u0301", "Å", "ﬁ"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "\u00a0", "\u3000", "\t \t"]
NUMBERS = ["0", "7", "42", "123", "2024", "1234567890", "3.14159", "-12", "1,000,000", "1e-5", "0x1F", "½", "٣", "①"]
SPECIALS = ["<image>", "<|im_start|>", "<|im_end|>", "<end_of_utterance>", "<fake_token_around_image>", "<global-img>", "<s>", "</s>", "<unk>", "<|endoftext|>", "<pad>"]
PUNCT = ["!", "?", "...", "—", "“quoted”", "(x)", "[y]", "{z}", "<tag>", "a/b", "c\\d", "#1", "@me", "$5", "100%", "&&", "||", "'s", "'ll"]


def parity_strings() -> list[str]:
    out: list[str] = ["", " ", "a", "What is in the image?", "A red circle on a white background."]
    for i, w in enumerate(WORDS):
        out.append(w)
        out.append(f"{w}{SPACES[i % len(SPACES)]}{WORDS[(i + 3) % len(WORDS)]}")
    for i, s in enumerate(SPACES):
        out.append(f"a{s}b")
        out.append(f"{s}lead and trail{s}")
        out.append(s * 3)
    for i, n in enumerate(NUMBERS):
        out.append(n)
        out.append(f"there are {n} shapes")
        out.append(f"{n}{NUMBERS[(i + 1) % len(NUMBERS)]}")
    for i, sp in enumerate(SPECIALS):
        out.append(sp)
        out.append(f"before {sp} after")
        out.append(f"{sp}{sp}x{SPECIALS[(i + 2) % len(SPECIALS)]}")
        out.append(f" {sp} ")
    for i, p in enumerate(PUNCT):
        out.append(p)
        out.append(f"word{p}word {p} {WORDS[i % len(WORDS)]}")
    for i in range(30):
        w = [WORDS[(i * 7 + k) % len(WORDS)] for k in range(4)]
        out.append(SPACES[i % len(SPACES)].join(w) + PUNCT[i % len(PUNCT)] + " " + NUMBERS[i % len(NUMBERS)])
    out.append("The quick brown fox jumps over the lazy dog. " * 3)
    out.append("".join(chr(c) for c in range(0x20, 0x7F)))
    out.append("\u200b zero width \u200d joiner \ufeff bom")
    seen: set[str] = set()
    uniq = [s for s in out if not (s in seen or seen.add(s))]
    assert len(uniq) >= 200, len(uniq)
    return uniq
