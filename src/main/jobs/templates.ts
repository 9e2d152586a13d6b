/** The scripts and README of an exported cluster job (./export.ts). Every path in them is relative to the job folder. */
import type { JobSpec } from './export';

/** The part of both accelerate configs that places the processes: one machine; NPROC in launch.sh overrides num_processes. */
function machineLines(processes: number): string[] {
  return [`num_processes: ${processes}`, 'num_machines: 1', 'machine_rank: 0', 'main_training_function: main', 'rdzv_backend: static', 'same_network: true', 'use_cpu: false', ''];
}

/** accelerate's config for one machine; NPROC in launch.sh overrides num_processes. */
export function acceleratePlainYaml(processes: number): string {
  return [
    '# accelerate config for this job (accelerate launch --config_file accelerate.yaml).',
    '# DDP: every process holds the whole model. To shard the base over the processes (FSDP2), run',
    '# ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh. DeepSpeed is refused by the engine (README.md).',
    'compute_environment: LOCAL_MACHINE',
    `distributed_type: ${processes > 1 ? 'MULTI_GPU' : 'NO'}`,
    'mixed_precision: "no"   # the engine sets bf16 autocast itself (config.torch.precision)',
    ...machineLines(processes),
  ].join('\n');
}

/**
 * FSDP2 (python/mdpo_torch/fsdp.py): the frozen base sharded over the processes, one unit per decoder or vision
 * layer. reshard_after_forward true ~ FULL_SHARD ~ ZeRO-3; false ~ SHARD_GRAD_OP ~ ZeRO-2.
 */
export function accelerateFsdpYaml(processes: number): string {
  return [
    '# accelerate config for this job with FSDP2: ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh',
    '# The engine shards the frozen base (one unit per decoder / vision layer, then the root); LoRA stays whole.',
    '# fsdp_reshard_after_forward: true ~ FULL_SHARD ~ ZeRO-3 (least memory); false ~ SHARD_GRAD_OP ~ ZeRO-2.',
    '# The engine refuses fsdp_offload_params: true and HYBRID_SHARD; DeepSpeed configs are refused too.',
    'compute_environment: LOCAL_MACHINE',
    'distributed_type: FSDP',
    'mixed_precision: "no"   # the engine sets bf16 autocast itself (config.torch.precision)',
    'fsdp_config:',
    '  fsdp_version: 2',
    '  fsdp_reshard_after_forward: true',
    '  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP',
    '  fsdp_offload_params: false',
    '  fsdp_cpu_ram_efficient_loading: false',
    '  fsdp_activation_checkpointing: false   # config.torch.gradientCheckpointing decides',
    ...machineLines(processes),
  ].join('\n');
}

export function launchScript(processes: number): string {
  return `#!/usr/bin/env bash
# Runs this job on one machine: NPROC processes (default ${processes}) under accelerate.
#   PYTHON=/path/to/python ./launch.sh          (default: python3 on PATH)
#   NPROC=1 ./launch.sh                         (one process)
#   ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh   (FSDP2: the base sharded over the processes)
# Output goes to ./out: events.jsonl (metrics, checkpoints, the end), checkpoints/, adapter/.
# Run it again after an interruption: it resumes from out/checkpoints/latest.json.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="\${PYTHON:-python3}"
NPROC="\${NPROC:-${processes}}"
export PYTHONPATH="$PWD/engine\${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONUNBUFFERED=1
if [ ! -f model/config.json ]; then
  echo "launch.sh: put the base model folder at ./model (config.json + *.safetensors): see README.md" >&2
  exit 3
fi
NNODES="\${NNODES:-1}"
CONFIG="\${ACCELERATE_CONFIG:-accelerate.yaml}"
if [ ! -f "$CONFIG" ]; then
  echo "launch.sh: no accelerate config at $CONFIG (ACCELERATE_CONFIG)" >&2
  exit 3
fi
# accelerate.yaml: --multi_gpu (DDP). Any other config names its own distributed_type (FSDP), which --multi_gpu would override.
MULTI_GPU=""
if [ "$CONFIG" = accelerate.yaml ]; then MULTI_GPU="--multi_gpu"; fi
if [ "$NPROC" -gt 1 ] || [ "$NNODES" -gt 1 ]; then
  # One process per GPU (NCCL); on a machine without GPUs the same runs on CPU with gloo.
  # Several machines (slurm.sbatch sets these): NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT; out/ on a shared disk.
  exec "$PYTHON" -m accelerate.commands.launch --config_file "$CONFIG" $MULTI_GPU \\
    --num_processes "$((NPROC * NNODES))" --num_machines "$NNODES" --machine_rank "\${NODE_RANK:-0}" \\
    --main_process_ip "\${MASTER_ADDR:-127.0.0.1}" --main_process_port "\${MASTER_PORT:-29500}" \\
    -m mdpo_torch.job --job job.json --out out
fi
exec "$PYTHON" -m mdpo_torch.job --job job.json --out out
`;
}

