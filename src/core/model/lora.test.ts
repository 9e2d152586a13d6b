import { promises as fs } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { saveAdapter } from './checkpoint';
import { DEFAULT_LORA, preferenceLora } from './lora';
import { Vlm } from './model';
import { TINY } from './test-utils';

const dir = await fs.mkdtemp(join(os.tmpdir(), 'mdpo-lora-'));
afterAll(() => fs.rm(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

describe('LoRA dropout in preference training', () => {
  // Preference training never applies dropout (docs/objective.md; the loop's test "dropout is off during
  // preference training" pins that), so the adapter folder must say 0, not the requested value.
  it('adapters for preference training carry dropout 0, and adapter_config.json says so', async () => {
    const { config, note } = preferenceLora({ ...DEFAULT_LORA, rank: 2, alpha: 4, dropout: 0.05 });
    expect(config).toEqual({ ...DEFAULT_LORA, rank: 2, alpha: 4, dropout: 0 });
    expect(note).toBe(
      "lora.dropout 0.05 is not applied in preference training (dropout is off, as in docs/objective.md and TRL's DPOTrainer); the adapters record lora_dropout 0",
    );
    const model = Vlm.create(TINY, new Rng(1));
    model.addLora(config, new Rng(2));
    await saveAdapter(join(dir, 'adapter'), model);
    model.dispose();
    const written = JSON.parse(await fs.readFile(join(dir, 'adapter', 'adapter_config.json'), 'utf8')) as { lora_dropout: number };
    expect(written.lora_dropout).toBe(0);
    expect(preferenceLora({ ...DEFAULT_LORA }).note).toBeNull();
  });
});
