/**
 * The base model for the browser test: the shipped built-in base (resources/base-model) when it
 * is there; otherwise a seeded, untrained model of the same architecture and the world
 * tokenizer, written as an ordinary checkpoint folder that the run form's "Checkpoint folder…"
 * option points at. Either way the trainer process loads real weights from disk.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../src/core/backend';
import { saveCheckpoint } from '../../src/core/model/checkpoint';
import { Vlm } from '../../src/core/model/model';
import { Rng } from '../../src/core/rng';
import { worldModelConfig, worldTokenizer } from '../../src/core/world/base';
import { ROOT } from './harness';

export const SHIPPED_BASE = join(ROOT, 'resources', 'base-model');

/** null: use the built-in base; else the folder of a fresh checkpoint to type into the form. */
export async function baseModelForTest(dir: string): Promise<string | null> {
  if (existsSync(join(SHIPPED_BASE, 'config.json'))) return null;
  await initBackend('cpu');
  const tokenizer = worldTokenizer();
  const model = Vlm.create(worldModelConfig(tokenizer), Rng.derive(1, 'e2e/untrained-base'));
  await saveCheckpoint(dir, model, { tokenizer, metadata: { source: 'mdpo-studio e2e: untrained world-size model' } });
  return dir;
}