export function slurmScript(processes: number): string {
  return `#!/usr/bin/env bash
# Example SLURM script (adapt partition, account, time, modules): ${processes} GPU(s) per node, as many
# nodes as --nodes says (the job folder, with out/, must be on a disk every node sees):
#   sbatch slurm.sbatch                 sbatch --nodes=4 slurm.sbatch
#   ACCELERATE_CONFIG=accelerate-fsdp.yaml sbatch slurm.sbatch   (FSDP2: the base sharded over all processes)
# Only global rank 0 writes out/. Preemption: SLURM sends SIGTERM; the engine checkpoints the
# current step and stops; requeue (or sbatch again) resumes from out/checkpoints/latest.json.
# Untested here (no cluster in CI): CI runs launch.sh with 2 processes on one machine.
#SBATCH --job-name=mdpo
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=${processes}
#SBATCH --cpus-per-task=8
#SBATCH --time=24:00:00
#SBATCH --signal=TERM@120
#SBATCH --requeue
#SBATCH --output=slurm-%j.out
set -euo pipefail
cd "\${SLURM_SUBMIT_DIR:-$(dirname "$0")}"
# module load cuda; source venv/bin/activate   (an environment with requirements.txt installed)
export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
export MASTER_PORT=29500 NNODES="\${SLURM_NNODES:-1}" NPROC="\${SLURM_GPUS_ON_NODE:-${processes}}"
# One launcher per node; each learns its rank from SLURM_NODEID.
srun --ntasks="$NNODES" --ntasks-per-node=1 bash -c 'NODE_RANK=$SLURM_NODEID ./launch.sh'
`;
}

export function jobReadme(spec: JobSpec, modelIncluded: boolean): string {
  const c = spec.config;
  return `# mDPO Studio cluster job: ${spec.name}

Exported by ${spec.lineage.app} on ${spec.lineage.exportedAt}${spec.lineage.run ? ` from run ${spec.lineage.run.id} (${spec.lineage.run.name})` : ''}.
Variant ${c.variant}, ${c.maxSteps ?? `${c.epochs} epoch(s)`} ${c.maxSteps ? 'steps' : ''}, batch ${c.batchSize} x grad-accum ${c.gradAccum}, seed ${c.seed}.

## Contents
- \`job.json\`: the job (config, relative paths, lineage).
- \`data/records.json\`, \`data/images/\`: the pairs, and m / m' as the app rendered them.
- \`model/\`: the base model${modelIncluded ? '' : ' — NOT included: copy the Hugging Face folder there (config.json, *.safetensors, tokenizer and processor files)'}.
- \`engine/mdpo_torch\`: the torch engine; \`requirements.txt\`: its pinned packages.
- \`accelerate.yaml\` (DDP), \`accelerate-fsdp.yaml\` (FSDP2), \`launch.sh\` (one machine), \`slurm.sbatch\` (an example for SLURM).

## Run it
\`\`\`sh
python3 -m venv venv && . venv/bin/activate && pip install -r requirements.txt
./launch.sh                      # NPROC=${spec.processes} processes by default; PYTHON=... to pick the interpreter
sbatch slurm.sbatch              # or on a SLURM cluster
\`\`\`
The run writes \`out/events.jsonl\` (one JSON message per line: started, metrics, progress,
checkpoint, done/cancelled/failed), \`out/checkpoints/\` and, at the end, \`out/adapter/\` (PEFT).
Interrupted (a kill, a preemption)? Run \`./launch.sh\` again: it resumes from the last checkpoint.

## Sharding a model too big for one GPU (FSDP)
By default every process holds the whole model (DDP). \`ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh\`
(or the same variable before \`sbatch\`) shards the frozen base over the processes with FSDP2, one unit per
decoder or vision layer; \`out/events.jsonl\` logs the parameter bytes each process holds. In that file,
\`fsdp_reshard_after_forward: true\` is FULL_SHARD (~ ZeRO-3), \`false\` SHARD_GRAD_OP (~ ZeRO-2). The effective
batch, the data order and the checkpoints are those of one process, so a job may resume with or without FSDP.
DeepSpeed configs are refused at start (the engine does not ship DeepSpeed): use the FSDP file instead.

## Bring it back
Copy the folder (at least job.json and out/) to the app's machine, then
\`mdpo runs import-job <folder>\` (or Runs > Import job in the app). A finished job becomes a
completed run with its curves; an interrupted one becomes an interrupted run that
\`mdpo runs resume <id>\` continues locally from its last checkpoint.
`;
}
