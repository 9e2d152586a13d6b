"""The four checkpoint families src/core/hf supports, as tiny transformers configs + processors.

Each `build(name)` returns (model, processor) made WITH transformers from configs: the model's
weights are then overwritten from a seeded numpy generator (platform-independent, unlike
torch's vectorised init) and rounded to bfloat16 (the folder stores BF16, like the real
checkpoints; the goldens are computed in float32 from exactly those values).
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np
import torch
from transformers import (
    CLIPVisionConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    Idefics3VisionConfig,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
    Qwen2Config,
    SiglipVisionConfig,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    SmolVLMVisionConfig,
)
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil
from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil
from transformers.models.llava_onevision.image_processing_pil_llava_onevision import LlavaOnevisionImageProcessorPil
from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil
from transformers.models.smolvlm.image_processing_pil_smolvlm import SmolVLMImageProcessorPil

from tiny_tokenizers import byte_level, llama_sentencepiece

FAMILIES = ["smolvlm", "smolvlm2", "llava-llama", "llava-qwen2", "onevision"]

SMOL_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)
QWEN_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' %}{{ '<image>\n' }}{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{{'<|im_end|>\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

IMAGE = 32  # every tower sees 32 x 32 pixels
TEXT = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
VISION = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=IMAGE)


class ProcessorParts:
    """What a processor whose class needs a torchvision video processor (LlavaOnevisionProcessor,
    SmolVLMProcessor) would save. The goldens were first made without torchvision (then not
    pinned), and the folders stay as they were so the goldens stay bit-stable: the folder
    gets the processor's parts (image processor, tokenizer, chat template, processor_config.json)
    and the generator expands the image placeholder itself, by the processor's rule."""

    def __init__(self, image_processor, tokenizer, chat_template: str, config: dict, image_text: str):
        self.image_processor = image_processor
        self.tokenizer = tokenizer
        self.chat_template = chat_template
        self.config = config
        # What one image's "<image>" becomes in the prompt text (one global view, no tiling).
        self.image_text = image_text

    def apply_chat_template(self, messages, add_generation_prompt: bool = True, tokenize: bool = False) -> str:
        assert not tokenize
        return self.tokenizer.apply_chat_template(messages, chat_template=self.chat_template, add_generation_prompt=add_generation_prompt, tokenize=False)

    def save_pretrained(self, d: str) -> None:
        self.image_processor.save_pretrained(d)
        self.tokenizer.save_pretrained(d)
        with open(os.path.join(d, "chat_template.jinja"), "w", encoding="utf-8") as f:
            f.write(self.chat_template)
        with open(os.path.join(d, "processor_config.json"), "w", encoding="utf-8") as f:
            json.dump(self.config, f, indent=2, sort_keys=True)
            f.write("\n")


def _fast(tok, **specials) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(tokenizer_object=tok, **specials)


def _smol_tokenizer():
    specials = ["<|endoftext|>", "<|im_start|>", "<end_of_utterance>", "<fake_token_around_image>", "<global-img>", "<image>"]
    t = byte_level(specials, 420, qwen=False)
    return _fast(t, bos_token="<|im_start|>", eos_token="<end_of_utterance>", pad_token="<|endoftext|>", unk_token="<|endoftext|>",
                 extra_special_tokens={"image_token": "<image>", "fake_image_token": "<fake_token_around_image>", "global_image_token": "<global-img>", "end_of_utterance_token": "<end_of_utterance>"})


def _qwen_tokenizer():
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<image>"]
    t = byte_level(specials, 420, qwen=True)
    return _fast(t, eos_token="<|im_end|>", pad_token="<|endoftext|>", extra_special_tokens={"image_token": "<image>"})


def _llama_tokenizer():
    t = llama_sentencepiece(["<image>", "<pad>"], 420)
    return _fast(t, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_special_tokens={"image_token": "<image>"})


