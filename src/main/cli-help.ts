/** `mdpo help`: every command and flag of the CLI (src/main/cli.ts). */
import { HELP_INSPECT } from './cli-inspect';
import { HELP_JOBS } from './jobs/cli-jobs';

export const HELP = `mdpo: mDPO Studio from the command line

Usage: mdpo <command> [options]

  datasets import <path> [--name N]   import a dataset (file or folder) into the store
  datasets validate <path>            check a dataset without importing it (exit 3 on errors)
  datasets list                       list imported datasets
  train --dataset <id> [options]      train in the foreground (progress bar on a terminal)
      --config <file.json>            training config (TrainConfig JSON); flags override it
      --variant <v>  --pair           dpo | mdpo | mdpo-no-conditional | mdpo-no-anchor | dpo-no-image;
                                      --pair runs dpo and mdpo with the same settings
      --beta --delta --lr --epochs --batch-size --grad-accum --seed --steps
      --checkpoint-every --backend --base <checkpoint folder> --name <name>
      --engine <tfjs|torch>           torch: PyTorch + transformers + PEFT on a Hugging Face folder (--base)
      --python <interpreter>          the torch engine's Python (default $MDPO_PYTHON, .venv, python3)
      --processes N | --devices all|0,1
                                      torch: train on N processes (gloo on CPU), or one per GPU
      --hold-out <N>                  hold N records out of training (seeded), for evalsets from-run
  runs list                           list runs
  runs show <id>                      one run: config, status, latest metrics, checkpoints
  runs resume <id>                    continue an interrupted/failed/cancelled run in the foreground
  eval <run id> [--scenes N] [--seed S]
                                      evaluate a completed run on held-out built-in world scenes:
                                      CHAIR_s, CHAIR_i, Cover, Cog, POPE (stored with the run)
  runs export <id> --out <dir> [--what metrics,report,adapter]
                                      metrics.csv, report.html, adapter/ (PEFT layout)
${HELP_JOBS}${HELP_INSPECT}  demo [--quick]                      the built-in demo (shipped base -> pairs -> dpo vs mdpo ->
                                      exact metrics), recorded in the store like any runs
  serve [--port N] [--renderer <dir>] browser mode on 127.0.0.1 (prints the URL with its token)
  doctor [--python <interpreter>]     the torch engine's Python, packages and devices (exit 1 when not ready)
  help                                this text

Options for every command:
  --json            machine-readable output on stdout
  --home <dir>      data folder (default $MDPO_HOME or ~/.mdpo-studio)

Exit codes: 0 ok, 1 failure, 2 usage error, 3 bad input or data, 4 interrupted, 5 conflict.
`;
