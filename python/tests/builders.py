"""Tiny random checkpoints that transformers itself builds from configs (no hub, no download).

Each builder writes a complete local folder: config.json, model.safetensors, the processor's
files, a byte-level tokenizer (every byte is a token, so any text tokenizes) and a chat
template shaped like the real family's. Sizes are a few thousand parameters so that a test
trains in seconds on two shared CPU cores.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# ChatML (Qwen2-VL / Qwen2.5-VL / LLaVA-OneVision-qwen2 shape): the image is a placeholder the
# processor expands; each turn ends with <|im_end|> then a newline.
CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}{{ IMAGE }}"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# Idefics3 / SmolVLM shape: "User:<image>text<end_of_utterance>\nAssistant: answer<end_of_utterance>\n".
IDEFICS3 = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for c in message['content'] %}{% if c['type'] == 'text' %}{{ c['text'] }}"
    "{% elif c['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n"
    "{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# LLaVA-1.5 (llama) shape: "USER: <image>\ntext ASSISTANT: answer</s>".
LLAVA = (
    "{% for message in messages %}{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% for c in message['content'] %}{% if c['type'] == 'image' %}<image>\n{% elif c['type'] == 'text' %}"
    "{{ c['text'] }}{% endif %}{% endfor %}{% if message['role'] == 'user' %} {% else %}</s>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def byte_tokenizer(specials: list[str], *, bos: str | None, eos: str, pad: str, extra: dict | None = None):
    """A byte-level BPE without merges: 256 byte tokens plus the family's special tokens."""
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    names = [s for s in dict.fromkeys([*(x for x in [bos, eos, pad] if x), *specials])]
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=bos,
        eos_token=eos,
        pad_token=pad,
        additional_special_tokens=[s for s in names if s not in (bos, eos, pad)],
        **(extra or {}),
    )
    return fast


def _text_config(vocab: int, kind: str = "llama", tok=None, **over) -> dict:
    cfg = dict(
        bos_token_id=tok.bos_token_id if tok is not None else None,
        eos_token_id=tok.eos_token_id if tok is not None else None,
        pad_token_id=tok.pad_token_id if tok is not None else None,
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=512,
        tie_word_embeddings=False,
        model_type=kind,
    )
    cfg.update(over)
    return cfg


def _save(model, processor, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    processor.save_pretrained(out)
    return out


def build_qwen2_vl(out: Path, *, family: str = "qwen2_vl", seed: int = 0, chat_template: str | None = CHATML) -> Path:
    from transformers import AutoModelForImageTextToText, Qwen2VLImageProcessor

    torch.manual_seed(seed)
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tok = byte_tokenizer(specials, bos=None, eos="<|im_end|>", pad="<|endoftext|>")
    ids = {s: tok.convert_tokens_to_ids(s) for s in specials}
    vocab = len(tok)
    image = "<|vision_start|><|image_pad|><|vision_end|>"
    vision = dict(depth=1, embed_dim=32, hidden_size=32, num_heads=2, mlp_ratio=2, patch_size=14,
                  spatial_merge_size=2, temporal_patch_size=2, in_chans=3, in_channels=3)
    text = _text_config(vocab, "qwen2", tok,
                        rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]})
    if family == "qwen2_vl":
        from transformers import Qwen2VLConfig as Config, Qwen2VLProcessor as Processor
    else:
        from transformers import Qwen2_5_VLConfig as Config, Qwen2_5_VLProcessor as Processor
        vision.update(intermediate_size=48, out_hidden_size=32, fullatt_block_indexes=[0], window_size=56)
    text.pop("model_type")
    config = Config(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    model = AutoModelForImageTextToText.from_config(config)
    ip = Qwen2VLImageProcessor(min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2, temporal_patch_size=2)
    template = chat_template.replace("{{ IMAGE }}", image) if chat_template else None
    from transformers import Qwen2VLVideoProcessor

    vp = Qwen2VLVideoProcessor(min_pixels=28 * 28, max_pixels=56 * 56, patch_size=14, merge_size=2, temporal_patch_size=2)
    processor = Processor(image_processor=ip, tokenizer=tok, video_processor=vp, chat_template=template)
    return _save(model, processor, out)


def build_qwen2_5_vl(out: Path, *, seed: int = 0, chat_template: str | None = CHATML) -> Path:
    return build_qwen2_vl(out, family="qwen2_5_vl", seed=seed, chat_template=chat_template)


def build_idefics3(out: Path, *, seed: int = 0, chat_template: str | None = IDEFICS3) -> Path:
    from transformers import AutoModelForImageTextToText, Idefics3Config, Idefics3ImageProcessor, Idefics3Processor

    torch.manual_seed(seed)
    rows = [f"<row_{i + 1}_col_{j + 1}>" for i in range(6) for j in range(6)]
    specials = ["<|im_start|>", "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *rows]
    tok = byte_tokenizer(specials, bos="<|im_start|>", eos="<end_of_utterance>", pad="<|endoftext|>")
    vocab = len(tok)
    config = Idefics3Config(
        vision_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1, num_attention_heads=2,
                           image_size=32, patch_size=8),
        text_config=_text_config(vocab, "llama", tok),
        scale_factor=2,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        tie_word_embeddings=False,
    )
    model = AutoModelForImageTextToText.from_config(config)
    # 32 px, patch 8 -> 16 patches, pixel shuffle by 2 -> 4 image tokens.
    ip = Idefics3ImageProcessor(do_image_splitting=False, size={"longest_edge": 32}, max_image_size={"longest_edge": 32})
    processor = Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=4, chat_template=chat_template)
    return _save(model, processor, out)


