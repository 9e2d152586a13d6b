/**
 * The new-run form as plain data: one string/boolean value per dotted config path, converted
 * to a TrainConfigInput and checked with the same zod schema the back end uses, so a value is
 * refused here with the reason the server would give.
 */
import {
  ANCHOR_PLACEMENTS,
  BACKEND_CHOICES,
  BUILTIN_BASE,
  NEGATIVE_STRATEGIES,
  SCHEDULES,
  VARIANTS,
  trainConfigSchema,
  type TrainConfigInput,
} from '../../../shared/schemas';

export type FormValues = Record<string, string | boolean>;
export type FieldErrors = Record<string, string>;

type Kind = 'int' | 'number' | 'optional-number' | 'text' | 'list' | 'bool' | 'choice';

export interface FieldSpec {
  path: string;
  label: string;
  help: string;
  kind: Kind;
  options?: readonly string[];
  step?: string;
}

export interface FieldGroup {
  title: string;
  fields: FieldSpec[];
}

const f = (path: string, label: string, kind: Kind, help: string, extra: Partial<FieldSpec> = {}): FieldSpec => ({ path, label, kind, help, ...extra });

/** Every field, in form order, with its one-line explanation (docs/objective.md). */
export const FIELD_GROUPS: FieldGroup[] = [
  {
    title: 'Objective',
    fields: [
      f('variant', 'Variant', 'choice', 'Which terms are on: dpo = z1; mdpo = z1+z2+z3; ablations drop one; dpo-no-image removes the image.', { options: VARIANTS }),
      f('beta', 'β (beta)', 'number', 'Scale of the implicit reward inside every sigmoid (paper: 0.1).', { step: 'any' }),
      f('delta', 'δ (delta)', 'number', 'Anchor threshold: z3 = r(y_w|m) − δ keeps the chosen reward above it (paper: 0).', { step: 'any' }),
      f('anchor', 'Anchor on', 'choice', 'Where the anchor applies (paper table 4; default: the chosen answer).', { options: ANCHOR_PLACEMENTS }),
      f('weights.dpo', 'Weight: DPO', 'number', 'Scales −log σ(β·z1), the standard preference term.', { step: 'any' }),
      f('weights.conditional', 'Weight: conditional', 'number', 'Scales −log σ(β·z2): same answer, corrupted image m′ must score lower.', { step: 'any' }),
      f('weights.anchor', 'Weight: anchor', 'number', 'Scales −log σ(β·z3): keeps the chosen reward positive.', { step: 'any' }),
    ],
  },
  {
    title: 'Hard negative m′',
    fields: [
      f('negative.strategy', 'Strategy', 'choice', 'crop: keep a random region and resize back; random-image: another image; augment: MoCo-v2 style.', { options: NEGATIVE_STRATEGIES }),
      f('negative.cropMin', 'Crop area min', 'number', 'Smallest share of the area kept by the crop (paper: 0.01).', { step: 'any' }),
      f('negative.cropMax', 'Crop area max', 'number', 'Largest share of the area kept (paper: 0.2, "crop 0–20%").', { step: 'any' }),
      f('negative.fixedPerPair', 'Same m′ every epoch', 'bool', 'Draw m′ once per pair, so reference log-probs are cached for the run.'),
    ],
  },
  {
    title: 'LoRA',
    fields: [
      f('lora.rank', 'Rank', 'int', 'Rank of the adapters (paper: 64).'),
      f('lora.alpha', 'Alpha', 'number', 'Scaling α; the update is scaled by α/rank (paper: 128).', { step: 'any' }),
      f('lora.dropout', 'Dropout', 'number', 'Adapter dropout (off during preference training).', { step: 'any' }),
      f('lora.targets', 'Targets', 'list', 'Comma-separated module names; empty = every linear layer of the language model.'),
    ],
  },
  {
    title: 'Optimisation',
    fields: [
      f('learningRate', 'Learning rate', 'optional-number', "Empty = the base model's documented default (1e-5 for real models).", { step: 'any' }),
      f('schedule', 'Schedule', 'choice', 'Learning-rate schedule after warm-up (paper: cosine).', { options: SCHEDULES }),
      f('warmupRatio', 'Warm-up ratio', 'number', 'Share of steps spent warming up (paper: 0.1).', { step: 'any' }),
      f('epochs', 'Epochs', 'int', 'Passes over the dataset (paper: 3).'),
      f('batchSize', 'Batch size', 'int', 'Pairs per forward pass.'),
      f('gradAccum', 'Accumulation', 'int', 'Forward passes per optimizer step; effective batch = batch × accumulation (paper: 32).'),
      f('maxSteps', 'Max steps', 'optional-number', 'Stop after this many optimizer steps; empty = the epochs decide.'),
      f('weightDecay', 'Weight decay', 'number', 'AdamW decoupled weight decay (paper: 0.05).', { step: 'any' }),
      f('adamBeta2', 'Adam β2', 'number', 'Second-moment decay (paper: 0.98); must be in (0, 1).', { step: 'any' }),
      f('maxGradNorm', 'Clip grad norm', 'number', 'Gradients are clipped to this global norm.', { step: 'any' }),
    ],
  },
  {
    title: 'Run',
    fields: [
      f('seed', 'Seed', 'int', 'Seeds the data order, m′ and LoRA init: same seed, same run.'),
      f('holdOut', 'Hold out for evaluation', 'int', 'Records drawn with the seed and never trained on; Inspect → Your data evaluates on them.'),
      f('backend', 'Backend', 'choice', 'Compute backend for this run; auto picks the fastest available.', { options: BACKEND_CHOICES }),
      f('checkpointEvery', 'Checkpoint every', 'int', 'Optimizer steps between checkpoints (0 = only at the end); resume starts here.'),
    ],
  },
];

