/** LLaVA-1.5 architecture: CLIP (class token, pre_layrnorm, feature layer -2, quick_gelu) -> mlp2x_gelu -> Llama. */
import { familySuite } from '../src/core/hf/testing/suite';

familySuite('llava-llama', {
  fdParams: [
    'multi_modal_projector.linear_1.weight',
    'vision_tower.vision_model.embeddings.class_embedding',
    'vision_tower.vision_model.pre_layrnorm.weight',
  ],
});
