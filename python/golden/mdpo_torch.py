"""The pieces of the golden computation shared by make_fixtures.py and check_ours.py.

Everything here is plain transformers / PEFT / torch: the forward of each family, the summed
answer log-probs of docs/objective.md (answer tokens + the end token; prompt, image positions and
padding do not count), and the mDPO loss (docs/objective.md#the-objective).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LORA = {"r": 8, "lora_alpha": 16, "lora_dropout": 0.0}
BETA = 0.1
DELTA = 0.0
ADAMW = {"lr": 1e-3, "betas": (0.9, 0.98), "eps": 1e-8, "weight_decay": 0.05}
MAX_GRAD_NORM = 1.0

# The regex the app writes into adapter_config.json (src/core/hf/adapter.ts, peftTargetRegex),
# over every linear of the language model, for both module spellings.
_LINEARS = r"\.layers\.\d+\.(?:self_attn\.(?:q_proj|k_proj|v_proj|o_proj)|mlp\.(?:gate_proj|up_proj|down_proj))"
TARGETS = {
    "smolvlm": r"model\.text_model" + _LINEARS,
    "smolvlm2": r"model\.text_model" + _LINEARS,
    "llava-llama": r"(?:language_model\.model|model\.language_model)" + _LINEARS,
    "llava-qwen2": r"(?:language_model\.model|model\.language_model)" + _LINEARS,
    "onevision": r"(?:language_model\.model|model\.language_model)" + _LINEARS,
}


def inner(model):
    """The transformers model under a PeftModel (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def onevision_base_crop_logits(model, input_ids: torch.Tensor, pixel_values: torch.Tensor) -> torch.Tensor:
    """LLaVA-OneVision with ONE base crop + its image_newline row (no anyres tiles), from the
    model's own modules: transformers' image path always tiles (anyres), the app uses the base
    crop only (src/core/hf/README.md), so the image features are assembled here:
    vision_tower hidden_states[vision_feature_layer] ("full") -> multi_modal_projector -> + image_newline.
    input_ids [1, T]; pixel_values [1, 3, S, S]. Returns logits [1, T, V]."""
    m = inner(model).model
    cfg = inner(model).config
    hs = m.vision_tower(pixel_values, output_hidden_states=True).hidden_states[cfg.vision_feature_layer]  # [1, N, Dv]
    feats = m.multi_modal_projector(hs)  # [1, N, D]
    feats = torch.cat([feats, m.image_newline[None, None, :].to(feats.dtype)], dim=1)  # [1, N + 1, D]
    embeds = inner(model).get_input_embeddings()(input_ids)  # [1, T, D]
    mask = (input_ids == cfg.image_token_index)[..., None].expand_as(embeds)
    embeds = embeds.masked_scatter(mask, feats.reshape(-1))
    return model(inputs_embeds=embeds, attention_mask=torch.ones_like(input_ids)).logits


def logits_of(family: str, model, ids: list[int], pixels: dict) -> torch.Tensor:
    """Logits [T, V] of one full sequence (prompt with its image run + answer)."""
    input_ids = torch.tensor([ids], dtype=torch.long)
    if family == "onevision":
        return onevision_base_crop_logits(model, input_ids, pixels["pixel_values"])[0]
    return model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), **pixels).logits[0]


def answer_logp(logits: torch.Tensor, ids: list[int], n_answer: int) -> torch.Tensor:
    """Sum of log p(answer token | everything before it) over the last n_answer tokens (end token included)."""
    T = len(ids)
    logp = F.log_softmax(logits[T - n_answer - 1 : T - 1].float(), dim=-1)  # [n, V]
    target = torch.tensor(ids[T - n_answer :], dtype=torch.long)
    return logp.gather(1, target[:, None]).sum()


def mdpo_loss(pc, pr, pi, rc, rr, ri, beta: float = BETA, delta: float = DELTA):
    """docs/objective.md: -log sigmoid(beta z1) - log sigmoid(beta z2) - log sigmoid(beta z3), as softplus(-x)."""
    r_w = pc - rc
    z1 = r_w - (pr - rr)
    z2 = r_w - (pi - ri)
    z3 = r_w - delta
    return F.softplus(-beta * z1) + F.softplus(-beta * z2) + F.softplus(-beta * z3)
