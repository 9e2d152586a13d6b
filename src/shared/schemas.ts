/**
 * Input schemas for every API method, and the training configuration with the paper's defaults (docs/objective.md#defaults).
 *
 * The one place where inputs are validated: the IPC handlers, the HTTP server and the CLI
 * all parse with these before a handler runs, and the renderer may use the same schemas to
 * refuse a form value with the same reason the back end would give. zod is bundled into the
 * renderer; the preload must NOT import this file (a sandboxed preload cannot require zod).
 */
import { z } from 'zod';
import type { ApiChannel } from './api';

const id = z.number().int().positive();

// ---------------------------------------------------------------------------------------
// Training configuration
// ---------------------------------------------------------------------------------------

export const VARIANTS = ['dpo', 'mdpo', 'mdpo-no-conditional', 'mdpo-no-anchor', 'dpo-no-image'] as const;
export const ANCHOR_PLACEMENTS = ['chosen', 'chosen+rejected', 'chosen+rejected+negative'] as const;
export const NEGATIVE_STRATEGIES = ['crop', 'random-image', 'augment'] as const;
export const SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export const BACKEND_CHOICES = ['auto', 'cuda', 'webgpu', 'webgpu-software', 'tfjs-node', 'wasm', 'cpu'] as const;
/** Which engine trains a run: tfjs (src/core, in Node) or torch (python/mdpo_torch: PyTorch + transformers + PEFT). */
export const ENGINES = ['tfjs', 'torch'] as const;
export const TORCH_DEVICES = ['auto', 'cuda', 'mps', 'cpu'] as const;
export const TORCH_PRECISIONS = ['auto', 'bf16', 'fp32'] as const;

/** Which base model a run starts from: the built-in world's shipped base, or a checkpoint folder. */
export const BUILTIN_BASE = 'builtin:world-base' as const;

export const negativeSchema = z
  .object({
    /** crop: keep a random region of cropMin..cropMax of the area, resized back (paper: 0.01..0.2). */
    strategy: z.enum(NEGATIVE_STRATEGIES).default('crop'),
    cropMin: z.number().gt(0).max(1).default(0.01),
    cropMax: z.number().gt(0).max(1).default(0.2),
    /** Same m' for a pair in every epoch (lets reference log-probs be cached for the run). */
    fixedPerPair: z.boolean().default(true),
  })
  .refine((n) => n.cropMin <= n.cropMax, {
    message: 'cropMin must not exceed cropMax',
    path: ['cropMin'],
  });

export const loraSchema = z.object({
  rank: z.number().int().min(1).max(1024).default(64),
  alpha: z.number().positive().default(128),
  dropout: z.number().min(0).max(0.9).default(0),
  /** Empty = every linear layer of the language model (the paper's choice). */
  targets: z.array(z.string().min(1)).default([]),
});

