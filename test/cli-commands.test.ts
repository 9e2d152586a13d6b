/**
 * The mdpo command: exit codes and --json. Most cases call runCli in-process (the trainer is
 * still a real child process); a few go through the real bin launcher to prove it works.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/main/cli';
import { FIXTURE_ENGINE, REPO_ROOT, tempDir, writeTinyDataset } from './api-fixtures';

const BIN = join(REPO_ROOT, 'src/main/bin/mdpo.mjs');
let tmp: ReturnType<typeof tempDir>;
let datasetRoot: string;

/** In-process: same code path as the bin, minus the Node start-up (the machine is shared). */
async function mdpo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, '--home', join(tmp.dir, 'home')], {
    out: (t) => (stdout += t),
    err: (t) => (stderr += t),
    isTTY: false,
  });
  return { code, stdout, stderr };
}

/** The real `mdpo` process through the package's bin launcher. */
function mdpoProcess(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, MDPO_HOME: join(tmp.dir, 'home'), MDPO_TRAINER_ENGINE: FIXTURE_ENGINE, FIXTURE_STEP_MS: '5', ...env }, cwd: tmp.dir },
      (error, stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  process.env.MDPO_TRAINER_ENGINE = FIXTURE_ENGINE;
  process.env.FIXTURE_STEP_MS = '5';
  tmp = tempDir('mdpo-cli-');
  datasetRoot = await writeTinyDataset(tmp.dir, 3);
});
afterAll(() => tmp.cleanup());

describe('mdpo CLI', () => {
  it('the bin launcher runs the CLI as a process: help 0, usage error 2, --json output', async () => {
    const [help, unknown, list] = await Promise.all([mdpoProcess(['help']), mdpoProcess(['frobnicate']), mdpoProcess(['runs', 'list', '--json'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Exit codes: 0 ok');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
  });

  it('usage errors exit 2; help exits 0', async () => {
    expect((await mdpo(['help'])).code).toBe(0);
    expect((await mdpo([])).code).toBe(2);
    const unknown = await mdpo(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown command "frobnicate"');
    expect((await mdpo(['runs', 'list', '--no-such-flag'])).code).toBe(2);
    expect((await mdpo(['train'])).code).toBe(2);
  });

  it('datasets validate/import/list with --json; bad data exits 3', async () => {
    const ok = await mdpo(['datasets', 'validate', datasetRoot, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).summary.valid).toBe(3);

    const broken = join(tmp.dir, 'broken.jsonl');
    writeFileSync(broken, '{"img_path": "nope.png", "prompt": "q", "chosen": "a", "rejected": "a"}\n{oops\n');
    const bad = await mdpo(['datasets', 'validate', broken, '--json']);
    expect(bad.code).toBe(3);
    expect(JSON.parse(bad.stdout).summary.excluded).toBe(2);

    const imported = await mdpo(['datasets', 'import', datasetRoot, '--name', 'tiny', '--json']);
    expect(imported.code).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ id: 1, name: 'tiny', counts: { valid: 3 } });
    const list = await mdpo(['datasets', 'list', '--json']);
    expect(JSON.parse(list.stdout).map((d: { name: string }) => d.name)).toEqual(['tiny']);
    expect((await mdpo(['datasets', 'import', join(tmp.dir, 'missing')])).code).toBe(3);
  });

  it('train in the foreground, then runs list/show/export; bad values exit 3', async () => {
    const bad = await mdpo(['train', '--dataset', '1', '--beta=-2', '--json']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('beta');
    expect((await mdpo(['train', '--dataset', '99'])).code).toBe(3);

    const config = join(tmp.dir, 'config.json');
    writeFileSync(config, JSON.stringify({ datasetId: 1, maxSteps: 4, checkpointEvery: 2, variant: 'dpo' }));
    const train = await mdpo(['train', '--config', config, '--variant', 'mdpo', '--seed', '3', '--json']);
    expect(train.code).toBe(0);
    const [run] = JSON.parse(train.stdout) as { id: number; status: string; step: number; variant: string; backend: string }[];
    expect(run).toMatchObject({ status: 'completed', step: 4, variant: 'mdpo' });
    // The run carries the backend its trainer reported (this file's stand-in engine says 'fixture').
    expect(run!.backend).toBe('fixture');

    const show = await mdpo(['runs', 'show', String(run!.id), '--json']);
    expect(JSON.parse(show.stdout).config.seed).toBe(3);
    expect((await mdpo(['runs', 'show', '77'])).code).toBe(3);
    const list = await mdpo(['runs', 'list']);
    expect(list.stdout).toMatch(/completed\s+4\/4/);

    const out = join(tmp.dir, 'export');
    const exp = await mdpo(['runs', 'export', String(run!.id), '--out', out, '--what', 'metrics,report']);
    expect(exp.code).toBe(0);
    const csv = readFileSync(join(out, 'metrics.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('step,loss,rewards/accuracies');
    expect(csv).toHaveLength(5);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('<svg');
    // The fixture engine writes no adapter: exporting one is bad input, not a crash.
    expect((await mdpo(['runs', 'export', String(run!.id), '--out', out, '--what', 'adapter'])).code).toBe(3);
    expect(existsSync(join(out, 'adapter'))).toBe(false);
    // A finished run cannot be resumed.
    expect((await mdpo(['runs', 'resume', String(run!.id)])).code).toBe(5);
  });

  it('Ctrl+C during train cancels the run (checkpoint kept) and exits 4', async () => {
    const pending = mdpo(['train', '--dataset', '1', '--steps', '100000', '--checkpoint-every', '5', '--json']);
    await new Promise((r) => setTimeout(r, 2500));
    process.emit('SIGINT');
    const r = await pending;
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('Cancelling');
    expect(JSON.parse(r.stdout)[0].status).toBe('cancelled');
  });

  it('a failed run exits 1 with the reason', async () => {
    const failed = await mdpo(['train', '--dataset', '1', '--steps', '5', '--seed', '666']);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain('failed');
    expect(failed.stdout).toContain('Loss is NaN at step 3');
  });
});
