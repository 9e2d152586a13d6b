/**
 * What kind of base model a run's config.baseModel names, decided from its config.json alone
 * (no weights read): the built-in world base, a folder in this project's own checkpoint format
 * (`"format": "mdpo-studio-vlm"`), or a local Hugging Face folder whose `model_type` src/core/hf
 * trains. Anything else is refused with an error naming config.baseModel, the file and the
 * model_type, before a run is created (api runs:create) and again when the engine starts.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SUPPORTED_MODEL_TYPES, type HfModelType } from '../../core/hf/config';
import { BUILTIN_BASE } from '../../shared/schemas';

export type BaseKind = { kind: 'builtin' } | { kind: 'own' } | { kind: 'hf'; modelType: HfModelType };

/** Own-format checkpoints (src/core/model/checkpoint.ts) write this in config.json. */
export const OWN_FORMAT = 'mdpo-studio-vlm';

export class BaseModelError extends Error {
  override name = 'BaseModelError';
}

/** The tfjs engine's view of a base folder; throws BaseModelError with the field, file and model_type. */
export async function baseKind(baseModel: string): Promise<BaseKind> {
  if (baseModel === BUILTIN_BASE) return { kind: 'builtin' };
  const file = join(baseModel, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new BaseModelError(`config.baseModel: no checkpoint at ${baseModel} (expected a folder with config.json and model.safetensors; ${file} cannot be read).`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new BaseModelError(`config.baseModel: ${file} is not valid JSON (${(e as Error).message}).`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new BaseModelError(`config.baseModel: ${file} is not a JSON object.`);
  const cfg = raw as { format?: unknown; model_type?: unknown };
  if (cfg.format === OWN_FORMAT) return { kind: 'own' };
  const supported = Object.keys(SUPPORTED_MODEL_TYPES).join(', ');
  if (typeof cfg.model_type !== 'string') {
    throw new BaseModelError(`config.baseModel: ${file} has no model_type, so ${baseModel} is neither a Hugging Face folder nor this app's checkpoint format; the tfjs engine trains model_type ${supported}.`);
  }
  if (!Object.hasOwn(SUPPORTED_MODEL_TYPES, cfg.model_type)) {
    throw new BaseModelError(
      `config.baseModel: ${baseModel} has model_type "${cfg.model_type}" (${file}), which the tfjs engine does not train; it trains ${supported}. ` +
        'Other architectures train on the torch engine (engine: "torch").',
    );
  }
  return { kind: 'hf', modelType: cfg.model_type as HfModelType };
}
