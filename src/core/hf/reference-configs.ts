/**
 * The architecture keys of real checkpoints' config.json files (as published on the Hugging
 * Face hub; weights are never downloaded), for the memory table in README.md and for tests
 * that the mapping's defaults give the known parameter counts. Keys left out are the
 * transformers config classes' defaults, exactly as in the published files.
 */
export const REFERENCE_CONFIGS: Record<string, Record<string, unknown>> = {
  'SmolVLM-256M': {
    model_type: 'idefics3', scale_factor: 4, image_token_id: 49190, tie_word_embeddings: false,
    vision_config: { model_type: 'idefics3_vision', hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, image_size: 512, patch_size: 16 },
    text_config: { model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_attention_heads: 9, num_hidden_layers: 30, num_key_value_heads: 3, vocab_size: 49280, max_position_embeddings: 8192, rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: false },
  },
  'SmolVLM-500M': {
    model_type: 'idefics3', scale_factor: 4, image_token_id: 49190, tie_word_embeddings: false,
    vision_config: { model_type: 'idefics3_vision', hidden_size: 768, intermediate_size: 3072, num_attention_heads: 12, num_hidden_layers: 12, image_size: 512, patch_size: 16 },
    text_config: { model_type: 'llama', hidden_size: 960, intermediate_size: 2560, num_attention_heads: 15, num_hidden_layers: 32, num_key_value_heads: 5, vocab_size: 49280, max_position_embeddings: 8192, rope_theta: 100000, rms_norm_eps: 1e-5, tie_word_embeddings: false },
  },
  'LLaVA-OneVision-0.5B': {
    model_type: 'llava_onevision', image_token_index: 151646, vision_feature_layer: -1, vision_feature_select_strategy: 'full', tie_word_embeddings: true,
    vision_config: { model_type: 'siglip_vision_model', hidden_size: 1152, intermediate_size: 4304, num_attention_heads: 16, num_hidden_layers: 26, image_size: 384, patch_size: 14 },
    text_config: { model_type: 'qwen2', hidden_size: 896, intermediate_size: 4864, num_attention_heads: 14, num_hidden_layers: 24, num_key_value_heads: 2, vocab_size: 152000, max_position_embeddings: 32768, rope_theta: 1000000, rms_norm_eps: 1e-6, tie_word_embeddings: true },
  },
  'LLaVA-1.5-7B': {
    model_type: 'llava', image_token_index: 32000, vision_feature_layer: -2, vision_feature_select_strategy: 'default', tie_word_embeddings: false,
    vision_config: { model_type: 'clip_vision_model', hidden_size: 1024, intermediate_size: 4096, num_attention_heads: 16, num_hidden_layers: 24, image_size: 336, patch_size: 14, projection_dim: 768 },
    text_config: { model_type: 'llama', max_position_embeddings: 4096, rms_norm_eps: 1e-5, vocab_size: 32064 },
  },
};