def _seeded_weights(model: torch.nn.Module, seed: int) -> None:
    """Every parameter from numpy's PCG64 seeded by (seed, name): N(0, 0.5/sqrt(fan_in)) for matrices, 1 + N(0, 0.1) for norms."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            rng = np.random.Generator(np.random.PCG64([seed, zlib.crc32(name.encode())]))
            shape = tuple(p.shape)
            if p.ndim >= 2:
                fan_in = int(np.prod(shape[1:]))
                v = rng.standard_normal(shape) * (0.5 / np.sqrt(fan_in)) * 2.0
            elif "norm" in name or "layernorm" in name or name.endswith("ln.weight"):
                v = (1.0 + 0.1 * rng.standard_normal(shape)) if name.endswith("weight") else 0.1 * rng.standard_normal(shape)
            else:
                v = 0.1 * rng.standard_normal(shape)
            t = torch.from_numpy(np.asarray(v, dtype=np.float32)).to(torch.bfloat16).to(p.dtype)
            p.copy_(t)


def build(name: str, seed: int):
    """(model in float32 with BF16-representable weights, processor) for one family."""
    if name == "smolvlm":
        tok = _smol_tokenizer()
        text = LlamaConfig(vocab_size=len(tok), rope_theta=273768.0, tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **TEXT)
        vision = Idefics3VisionConfig(patch_size=4, **VISION)
        cfg = Idefics3Config(vision_config=vision.to_dict(), text_config=text.to_dict(), scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"), tie_word_embeddings=False)
        model = Idefics3ForConditionalGeneration(cfg)
        seq = (IMAGE // 4) ** 2 // 4
        ip = Idefics3ImageProcessorPil(size={"longest_edge": IMAGE}, max_image_size={"longest_edge": IMAGE}, do_image_splitting=False, resample=1)
        proc = Idefics3Processor(image_processor=ip, tokenizer=tok, image_seq_len=seq, chat_template=SMOL_TEMPLATE)
    elif name == "smolvlm2":
        tok = _smol_tokenizer()
        text = LlamaConfig(vocab_size=len(tok), rope_theta=100000.0, tie_word_embeddings=False, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **TEXT)
        vision = SmolVLMVisionConfig(patch_size=4, **VISION)
        cfg = SmolVLMConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), scale_factor=2, image_token_id=tok.convert_tokens_to_ids("<image>"), tie_word_embeddings=False)
        model = SmolVLMForConditionalGeneration(cfg)
        seq = (IMAGE // 4) ** 2 // 4
        ip = SmolVLMImageProcessorPil(size={"longest_edge": IMAGE}, max_image_size={"longest_edge": IMAGE}, do_image_splitting=False, resample=1)
        cfg_p = {"processor_class": "SmolVLMProcessor", "image_seq_len": seq}
        # SmolVLMProcessor's rule for one image without splitting (as Idefics3's).
        proc = ProcessorParts(ip, tok, SMOL_TEMPLATE, cfg_p, "<fake_token_around_image><global-img>" + "<image>" * seq + "<fake_token_around_image>")
    elif name == "llava-llama":
        tok = _llama_tokenizer()
        text = LlamaConfig(vocab_size=len(tok), tie_word_embeddings=False, bos_token_id=1, eos_token_id=2, pad_token_id=tok.pad_token_id, **TEXT)
        vision = CLIPVisionConfig(patch_size=8, projection_dim=32, **VISION)
        cfg = LlavaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-2, vision_feature_select_strategy="default", image_seq_length=(IMAGE // 8) ** 2)
        model = LlavaForConditionalGeneration(cfg)
        ip = CLIPImageProcessorPil(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
        proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", num_additional_image_tokens=1, chat_template=LLAVA_TEMPLATE)
    elif name == "llava-qwen2":
        tok = _qwen_tokenizer()
        text = Qwen2Config(vocab_size=len(tok), rope_theta=1000000.0, tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **TEXT)
        vision = SiglipVisionConfig(patch_size=8, **VISION)
        cfg = LlavaConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-1, vision_feature_select_strategy="default", image_seq_length=(IMAGE // 8) ** 2 - 1, tie_word_embeddings=True)
        model = LlavaForConditionalGeneration(cfg)
        ip = SiglipImageProcessorPil(size={"height": IMAGE, "width": IMAGE})
        proc = LlavaProcessor(image_processor=ip, tokenizer=tok, patch_size=8, vision_feature_select_strategy="default", num_additional_image_tokens=0, chat_template=QWEN_TEMPLATE)
    elif name == "onevision":
        tok = _qwen_tokenizer()
        text = Qwen2Config(vocab_size=len(tok), rope_theta=1000000.0, tie_word_embeddings=True, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **TEXT)
        vision = SiglipVisionConfig(patch_size=8, **VISION)
        cfg = LlavaOnevisionConfig(vision_config=vision.to_dict(), text_config=text.to_dict(), image_token_index=tok.convert_tokens_to_ids("<image>"), vision_feature_layer=-1, vision_feature_select_strategy="full", image_grid_pinpoints=[[IMAGE, IMAGE]], tie_word_embeddings=True)
        model = LlavaOnevisionForConditionalGeneration(cfg)
        ip = LlavaOnevisionImageProcessorPil(size={"height": IMAGE, "width": IMAGE}, image_grid_pinpoints=[[IMAGE, IMAGE]])
        # LlavaOnevisionProcessor needs a video processor, which needs torchvision (pinned since;
        # the goldens keep the layout they were made with): the folder gets the processor's parts
        # (image processor, tokenizer, chat template, processor_config.json).
        n = (IMAGE // 8) ** 2
        cfg_p = {"processor_class": "LlavaOnevisionProcessor", "num_image_tokens": n, "vision_feature_select_strategy": "full", "vision_aspect_ratio": "anyres_max_9", "image_token": "<image>", "video_token": "<video>"}
        # The app's layout: the base crop's positions + one image_newline row.
        proc = ProcessorParts(ip, tok, QWEN_TEMPLATE, cfg_p, "<image>" * (n + 1))
    else:
        raise ValueError(f"unknown family {name!r} (expected one of {FAMILIES})")
    _seeded_weights(model, seed)
    model.eval()
    return model, proc
