/**
 * LLaVA with SigLIP (no class token; "default" strategy drops the first patch) -> mlp2x_gelu ->
 * Qwen2 (q/k/v biases, tied head), and LLaVA-OneVision's base crop (+ image_newline row).
 */
import { familySuite } from '../src/core/hf/testing/suite';

familySuite('llava-qwen2', {
  fdParams: ['vision_tower.vision_model.embeddings.patch_embedding.weight', 'multi_modal_projector.linear_2.weight'],
});

familySuite('onevision', {
  fdParams: ['image_newline', 'vision_tower.vision_model.encoder.layers.2.mlp.fc1.weight'],
});