/** Settings only the torch engine reads (python/PROTOCOL.md, section 3); `backend` is the tfjs engine's. */
export const torchSchema = z.object({
  /** The interpreter; null = $MDPO_PYTHON, else <app>/.venv, else python3 on PATH (`mdpo doctor`). */
  python: z.string().min(1).nullable().default(null),
  /** Filled in by the supervisor: the run's folder of m and m' PNGs (never set by hand). */
  negativesDir: z.string().min(1).nullable().default(null),
  /** Side of the square m and m' images; null = the model's processor size where the app reads the folder, else 448. */
  imageSize: z.number().int().min(8).max(4096).nullable().default(null),
  maxLength: z.number().int().min(8).max(1 << 20).default(2048),
  maxPromptLength: z.number().int().min(1).max(1 << 20).default(1024),
  maxAnswerLength: z.number().int().min(2).max(1 << 20).default(1024),
  /** auto: bf16 autocast where the device supports it, fp32 otherwise and on CPU. */
  precision: z.enum(TORCH_PRECISIONS).default('auto'),
  /** auto: CUDA, else Apple MPS, else CPU. */
  device: z.enum(TORCH_DEVICES).default('auto'),
  gradientCheckpointing: z.boolean().default(true),
  /** Data-parallel processes on this machine (python/mdpo_torch/distributed.py); 1 = one process. */
  processes: z.number().int().min(1).max(64).default(1),
  /** GPUs for the processes: 'all' = one process per visible GPU, a list = one per listed CUDA index; null = `processes`. */
  devices: z.union([z.literal('all'), z.array(z.number().int().min(0).max(1023)).min(1).max(64)]).nullable().default(null),
}).superRefine((t, ctx) => {
  if (t.devices === null) {
    if (t.processes > 1 && t.device === 'mps') ctx.addIssue({ code: 'custom', path: ['processes'], message: `Apple MPS runs one process; set torch.processes to 1 (got ${t.processes}).` });
    return;
  }
  if (t.device === 'cpu' || t.device === 'mps') ctx.addIssue({ code: 'custom', path: ['devices'], message: `torch.devices picks GPUs, but torch.device is "${t.device}"; use torch.processes for processes on the ${t.device === 'cpu' ? 'CPU' : 'MPS device'}.` });
  if (Array.isArray(t.devices) && new Set(t.devices).size !== t.devices.length) ctx.addIssue({ code: 'custom', path: ['devices'], message: `torch.devices lists a GPU twice: ${t.devices.join(',')}.` });
  const n = t.devices === 'all' ? null : t.devices.length;
  if (t.processes > 1 && t.processes !== n) ctx.addIssue({ code: 'custom', path: ['processes'], message: `torch.processes (${t.processes}) and torch.devices (${t.devices === 'all' ? 'all' : t.devices.join(',')}) disagree: one process runs per GPU, so set only one of them.` });
});

export const trainConfigSchema = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  /** A dataset id from datasets:list. */
  datasetId: id,
  /** BUILTIN_BASE or a checkpoint folder (config.json + model.safetensors). */
  baseModel: z.string().min(1).default(BUILTIN_BASE),
  variant: z.enum(VARIANTS).default('mdpo'),
  anchor: z.enum(ANCHOR_PLACEMENTS).default('chosen'),
  beta: z.number().positive().max(100).default(0.1),
  delta: z.number().min(-1000).max(1000).default(0),
  /** Term weights; the variant switches terms off, these scale the ones that are on. */
  weights: z
    .object({
      dpo: z.number().min(0).default(1),
      conditional: z.number().min(0).default(1),
      anchor: z.number().min(0).default(1),
    })
    .prefault({}),
  negative: negativeSchema.prefault({}),
  lora: loraSchema.prefault({}),
  /** null = the base model's documented default (1e-5 for real models). */
  learningRate: z.number().positive().max(1).nullable().default(null),
  schedule: z.enum(SCHEDULES).default('cosine'),
  warmupRatio: z.number().min(0).max(1).default(0.1),
  epochs: z.number().int().min(1).max(1000).default(3),
  batchSize: z.number().int().min(1).max(1024).default(4),
  gradAccum: z.number().int().min(1).max(1024).default(8),
  weightDecay: z.number().min(0).max(1).default(0.05),
  adamBeta2: z.number().gt(0).lt(1).default(0.98),
  maxGradNorm: z.number().positive().default(1),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  /**
   * Hold out this many records of the dataset for evaluation (drawn with `seed`, the same ones
   * on every resume): never trained on; they become an evaluation set of the run.
   */
  holdOut: z.number().int().min(0).max(1_000_000).default(0),
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  /** Optimizer steps between checkpoints (0 = only at the end). */
  checkpointEvery: z.number().int().min(0).default(25),
  /** Stop after this many optimizer steps (null = epochs decide). */
  maxSteps: z.number().int().positive().nullable().default(null),
  /** tfjs: the embedded engine (built-in world, small models, no Python); torch: real VLMs on GPUs. */
  engine: z.enum(ENGINES).default('tfjs'),
  torch: torchSchema.prefault({}),
}).superRefine((c, ctx) => {
  if (c.engine === 'torch' && c.baseModel === BUILTIN_BASE) {
    ctx.addIssue({ code: 'custom', path: ['baseModel'], message: 'The torch engine trains a Hugging Face checkpoint folder; the built-in world base runs on the tfjs engine.' });
  }
  if (c.engine === 'torch' && !['auto', 'cuda', 'cpu'].includes(c.backend)) {
    ctx.addIssue({ code: 'custom', path: ['backend'], message: `The torch engine runs on auto, cuda or cpu (Apple MPS: torch.device "mps"); "${c.backend}" is a tfjs backend.` });
  }
});

