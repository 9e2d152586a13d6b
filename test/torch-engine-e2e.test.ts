/**
 * The torch engine end to end through the app (issue 15's "done when"): a tiny checkpoint that
 * transformers builds (see FAMILY) in a local folder, DPO and mDPO side by side through the API, the real supervisor
 * and store, `python -m mdpo_torch.trainer` as the trainer; the DPO run is paused and resumed,
 * the mDPO run is SIGKILLed mid-run,
 * resumed, and ends with the same adapters and curves as an uninterrupted run (fp32, CPU); the
 * exported adapter loads in PEFT.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBackend, type Backend } from '../src/main/backend-context';
import { runCli } from '../src/main/cli';
import { decodeSafetensors } from '../src/core/model/safetensors';
import type { ApiChannel, ApiEvent, MetricSeries } from '../src/shared/api';
import type { MethodInput, TrainConfigInput } from '../src/shared/schemas';
import { callApi, tempDir } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';
import { buildTinyCheckpoint, writeGradientDataset } from './torch-fixtures';

// The target: a tiny Qwen2-VL folder built by transformers (python/tests/builders.py;
// its processor needs torchvision, pinned in python/requirements.txt).
// MDPO_TORCH_E2E_FAMILY=llava (or another builder family) runs the same test on another family.
const FAMILY = process.env.MDPO_TORCH_E2E_FAMILY ?? 'qwen2_vl';
const STEPS = 6;

const t = tempDir('mdpo-torch-e2e-');
let backend: Backend;
let model: string;
let datasetId: number;
const events: ApiEvent[] = [];

const call = <C extends ApiChannel>(channel: C, input: MethodInput<C>) => callApi(backend, channel, input);

const config = (): TrainConfigInput => ({
  datasetId,
  engine: 'torch',
  baseModel: model,
  seed: 3,
  maxSteps: STEPS,
  batchSize: 2,
  gradAccum: 1,
  checkpointEvery: 2,
  learningRate: 0.01,
  lora: { rank: 8, alpha: 16 },
  // fp32 on CPU whatever the machine: the resume comparison is exact to 1e-5.
  torch: { python: PYTHON, imageSize: 56, device: 'cpu', precision: 'fp32' },
});

const adapter = (runId: number) => decodeSafetensors(readFileSync(join(backend.store.getRun(runId)!.runDir, 'adapter', 'adapter_model.safetensors')));
const series = async (runId: number) => new Map((await call('runs:metrics', { runId })).series.map((s: MetricSeries) => [s.name, s]));

describeWithPython(`torch engine through the app${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    model = buildTinyCheckpoint(FAMILY, join(t.dir, FAMILY));
    backend = openBackend({ home: join(t.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT });
    backend.subscribe((e) => events.push(e));
    datasetId = (await call('datasets:import', { path: await writeGradientDataset(t.dir, 4) })).id;
  });
  afterAll(async () => {
    await backend?.close();
    t.cleanup();
  });

  it('DPO and mDPO side by side; pause/resume DPO; kill -9 the mDPO engine mid-run, resume, finish as if never killed; the adapter loads in PEFT', async () => {
    const [dpo, mdpo] = await call('runs:create', { config: config(), pair: true });
    // The same mDPO run, never interrupted: the reference for the resumed one.
    const [plain] = await call('runs:create', { config: { ...config(), variant: 'mdpo' } });
    // Pause the DPO run before its first step (the command waits for the engine to start).
    const dpoPaused = new Promise<void>((resolve) => backend.subscribe((e) => e.type === 'run:status' && e.runId === dpo!.id && e.status === 'paused' && resolve()));
    await call('runs:pause', { runId: dpo!.id });
    expect([dpo!.variant, mdpo!.variant, dpo!.pairId]).toEqual(['dpo', 'mdpo', mdpo!.pairId]);
    // SIGKILL the mDPO engine right after its step-2 checkpoint is recorded (it is then inside step 3).
    let killedPid: number | null = null;
    const off = backend.subscribe((e) => {
      if (killedPid === null && e.type === 'run:checkpoint' && e.runId === mdpo!.id && e.step === 2) {
        killedPid = backend.store.getRun(mdpo!.id)!.trainerPid!;
        process.kill(killedPid, 'SIGKILL');
      }
    });
    await dpoPaused;
    const pausedAt = backend.store.getRun(dpo!.id)!.step;
    await new Promise((r) => setTimeout(r, 1500));
    expect(backend.store.getRun(dpo!.id)!.status).toBe('paused');
    expect(Math.max(0, ...((await series(dpo!.id)).get('loss')?.steps ?? []))).toBe(pausedAt);
    await call('runs:resume', { runId: dpo!.id });
    expect(await backend.supervisor.waitFor(dpo!.id)).toBe('completed');
    expect(await backend.supervisor.waitFor(mdpo!.id)).toBe('interrupted');
    off();
    const killed = await call('runs:get', { runId: mdpo!.id });
    expect(killed.error!.message).toBe('The trainer process was killed by SIGKILL before the run finished. Resume continues from the last checkpoint.');
    expect(killed.backend).toBe('torch cpu (float32)');
    expect(killed.lastCheckpointStep).toBeGreaterThanOrEqual(2);
    expect(killed.lastCheckpointStep).toBeLessThan(STEPS);

    await call('runs:resume', { runId: mdpo!.id });
    expect(await backend.supervisor.waitFor(mdpo!.id)).toBe('completed');
    expect(backend.store.getRun(mdpo!.id)!.trainerPid).toBeNull();

    expect(await backend.supervisor.waitFor(plain!.id)).toBe('completed');

    // Same curves, step by step, and the same adapters.
    const resumed = await series(mdpo!.id);
    const reference = await series(plain!.id);
    expect([...resumed.keys()].sort()).toEqual([...reference.keys()].sort());
    for (const [name, s] of reference) {
      expect(resumed.get(name)!.steps, name).toEqual([1, 2, 3, 4, 5, 6]);
      resumed.get(name)!.values.forEach((v, i) => expect(Math.abs((v as number) - (s.values[i] as number)), `${name} at step ${i + 1}`).toBeLessThan(1e-5));
    }
    const a = adapter(mdpo!.id).tensors;
    const b = adapter(plain!.id).tensors;
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    let maxDiff = 0;
    for (const [name, ta] of a) ta.data.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b.get(name)!.data[i]!))));
    expect(maxDiff).toBeLessThan(1e-5);
    // Training moved the adapters (PEFT initialises lora_B to zero).
    expect([...a].filter(([n]) => n.includes('lora_B')).some(([, tb]) => tb.data.some((v) => v !== 0))).toBe(true);

    // m and m' were rendered once per run by the app (src/main/python/images.ts): m' only where the loss uses it.
    const manifest = (runId: number) => JSON.parse(readFileSync(join(backend.store.getRun(runId)!.runDir, 'torch-images', 'manifest.json'), 'utf8')) as { size: number[]; pairs: { negatives: string[] }[] };
    expect(manifest(dpo!.id).pairs.map((p) => p.negatives.length)).toEqual([0, 0, 0, 0]);
    expect(manifest(mdpo!.id).pairs.map((p) => p.negatives.length)).toEqual([1, 1, 1, 1]);
    expect(manifest(mdpo!.id).size).toEqual([56, 56]);
    // The resumed run reused its images; the log says so.
    expect(readFileSync(join(backend.store.getRun(mdpo!.id)!.runDir, 'engine.log'), 'utf8')).toMatch(/\[app\] rendered [^\n]*\n[\s\S]*\[app\] reused [^\n]*: 4 pairs at 56x56 px, 1 m' per pair/);

    // The metrics of docs/objective.md, by variant; the loss is finite at every step.
    const dpoSeries = await series(dpo!.id);
    for (const name of ['loss', 'loss/dpo', 'rewards/chosen', 'rewards/rejected', 'rewards/margins', 'rewards/accuracies', 'logps/chosen', 'logps/rejected', 'grad_norm', 'learning_rate']) {
      expect(dpoSeries.has(name) && resumed.has(name), name).toBe(true);
    }
    for (const name of ['loss/conditional', 'rewards/imageless_margins', 'logps/imageless_chosen']) {
      expect([dpoSeries.has(name), resumed.has(name)], name).toEqual([false, true]);
    }
    for (const v of [...dpoSeries.get('loss')!.values, ...resumed.get('loss')!.values]) expect(Number.isFinite(v)).toBe(true);
    expect(events.some((e) => e.type === 'run:progress' && e.runId === dpo!.id && e.step === STEPS && e.totalSteps === STEPS)).toBe(true);

    // Export through the CLI, load in PEFT: the weights PEFT holds are the file's, and they change the output.
    const out = join(t.dir, 'export');
    const cli = { out: () => {}, err: () => {}, isTTY: false };
    expect(await runCli(['runs', 'export', String(mdpo!.id), '--out', out, '--what', 'adapter', '--home', join(t.dir, 'home')], cli)).toBe(0);
    const peft = JSON.parse(
      execFileSync(PYTHON!, ['-c', PEFT_CHECK, model, join(out, 'adapter')], { encoding: 'utf8', env: { ...process.env, HF_HUB_OFFLINE: '1' }, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!,
    ) as { tensors: number; maxDiffVsFile: number; outputChange: number };
    expect(peft.tensors).toBe(a.size);
    expect(peft.maxDiffVsFile).toBe(0);
    expect(peft.outputChange).toBeGreaterThan(1e-6);
  });
});

/** Loads base + adapter with PEFT; compares PEFT's LoRA tensors with the file; logits with the adapter on vs off. */
const PEFT_CHECK = `
import json, sys, torch
from pathlib import Path
from peft import PeftModel, get_peft_model_state_dict
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText
base, adapter = sys.argv[1], sys.argv[2]
model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
peft = PeftModel.from_pretrained(model, adapter)
peft.eval()
held = get_peft_model_state_dict(peft)
saved = load_file(str(Path(adapter) / "adapter_model.safetensors"))
diff = max(float((held[k] - saved[k]).abs().max()) for k in saved)
ids = torch.tensor([[1, 2, 3, 4, 5]])
with torch.no_grad():
    on = peft(input_ids=ids).logits
    with peft.disable_adapter():
        off = peft(input_ids=ids).logits
print(json.dumps({"tensors": len(saved), "maxDiffVsFile": diff, "outputChange": float((on - off).abs().max())}))
`;
