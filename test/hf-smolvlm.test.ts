/** SmolVLM / Idefics3: SigLIP (no class token) -> pixel shuffle -> Llama, in the HF layout. */
import { familySuite } from '../src/core/hf/testing/suite';

familySuite('smolvlm', {
  fdParams: [
    'model.connector.modality_projection.proj.weight',
    'model.vision_model.embeddings.patch_embedding.weight',
    'model.vision_model.post_layernorm.weight',
  ],
});