def build_llava(out: Path, *, seed: int = 0, chat_template: str | None = LLAVA) -> Path:
    from transformers import AutoModelForImageTextToText, CLIPImageProcessor, LlavaConfig, LlavaProcessor

    torch.manual_seed(seed)
    tok = byte_tokenizer(["<image>"], bos="<s>", eos="</s>", pad="<pad>")
    vocab = len(tok)
    config = LlavaConfig(
        vision_config=dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                           num_attention_heads=2, image_size=28, patch_size=14, projection_dim=32),
        text_config=_text_config(vocab, "llama", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
        tie_word_embeddings=False,
    )
    model = AutoModelForImageTextToText.from_config(config)
    ip = CLIPImageProcessor(size={"shortest_edge": 28}, crop_size={"height": 28, "width": 28})
    processor = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=14, vision_feature_select_strategy="default",
                               num_additional_image_tokens=1, chat_template=chat_template)
    return _save(model, processor, out)


def build_llava_onevision(out: Path, *, seed: int = 0, chat_template: str | None = CHATML) -> Path:
    from transformers import (AutoModelForImageTextToText, LlavaOnevisionConfig, LlavaOnevisionImageProcessor,
                              LlavaOnevisionProcessor)

    torch.manual_seed(seed)
    specials = ["<|im_start|>", "<|im_end|>", "<image>", "<video>"]
    tok = byte_tokenizer(specials, bos=None, eos="<|im_end|>", pad="<|endoftext|>")
    vocab = len(tok)
    grid = [[28, 28]]
    config = LlavaOnevisionConfig(
        vision_config=dict(model_type="siglip_vision_model", hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                           num_attention_heads=2, image_size=28, patch_size=14),
        text_config=_text_config(vocab, "qwen2", tok),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        video_token_id=tok.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=grid,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
        tie_word_embeddings=False,
    )
    model = AutoModelForImageTextToText.from_config(config)
    ip = LlavaOnevisionImageProcessor(size={"height": 28, "width": 28}, image_grid_pinpoints=grid)
    template = chat_template.replace("{{ IMAGE }}", "<image>") if chat_template else None
    from transformers import LlavaOnevisionVideoProcessor

    vp = LlavaOnevisionVideoProcessor(size={"height": 28, "width": 28})
    processor = LlavaOnevisionProcessor(image_processor=ip, tokenizer=tok, video_processor=vp, num_image_tokens=4,
                                        vision_feature_select_strategy="full", chat_template=template,
                                        vision_aspect_ratio="anyres_max_1")
    return _save(model, processor, out)


BUILDERS: dict[str, Callable[..., Path]] = {
    "qwen2_vl": build_qwen2_vl,
    "qwen2_5_vl": build_qwen2_5_vl,
    "idefics3": build_idefics3,
    "llava": build_llava,
    "llava_onevision": build_llava_onevision,
}
