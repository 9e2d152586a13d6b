/**
 * A stand-in app for trainer-parent-crash.test.ts: opens the backend on MDPO_HOME, starts one
 * run with the fixture engine and prints "PROGRESS <step> <trainerPid>" lines. The test kills
 * this whole process with SIGKILL (an app crash or power loss from the store's point of view).
 */
import { dispatch } from '../src/main/api/dispatch';
import { openBackend } from '../src/main/backend-context';
import { FIXTURE_ENGINE, REPO_ROOT, writeTinyDataset } from './api-fixtures';

const home = process.env.MDPO_HOME!;
const backend = openBackend({ home, mode: 'cli', appRoot: REPO_ROOT, trainerEnv: { MDPO_TRAINER_ENGINE: FIXTURE_ENGINE, FIXTURE_STEP_MS: '40' } });
const root = await writeTinyDataset(home, 2);
const ds = await dispatch(backend.handlers, 'datasets:import', { path: root });
if (!ds.ok) throw new Error(ds.error.message);
backend.subscribe((e) => {
  if (e.type === 'run:progress') process.stdout.write(`PROGRESS ${e.step} ${backend.store.getRun(e.runId)!.trainerPid}\n`);
});
const run = await dispatch(backend.handlers, 'runs:create', { config: { datasetId: (ds.value as { id: number }).id, maxSteps: 200, checkpointEvery: 3, seed: 4 } });
if (!run.ok) throw new Error(run.error.message);
setInterval(() => {}, 1000);
