"""One process of a test run under torch.distributed.run (test_fsdp.py): engine.run_job on a tests/jobs.py job,
metrics as JSON lines on stdout (rank 0), events of the kind job.py writes reduced to what the tests compare.

    python fsdp_runner.py OUT MODEL BATCH_SIZE GRAD_ACCUM
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
torch.set_num_threads(1)

from jobs import make_job  # noqa: E402
from mdpo_torch.distributed import Parallel  # noqa: E402
from mdpo_torch.engine import run_job  # noqa: E402
from mdpo_torch.train import LoopHooks  # noqa: E402


def main() -> int:
    out, model, batch, accum = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    parallel = Parallel.from_env()
    main_rank = parallel is None or parallel.is_main
    say = (lambda m: print(json.dumps(m), flush=True)) if main_rank else (lambda m: None)
    job = make_job(out, model, maxSteps=4, batchSize=batch, gradAccum=accum, seed=5, learningRate=0.01, checkpointEvery=2)
    hooks = LoopHooks()
    hooks.log = lambda message: say({"type": "log", "message": message})
    hooks.on_step = lambda info: say({"type": "metrics", "step": info["step"], "values": info["metrics"]})
    if parallel is not None:
        hooks.cancelled = lambda: any(parallel.gather(False))
    try:
        result = run_job(job, hooks, parallel) if parallel is not None else run_job(job, hooks)
        say({"type": "done", "step": result["step"]})
        return 0
    except Exception as error:  # noqa: BLE001 - the test reads the failure
        say({"type": "failed", "name": type(error).__name__, "message": str(error)})
        return 1
    finally:
        if parallel is not None:
            parallel.close()


if __name__ == "__main__":
    sys.exit(main())
