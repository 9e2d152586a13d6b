/**
 * Paths into the packaged app's archive are handed to Python as the unpacked copy: the unit
 * mapping, and both users of it (`mdpo doctor`'s probe script, the torch engine's PYTHONPATH),
 * each run with a stand-in interpreter (a shell script) that records what it was given.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainConfigSchema } from '../../shared/schemas';
import type { TrainJob } from '../trainer/protocol';
import { runDoctor } from './doctor';
import { launchTorch } from './launch';
import { unpackedPath } from './unpacked';

const REPO = resolve(__dirname, '../../..');

describe('unpackedPath', () => {
  it.each([
    ['/opt/mdpo/resources/app.asar/python', '/opt/mdpo/resources/app.asar.unpacked/python'],
    ['/opt/mdpo/resources/app.asar/python/doctor_probe.py', '/opt/mdpo/resources/app.asar.unpacked/python/doctor_probe.py'],
    ['/opt/mdpo/resources/app.asar', '/opt/mdpo/resources/app.asar.unpacked'],
    ['C:\\Program Files\\mdpo\\resources\\app.asar\\python', 'C:\\Program Files\\mdpo\\resources\\app.asar.unpacked\\python'],
    // Unchanged: already unpacked, outside an archive, a name that only contains "app.asar".
    ['/opt/mdpo/resources/app.asar.unpacked/python', '/opt/mdpo/resources/app.asar.unpacked/python'],
    ['/home/me/mdpo-studio/python', '/home/me/mdpo-studio/python'],
    ['/home/me/myapp.asar/python', '/home/me/myapp.asar/python'],
    ['/home/me/app.asarx/python', '/home/me/app.asarx/python'],
  ])('%s -> %s', (from, to) => {
    expect(unpackedPath(from)).toBe(to);
  });
});

describe('the packaged app hands Python the unpacked python/ folder', () => {
  let tmp: string;
  let appRoot: string;
  let unpacked: string;
  let record: string;
  let fakePython: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'mdpo-asar-'));
    // The installed layout: resources/app.asar (here a plain folder standing in for the archive,
    // without python/doctor_probe.py) and resources/app.asar.unpacked/python (the real files).
    appRoot = join(tmp, 'resources', 'app.asar');
    mkdirSync(join(appRoot, 'python'), { recursive: true });
    copyFileSync(join(REPO, 'python', 'requirements.txt'), join(appRoot, 'python', 'requirements.txt'));
    unpacked = join(tmp, 'resources', 'app.asar.unpacked', 'python');
    mkdirSync(unpacked, { recursive: true });
    copyFileSync(join(REPO, 'python', 'doctor_probe.py'), join(unpacked, 'doctor_probe.py'));
    record = join(tmp, 'record.txt');
    fakePython = join(tmp, 'python');
    writeFileSync(fakePython, `#!/bin/sh\nprintf '%s\\n%s\\n' "$*" "$PYTHONPATH" > '${record}'\necho 'stand-in interpreter' >&2\nexit 3\n`);
    chmodSync(fakePython, 0o755);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('mdpo doctor runs app.asar.unpacked/python/doctor_probe.py', async () => {
    const d = await runDoctor({ appRoot, explicit: fakePython, env: {} });
    expect(d.problem?.message ?? '').not.toContain('has no python/doctor_probe.py');
    const [args] = readFileSync(record, 'utf8').split('\n');
    expect(args).toBe(join(unpacked, 'doctor_probe.py'));
  });

  it('the torch engine starts with PYTHONPATH = app.asar.unpacked/python', async () => {
    rmSync(record, { force: true });
    const runDir = join(tmp, 'run');
    const config = trainConfigSchema.parse({ datasetId: 1, baseModel: '/models/x', engine: 'torch', backend: 'cpu', torch: { python: fakePython, negativesDir: join(runDir, 'torch-images') } });
    const job = { runId: 1, config, appRoot, runDir, home: tmp, dataset: { recordsFile: join(tmp, 'records.json') } } as unknown as TrainJob;
    const handle = launchTorch(job, {
      render: async () => ({ manifest: { pairs: [], size: [16, 16], epochs: 1 } as never, reused: true }),
    });
    const code = await new Promise<number | null>((done) => handle.onExit((c) => done(c)));
    expect(code).toBe(3);
    const [args, pythonPath] = readFileSync(record, 'utf8').split('\n');
    expect(args).toBe('-m mdpo_torch.trainer');
    expect(pythonPath!.split(delimiter)[0]).toBe(unpacked);
  });
});
