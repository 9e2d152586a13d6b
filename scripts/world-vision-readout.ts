/**
 * Experiment for issue 20 (src/core/world/README.md, "Redesign plan for the mechanism targets"):
 * how well can the vision tower alone tell objects apart after the stage-1 warm-up, per image
 * size and patch grid? Trains only the vision tower + connector + a linear head (no SFT), then
 * reads the head out per object on held-out single-object scenes and on the held-out scenes.
 *
 *   nice -n 19 npx tsx scripts/world-vision-readout.ts --grid 32/8,48/8,32/4 --steps 250
 *   options: --seed 1 --probe 200 (scenes per probe set) --lr 0.003 --batch 64
 */
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../src/core/backend';
import { BUILTIN_SMALL, withOverrides } from '../src/core/model/config';
import { Vlm } from '../src/core/model/model';
import { Rng } from '../src/core/rng';
import { fanInVisionInit, worldModelConfig, worldTokenizer } from '../src/core/world/base';
import { evalScenes, singleObjectScenes } from '../src/core/world/splits';
import { warmUpVision } from '../src/core/world/vision-warmup';

const { values } = parseArgs({
  options: {
    grid: { type: 'string', default: '32/8' },
    steps: { type: 'string', default: '250' },
    seed: { type: 'string', default: '1' },
    probe: { type: 'string', default: '200' },
    lr: { type: 'string', default: '0.003' },
    batch: { type: 'string', default: '64' },
  },
});

async function main(): Promise<void> {
  console.log(describeBackend(await initBackend()));
  const seed = Number(values.seed);
  const pct = (x: number): string => (100 * x).toFixed(1);
  for (const cell of values.grid.split(',')) {
    const [imageSize, patchSize] = cell.split('/').map(Number);
    const config = worldModelConfig(worldTokenizer(), withOverrides(BUILTIN_SMALL, { vision: { imageSize, patchSize } }));
    const model = Vlm.create(config, Rng.derive(seed, 'world/base/init'));
    fanInVisionInit(model, Rng.derive(seed, 'world/base/init-vision'));
    const single = singleObjectScenes(seed, Number(values.probe), { imageSize });
    const started = Date.now();
    const r = await warmUpVision(model, {
      seed,
      steps: Number(values.steps),
      batchSize: Number(values.batch),
      learningRate: Number(values.lr),
      probes: { single, scenes: evalScenes(seed, Number(values.probe), { imageSize }) },
    });
    const fmt = (x: { objects: number; colorAccuracy: number; shapeAccuracy: number; objectAccuracy: number }): string =>
      `${x.objects} objects: color ${pct(x.colorAccuracy)} shape ${pct(x.shapeAccuracy)} both ${pct(x.objectAccuracy)}`;
    console.log(
      `${imageSize}x${imageSize}, patch ${patchSize} (${(imageSize / patchSize) ** 2} image tokens), ${values.steps} steps in ${((Date.now() - started) / 1000).toFixed(0)} s: ` +
        `patch acc ${pct(r.accuracy)}; read-out single-object ${fmt(r.readouts!.single)}; held-out scenes ${fmt(r.readouts!.scenes)}`,
    );
    model.dispose();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