export const ALL_FIELDS: FieldSpec[] = FIELD_GROUPS.flatMap((g) => g.fields);

function getPath(obj: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], obj);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) o = (o[k] ??= {}) as Record<string, unknown>;
  o[keys[keys.length - 1]!] = value;
}

/** The form filled with the schema's defaults (the paper's: docs/objective.md#defaults). */
export function defaultValues(datasetId: number | null): FormValues {
  const config = trainConfigSchema.parse({ datasetId: 1 }) as unknown as Record<string, unknown>;
  const values: FormValues = { name: '', datasetId: datasetId == null ? '' : String(datasetId), baseModel: BUILTIN_BASE, engine: String(config.engine), parallel: 'processes', parallelValue: '1' };
  for (const spec of ALL_FIELDS) {
    const v = getPath(config, spec.path);
    if (spec.kind === 'bool') values[spec.path] = Boolean(v);
    else if (spec.kind === 'list') values[spec.path] = (v as string[]).join(', ');
    else values[spec.path] = v == null ? '' : String(v);
  }
  return values;
}

/** Form values -> config input; type errors (not a number) are reported per field. */
export function toConfigInput(values: FormValues): { config: TrainConfigInput; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const config: Record<string, unknown> = {};
  const name = String(values.name ?? '').trim();
  if (name) config.name = name;
  config.baseModel = String(values.baseModel ?? '').trim();
  if (values.engine !== undefined) config.engine = String(values.engine);
  if (config.engine === 'torch') parallelInput(values, config, errors);
  const ds = String(values.datasetId ?? '');
  if (ds === '') errors.datasetId = 'Pick a dataset to train on.';
  else config.datasetId = Number(ds);
  for (const spec of ALL_FIELDS) {
    const raw = values[spec.path];
    if (spec.kind === 'bool') setPath(config, spec.path, Boolean(raw));
    else if (spec.kind === 'choice') setPath(config, spec.path, String(raw));
    else if (spec.kind === 'list') {
      setPath(config, spec.path, String(raw ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    } else {
      const text = String(raw ?? '').trim();
      if (text === '') {
        if (spec.kind === 'optional-number') setPath(config, spec.path, null);
        else errors[spec.path] = 'Required.';
        continue;
      }
      const n = Number(text);
      if (!Number.isFinite(n)) errors[spec.path] = `"${text}" is not a number.`;
      else if (spec.kind === 'int' && !Number.isInteger(n)) errors[spec.path] = `Must be a whole number, got ${text}.`;
      else setPath(config, spec.path, n);
    }
  }
  return { config: config as unknown as TrainConfigInput, errors };
}

/** How many torch processes (the form's "processes" row, torch only): N processes, every GPU, or the listed GPUs. */
export const PARALLEL_CHOICES = [['processes', 'Processes'], ['all', 'All GPUs'], ['gpus', 'These GPUs']] as const;

function parallelInput(values: FormValues, config: Record<string, unknown>, errors: FieldErrors): void {
  const mode = String(values.parallel ?? 'processes');
  const text = String(values.parallelValue ?? '').trim();
  if (mode === 'all') config.torch = { devices: 'all' };
  else if (mode === 'gpus') {
    if (/^\d+(\s*,\s*\d+)*$/.test(text)) config.torch = { devices: text.split(',').map((d) => Number(d.trim())) };
    else errors.processes = `GPU indices separated by commas (like 0,1), got "${text}".`;
  } else if (/^\d+$/.test(text)) config.torch = { processes: Number(text) };
  else errors.processes = `A whole number of processes, got "${text}".`;
}

/** All reasons the form cannot be submitted, keyed by field path ("beta", "negative.cropMin"). */
export function validateForm(values: FormValues): { config: TrainConfigInput | null; errors: FieldErrors } {
  const { config, errors } = toConfigInput(values);
  const parsed = trainConfigSchema.safeParse(config);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join('.');
      errors[path] ??= issue.message;
    }
  }
  return { config: Object.keys(errors).length ? null : config, errors };
}

/** A server error's field ("config.beta") as a form path ("beta"). */
export function formPathOf(serverField: string | undefined): string {
  if (!serverField) return '';
  return serverField.startsWith('config.') ? serverField.slice('config.'.length) : serverField;
}