/** What a caller sends (defaults optional). */
export type TrainConfigInput = z.input<typeof trainConfigSchema>;
/** What a run stores and the trainer receives (every default filled in). */
export type TrainConfig = z.output<typeof trainConfigSchema>;

// ---------------------------------------------------------------------------------------
// Method inputs, keyed by IPC channel
// ---------------------------------------------------------------------------------------

const runRef = z.object({ runId: id });
const datasetRef = z.object({ datasetId: id });

export const inputSchemas = {
  'app:info': z.void(),
  'app:pickPath': z.object({
    kind: z.enum(['file', 'folder']),
    title: z.string().max(200).optional(),
  }),
  'app:doctor': z.object({ refresh: z.boolean().default(false) }).prefault({}),

  'datasets:import': z.object({
    path: z.string().min(1),
    /** Display name (default: the file or folder name). The format is detected. */
    name: z.string().trim().min(1).max(200).optional(),
  }),
  'datasets:list': z.void(),
  'datasets:get': datasetRef,
  'datasets:records': datasetRef.extend({
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(200).default(50),
  }),
  'datasets:report': datasetRef,
  'datasets:negativePreview': datasetRef.extend({
    recordIndex: z.number().int().min(0),
    strategy: z.enum(NEGATIVE_STRATEGIES).default('crop'),
    cropMin: z.number().gt(0).max(1).default(0.01),
    cropMax: z.number().gt(0).max(1).default(0.2),
    count: z.number().int().min(1).max(16).default(4),
    seed: z.number().int().min(0).default(0),
    /** Longest side of the preview PNGs. */
    size: z.number().int().min(16).max(1024).default(160),
  }).refine((p) => p.cropMin <= p.cropMax, { message: 'cropMin must not exceed cropMax', path: ['cropMin'] }),
  'datasets:delete': datasetRef,

  'runs:create': z.object({
    config: trainConfigSchema,
    /** true: start a matched pair, a dpo and an mdpo run with identical settings and seed. */
    pair: z.boolean().default(false),
  }),
  'runs:list': z.void(),
  'runs:get': runRef,
  'runs:metrics': runRef.extend({
    /** Only these metric names (default: all). */
    names: z.array(z.string().min(1)).optional(),
    /** Only steps > afterStep (for incremental polling). */
    afterStep: z.number().int().min(-1).default(-1),
  }),
  'runs:pause': runRef,
  'runs:resume': runRef,
  'runs:cancel': runRef,
  'runs:delete': runRef,
  'runs:diff': z.object({ runIds: z.array(id).min(2).max(16) }),
  /** A self-contained torch-engine job folder for another machine or a cluster (src/main/jobs). */
  'runs:exportJob': runRef.extend({
    outDir: z.string().min(1),
    processes: z.number().int().min(1).max(1024).default(1),
    copyModel: z.boolean().default(true),
  }),
  /** An exported job that ran elsewhere, back as a run (completed, or interrupted and resumable). */
  'runs:importJob': z.object({ dir: z.string().min(1) }),
  'runs:evaluate': runRef.extend({
    /** Held-out scenes of the built-in world to describe (each also gets POPE questions). */
    scenes: z.number().int().min(1).max(2000).default(50),
    seed: z.number().int().min(0).default(0),
  }),
  'runs:evaluations': runRef,
  'runs:outputs': runRef.extend({
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(100),
    onlyHallucinated: z.boolean().default(false),
  }),
  'runs:ask': runRef.extend({
    /** An image reference from a record or an output (see ImageRef). */
    image: z.string().min(1),
    question: z.string().trim().min(1).max(2000),
    maxTokens: z.number().int().min(1).max(512).default(64),
  }),

  'evalsets:import': z.object({
    /** A probe file (.jsonl / .json) or a folder holding exactly one. */
    path: z.string().min(1),
    name: z.string().trim().min(1).max(200).optional(),
  }),
  'evalsets:fromRun': runRef,
  'evalsets:list': z.void(),
  'evalsets:get': z.object({ setId: id }),
  'evalsets:delete': z.object({ setId: id }),
  'answers:models': z.void(),
  'answers:start': z.object({
    setId: id,
    /** Model keys from answers:models (base:<runId>, run:<runId>). */
    models: z.array(z.string().regex(/^(base|run):\d+$/, 'must be base:<runId> or run:<runId>')).min(1).max(16),
    maxTokens: z.number().int().min(1).max(512).default(64),
    /** 0 = greedy (default); above 0, sampling with `seed`. */
    temperature: z.number().min(0).max(5).default(0),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  }),
  'answers:jobs': z.object({ setId: id }),
  'answers:cancel': z.object({ jobId: id }),
  'inspect:page': z.object({
    setId: id,
    modelA: z.string().regex(/^(base|run):\d+$/, 'must be base:<runId> or run:<runId>'),
    modelB: z.string().regex(/^(base|run):\d+$/, 'must be base:<runId> or run:<runId>'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(500).default(200),
  }),
  'inspect:mark': z.object({ setId: id, answerId: id, start: z.number().int().min(0), end: z.number().int().min(1) }).refine((m) => m.end > m.start, { message: 'end must be after start', path: ['end'] }),
  'inspect:unmark': z.object({ setId: id, markId: id }),
  'inspect:verdict': z.object({
    setId: id,
    answerA: id,
    answerB: id,
    /** null clears the verdict (the note stays). */
    verdict: z.enum(['a', 'b', 'tie', 'both-wrong']).nullable(),
    note: z.string().max(4000).default(''),
  }),
  'inspect:undo': z.object({ setId: id }),
  'inspect:exportPairs': z.object({
    setId: id,
    modelA: z.string().regex(/^(base|run):\d+$/),
    modelB: z.string().regex(/^(base|run):\d+$/),
    /** A new or empty folder: pairs.jsonl + images/. */
    dir: z.string().min(1),
    /** Also import the folder as a dataset. */
    import: z.boolean().default(false),
  }),
  'inspect:exportJudgments': z.object({
    setId: id,
    modelA: z.string().regex(/^(base|run):\d+$/),
    modelB: z.string().regex(/^(base|run):\d+$/),
    path: z.string().min(1),
    format: z.enum(['csv', 'jsonl']).default('csv'),
  }),
  'inspect:report': z.object({
    setId: id,
    modelA: z.string().regex(/^(base|run):\d+$/),
    modelB: z.string().regex(/^(base|run):\d+$/),
    path: z.string().min(1),
  }),
  'images:get': z.object({ ref: z.string().min(1), size: z.number().int().min(16).max(2048).optional() }),

  'demo:start': z
    .object({
      /** quick: a few steps (tests, first look); full: the default demo settings. */
      preset: z.enum(['quick', 'full']).default('full'),
    })
    .prefault({}),
  'demo:cancel': z.void(),
} satisfies Record<ApiChannel, z.ZodType>;

export type InputSchemas = typeof inputSchemas;
/** What a caller passes to a method. */
export type MethodInput<C extends ApiChannel> = z.input<InputSchemas[C]>;
/** What a handler receives after validation (defaults filled in). */
export type ParsedInput<C extends ApiChannel> = z.output<InputSchemas[C]>;

export interface FieldIssue {
  /** Dotted path of the offending field, e.g. "config.beta". "" for the whole input. */
  field: string;
  message: string;
}

/** Turns a zod error into field-named issues (the first is the one reported). */
export function describeIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: issue.path.map(String).join('.'),
    message: issue.message,
  }));
}
