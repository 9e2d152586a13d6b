/**
 * The `mdpo` command. Thin: every command calls the same API handlers as the UI (through the
 * validating dispatcher), or src/core directly where there is no API method (validate).
 *
 * Exit codes (also in src/main/README.md):
 *   0 ok | 1 failure (a run failed, an internal error) | 2 usage error (unknown command or
 *   flag, missing argument) | 3 bad input or data (invalid value, unknown id, a dataset with
 *   errors for `validate`, nothing valid to import) | 4 interrupted (Ctrl+C, a cancelled or
 *   interrupted run) | 5 conflict (the run is busy in another process, or already finished).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ApiChannel, ApiErrorBody, ApiEvent, ApiOutputs, RunDetail, RunProgress, RunSummary } from '../shared/api';
import type { MethodInput } from '../shared/schemas';
import { dispatch } from './api/dispatch';
import { openBackend, type Backend } from './backend-context';
import { resolveHome } from './home';
import { renderRunReport, metricsCsv } from './report';
import { inspectCommand } from './cli-inspect';
import { exportJobCommand, importJobCommand, JobInputError } from './jobs/cli-jobs';

export const EXIT = { ok: 0, failure: 1, usage: 2, badInput: 3, interrupted: 4, conflict: 5 } as const;

export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

const usage = (message: string) => new CliError(`${message}\nRun \`mdpo help\` for usage.`, EXIT.usage);

import { HELP } from './cli-help';

export { HELP };

interface Io {
  out(text: string): void;
  err(text: string): void;
  isTTY: boolean;
}

const defaultIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  isTTY: !!process.stderr.isTTY,
};

function exitFor(error: ApiErrorBody): number {
  switch (error.code) {
    case 'bad_request':
    case 'not_found':
      return EXIT.badInput;
    case 'conflict':
      return EXIT.conflict;
    default:
      return EXIT.failure;
  }
}

async function call<C extends ApiChannel>(backend: Backend, channel: C, input?: MethodInput<C>): Promise<ApiOutputs[C]> {
  const result = await dispatch(backend.handlers, channel, input);
  if (!result.ok) throw new CliError(result.error.message, exitFor(result.error));
  return result.value as ApiOutputs[C];
}

/** train's --python, --processes and --devices over the config file's torch block (undefined: none given). */
function torchFlags(base: unknown, flags: { python?: string; processes?: string; devices?: string }): Record<string, unknown> | undefined {
  if (flags.python === undefined && flags.processes === undefined && flags.devices === undefined) return undefined;
  const torch: Record<string, unknown> = { ...(base as Record<string, unknown> | undefined) };
  if (flags.python !== undefined) torch.python = resolve(flags.python);
  if (flags.processes !== undefined) torch.processes = num('processes', flags.processes);
  if (flags.devices !== undefined) {
    const d = flags.devices.trim();
    if (d !== 'all' && !/^\d+(,\d+)*$/.test(d)) throw new CliError(`--devices: expected "all" or GPU indices like 0,1, got "${flags.devices}"`, EXIT.badInput);
    torch.devices = d === 'all' ? 'all' : d.split(',').map(Number);
  }
  return torch;
}

function num(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new CliError(`--${flag}: expected a number, got "${value}"`, EXIT.badInput);
  return n;
}

function fmtDuration(ms: number | null): string {
  if (ms == null) return '--';
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function progressLine(name: string, p: RunProgress, loss: number | undefined): string {
  const width = 24;
  const frac = p.totalSteps > 0 ? Math.min(1, p.step / p.totalSteps) : 0;
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
  const lossText = loss === undefined ? '' : ` loss ${loss.toFixed(4)}`;
  return `${name} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% step ${p.step}/${p.totalSteps}${lossText} ETA ${fmtDuration(p.etaMs)}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

/** Waits for runs in the foreground: progress on a TTY, Ctrl+C cancels (checkpoint kept). */
async function follow(backend: Backend, runs: RunSummary[], io: Io, json: boolean): Promise<number> {
  const lines = new Map<number, string>();
  const loss = new Map<number, number>();
  let drawn = 0;
  const draw = () => {
    if (!io.isTTY || json) return;
    if (drawn) io.err(`\x1b[${drawn}A`);
    for (const r of runs) io.err(`\x1b[2K${lines.get(r.id) ?? `${r.name}: starting`}\n`);
    drawn = runs.length;
  };
  const unsubscribe = backend.subscribe((e) => {
    if (!('runId' in e) || !runs.some((r) => r.id === e.runId)) return;
    if (e.type === 'run:metrics' && typeof e.values.loss === 'number') loss.set(e.runId, e.values.loss);
    if (e.type === 'run:progress') {
      lines.set(e.runId, progressLine(runs.find((r) => r.id === e.runId)!.name, e, loss.get(e.runId)));
      draw();
    }
    if (e.type === 'run:status' && !io.isTTY && !json) io.err(`run ${e.runId}: ${e.status}\n`);
  });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) process.exit(EXIT.interrupted);
    interrupted = true;
    io.err('\nCancelling (a checkpoint is kept; `mdpo runs resume <id>` continues). Ctrl+C again to quit now.\n');
    for (const r of runs) if (backend.supervisor.isLive(r.id)) backend.supervisor.cancel(r.id);
  };
  process.on('SIGINT', onSigint);
  try {
    draw();
    const statuses = await Promise.all(runs.map((r) => backend.supervisor.waitFor(r.id)));
    const finals = await Promise.all(runs.map((r) => call(backend, 'runs:get', { runId: r.id })));
    if (json) io.out(JSON.stringify(finals, null, 2) + '\n');
    else for (const f of finals) io.out(`run ${f.id} (${f.name}): ${f.status} at step ${f.step}${f.backend ? ` on ${f.backend}` : ''}${f.error ? ` - ${f.error.message}` : ''}\n`);
    if (statuses.some((s) => s === 'failed')) return EXIT.failure;
    if (statuses.some((s) => s !== 'completed')) return EXIT.interrupted;
    return EXIT.ok;
  } finally {
    unsubscribe();
    process.off('SIGINT', onSigint);
  }
}

function readConfigFile(path: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`--config ${path}: ${(error as Error).message}`, EXIT.badInput);
  }
}

export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        home: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        name: { type: 'string' },
        dataset: { type: 'string' },
        config: { type: 'string' },
        variant: { type: 'string' },
        pair: { type: 'boolean' },
        beta: { type: 'string' },
        delta: { type: 'string' },
        lr: { type: 'string' },
        epochs: { type: 'string' },
        'batch-size': { type: 'string' },
        'grad-accum': { type: 'string' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        'checkpoint-every': { type: 'string' },
        backend: { type: 'string' },
        base: { type: 'string' },
        out: { type: 'string' },
        what: { type: 'string' },
        port: { type: 'string' },
        scenes: { type: 'string' },
        quick: { type: 'boolean' },
        renderer: { type: 'string' },
        engine: { type: 'string' },
        python: { type: 'string' },
        'hold-out': { type: 'string' },
        models: { type: 'string' },
        a: { type: 'string' },
        b: { type: 'string' },
        format: { type: 'string' },
        import: { type: 'boolean' },
        'max-tokens': { type: 'string' },
        processes: { type: 'string' },
        devices: { type: 'string' },
        'no-model': { type: 'boolean' },
        temperature: { type: 'string' },
      },
    });
  } catch (error) {
    io.err(`${(error as Error).message}\nRun \`mdpo help\` for usage.\n`);
    return EXIT.usage;
  }
  const { values: flags, positionals } = parsed;
  const json = !!flags.json;
  const [command, sub, arg] = positionals;
  if (!command || command === 'help' || flags.help) {
    io.out(HELP);
    return command || flags.help ? EXIT.ok : EXIT.usage;
  }
  const home = flags.home ? resolve(flags.home) : resolveHome();
  const print = (value: unknown, text: () => string) => io.out(json ? JSON.stringify(value, null, 2) + '\n' : text());

  let backend: Backend | null = null;
  const open = () => (backend ??= openBackend({ home, mode: 'cli' }));
  try {
    switch (command) {
      case 'datasets': {
        if (sub === 'validate') {
          if (!arg) throw usage('datasets validate needs a path.');
          // The report only: validation keeps no record in memory (a million-record file is fine).
          const { validateDataset } = await import('../core/data/import');
          const result = await validateDataset(resolve(arg));
          const s = result.report.summary;
          const dsErrors = result.report.issues.filter((i) => i.severity === 'error' && i.record === undefined);
          print(result.report, () =>
            `${result.format ?? 'unknown format'}: ${s.records} records, ${s.valid} valid, ${s.excluded} excluded, ${s.warnings} warnings\n` +
            result.report.issues.slice(0, 50).map((i) => `  ${i.severity}: ${i.message}\n`).join('') +
            (result.report.issues.length > 50 ? `  ... ${result.report.issues.length - 50} more (use --json)\n` : ''),
          );
          return s.excluded > 0 || dsErrors.length > 0 || s.valid === 0 ? EXIT.badInput : EXIT.ok;
        }
        if (sub === 'import') {
          if (!arg) throw usage('datasets import needs a path.');
          const d = await call(open(), 'datasets:import', { path: arg, name: flags.name });
          print(d, () => `Imported dataset ${d.id} "${d.name}" (${d.format}): ${d.counts.valid} of ${d.counts.records} records valid, ${d.counts.errors} excluded, ${d.counts.warnings} warnings.\n`);
          return d.counts.valid === 0 ? EXIT.badInput : EXIT.ok;
        }
        if (sub === 'list') {
          const list = await call(open(), 'datasets:list');
          print(list, () => table([['ID', 'NAME', 'FORMAT', 'VALID', 'RECORDS', 'PATH'], ...list.map((d) => [String(d.id), d.name, d.format, String(d.counts.valid), String(d.counts.records), d.sourcePath])]));
          return EXIT.ok;
        }
        throw usage(`Unknown datasets command "${sub ?? ''}": expected import, validate or list.`);
      }

      case 'train': {
        const base = flags.config ? readConfigFile(flags.config) : {};
        const over: Record<string, unknown> = {
          datasetId: num('dataset', flags.dataset),
          name: flags.name,
          variant: flags.variant,
          beta: num('beta', flags.beta),
          delta: num('delta', flags.delta),
          learningRate: num('lr', flags.lr),
          epochs: num('epochs', flags.epochs),
          batchSize: num('batch-size', flags['batch-size']),
          gradAccum: num('grad-accum', flags['grad-accum']),
          seed: num('seed', flags.seed),
          maxSteps: num('steps', flags.steps),
          checkpointEvery: num('checkpoint-every', flags['checkpoint-every']),
          backend: flags.backend,
          baseModel: flags.base ? resolve(flags.base) : undefined,
          engine: flags.engine,
          holdOut: num('hold-out', flags['hold-out']),
          torch: torchFlags(base.torch, flags),
        };
        const config = { ...base, ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== undefined)) };
        if (config.datasetId === undefined) throw usage('train needs --dataset <id> (or datasetId in --config).');
        const runs = await call(open(), 'runs:create', { config: config as MethodInput<'runs:create'>['config'], pair: !!flags.pair });
        return await follow(open(), runs, io, json);
      }

      case 'runs': {
        if (sub === 'list') {
          const list = await call(open(), 'runs:list');
          print(list, () => table([['ID', 'NAME', 'VARIANT', 'STATUS', 'STEP', 'LOSS', 'PAIR'], ...list.map((r) => [String(r.id), r.name, r.variant, r.status, `${r.step}/${r.totalSteps ?? '?'}`, r.latest.loss?.toFixed(4) ?? '', r.pairId?.slice(0, 8) ?? ''])]));
          return EXIT.ok;
        }
        if (sub === 'export-job' || sub === 'import-job') {
          if (!arg) throw usage(`runs ${sub} needs ${sub === 'export-job' ? 'a run id or a config file' : 'a job folder'}.`);
          try {
            if (sub === 'export-job') {
              const r = await exportJobCommand(open(), arg, flags, (m) => !json && io.err(`${m}\n`));
              print(r, () => `wrote ${r.dir} (${r.files} files): see its README.md\n`);
            } else {
              const r = importJobCommand(open(), arg);
              print(r, () => `imported as run ${r.runId} (${r.status}, step ${r.step}/${r.totalSteps ?? '?'}, checkpoints ${r.checkpoints.join(', ') || 'none'})${r.status === 'completed' ? '' : `; \`mdpo runs resume ${r.runId}\` continues it`}\n`);
            }
          } catch (e) {
            if (e instanceof JobInputError) throw new CliError(e.message, EXIT.badInput);
            throw e;
          }
          return EXIT.ok;
        }
        const runId = num('id', arg);
        if (runId === undefined) throw usage(`runs ${sub ?? ''} needs a run id.`);
        if (sub === 'show') {
          const r = await call(open(), 'runs:get', { runId });
          print(r, () => showRun(r));
          return EXIT.ok;
        }
        if (sub === 'resume') {
          const b = open();
          await call(b, 'runs:resume', { runId });
          return await follow(b, [await call(b, 'runs:get', { runId })], io, json);
        }
        if (sub === 'export') {
          if (!flags.out) throw usage('runs export needs --out <dir>.');
          const what = new Set((flags.what ?? 'metrics,report,adapter').split(',').map((w) => w.trim()));
          for (const w of what) if (!['metrics', 'report', 'adapter'].includes(w)) throw usage(`--what: unknown export "${w}" (metrics, report, adapter).`);
          const b = open();
          const run = await call(b, 'runs:get', { runId });
          const outDir = resolve(flags.out);
          mkdirSync(outDir, { recursive: true });
          const written: string[] = [];
          const { series } = await call(b, 'runs:metrics', { runId });
          if (what.has('metrics')) {
            writeFileSync(join(outDir, 'metrics.csv'), metricsCsv(series));
            written.push(join(outDir, 'metrics.csv'));
          }
          if (what.has('report')) {
            const evaluations = await call(b, 'runs:evaluations', { runId });
            writeFileSync(join(outDir, 'report.html'), renderRunReport(run, series, evaluations));
            written.push(join(outDir, 'report.html'));
          }
          if (what.has('adapter')) {
            // The engine saves the final adapters in PEFT's layout in <runDir>/adapter.
            const from = join(b.store.getRun(runId)!.runDir, 'adapter');
            const files = existsSync(from) ? readdirSync(from).filter((f) => f.startsWith('adapter_')) : [];
            if (files.length === 0) throw new CliError(`Run ${runId} has no adapter to export (it has not completed).`, EXIT.badInput);
            mkdirSync(join(outDir, 'adapter'), { recursive: true });
            for (const f of files) copyFileSync(join(from, f), join(outDir, 'adapter', f));
            written.push(join(outDir, 'adapter'));
          }
          print({ runId, written }, () => written.map((w) => `wrote ${w}\n`).join(''));
          return EXIT.ok;
        }
        throw usage(`Unknown runs command "${sub ?? ''}": expected list, show, resume, export, export-job or import-job.`);
      }

      case 'eval': {
        const runId = num('run id', sub);
        if (runId === undefined) throw usage('eval needs a run id.');
        const b = open();
        const input = { runId, scenes: num('scenes', flags.scenes), seed: num('seed', flags.seed) };
        const parsed = await dispatch(b.handlers, 'runs:get', { runId });
        if (!parsed.ok) throw new CliError(parsed.error.message, exitFor(parsed.error));
        const check = (await import('../shared/schemas')).inputSchemas['runs:evaluate'].safeParse(input);
        if (!check.success) throw new CliError(check.error.issues[0]!.message, EXIT.badInput);
        const off = b.subscribe((e) => {
          if (e.type === 'run:evaluation' && e.runId === runId && io.isTTY && !json) io.err(`\r\x1b[2Kevaluating: ${e.done}/${e.total}`);
        });
        try {
          await b.supervisor.evaluate(runId, { scenes: check.data.scenes, seed: check.data.seed });
        } catch (error) {
          const code = (error as { code?: string }).code;
          throw new CliError((error as Error).message, code === 'conflict' ? EXIT.conflict : code === 'not_found' ? EXIT.badInput : EXIT.failure);
        } finally {
          off();
        }
        const rows = await call(b, 'runs:evaluations', { runId });
        if (io.isTTY && !json) io.err('\n');
        print(rows, () => table([['METRIC', 'SETTING', 'VALUE'], ...rows.map((r) => [r.metric, r.setting, r.value.toFixed(4)])]));
        return EXIT.ok;
      }

      case 'demo': {
        const b = open();
        const started = await call(b, 'demo:start', { preset: flags.quick ? 'quick' : 'full' });
        let last = '';
        let finished: Extract<ApiEvent, { type: 'demo:finished' }> | null = null;
        const end = new Promise<void>((resolveEnd) =>
          b.subscribe((e) => {
            if (e.type === 'demo:progress' && !json && e.message !== last) {
              last = e.message;
              io.err(io.isTTY ? `\r\x1b[2K${e.message}` : `${e.message}\n`);
            }
            if (e.type === 'demo:finished') {
              finished = e;
              resolveEnd();
            }
          }),
        );
        const onSigint = () => void call(b, 'demo:cancel');
        process.once('SIGINT', onSigint);
        await end;
        process.off('SIGINT', onSigint);
        if (io.isTTY && !json) io.err('\n');
        const f = finished! as Extract<ApiEvent, { type: 'demo:finished' }>;
        const runs = (await call(b, 'runs:list')).filter((r) => r.name.startsWith('demo'));
        print({ ...f, runs }, () => `demo ${f.state}${f.error ? `: ${f.error.message}` : ''}\nresults in ${started.outDir}\n` + runs.map((r) => `  run ${r.id} ${r.name}: ${r.status}\n`).join(''));
        return f.state === 'done' ? EXIT.ok : f.state === 'cancelled' ? EXIT.interrupted : EXIT.failure;
      }

      case 'doctor': {
        const { runDoctor, formatDoctor } = await import('./python/doctor');
        const { defaultAppRoot } = await import('./backend-context');
        const report = await runDoctor({ appRoot: defaultAppRoot(), explicit: flags.python ?? null });
        print(report, () => formatDoctor(report));
        return report.ok ? EXIT.ok : EXIT.failure;
      }

      case 'serve': {
        const { startServer } = await import('./server');
        const { defaultAppRoot } = await import('./backend-context');
        const b = openBackend({ home, mode: 'browser' });
        backend = b;
        const srv = await startServer({
          handlers: b.handlers,
          subscribe: b.subscribe,
          rendererDir: flags.renderer ? resolve(flags.renderer) : join(defaultAppRoot(), 'out', 'renderer'),
          docsDir: join(defaultAppRoot(), 'docs'),
          port: num('port', flags.port),
        });
        print({ url: srv.url, port: srv.port, token: srv.token, home }, () => `mDPO Studio (browser mode), data in ${home}\nOpen ${srv.url}\nCtrl+C stops the server.\n`);
        await new Promise<void>((resolveStop) => {
          const stop = () => resolveStop();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await srv.close();
        return EXIT.ok;
      }

      case 'evalsets':
      case 'answers':
      case 'inspect':
        return await inspectCommand(
          { backend: open, call, print, err: io.err, isTTY: io.isTTY, json, num, usage, flags, exit: EXIT },
          command,
          sub,
          arg,
        );

      default:
        throw usage(`Unknown command "${command}".`);
    }
  } catch (error) {
    if (error instanceof CliError) {
      if (json) io.out(JSON.stringify({ error: error.message, exitCode: error.exitCode }) + '\n');
      io.err(`mdpo: ${error.message}\n`);
      return error.exitCode;
    }
    io.err(`mdpo: ${(error as Error).stack ?? String(error)}\n`);
    return EXIT.failure;
  } finally {
    await (backend as Backend | null)?.close();
  }
}

function showRun(r: RunDetail): string {
  const latest = Object.entries(r.latest).map(([k, v]) => `  ${k}: ${v.toFixed(4)}`).join('\n');
  return [
    `run ${r.id}: ${r.name}`,
    `  variant ${r.variant}, status ${r.status}, step ${r.step}/${r.totalSteps ?? '?'}, backend ${r.backend ?? '-'}`,
    r.pairId ? `  pair ${r.pairId}` : null,
    r.error ? `  error: ${r.error.name}: ${r.error.message}` : null,
    latest || null,
    `  checkpoints: ${r.checkpoints.map((c) => c.step).join(', ') || 'none'}`,
    `  config: ${JSON.stringify(r.config)}`,
    '',
  ]
    .filter((l) => l !== null)
    .join('\n');
}

// Run when executed directly (node out/main/cli.js, or the launcher).
if (process.argv[1] && /cli\.(ts|js|mjs)$/.test(process.argv[1])) {
  void runCli(process.argv.slice(2)).then((code) => process.exit(code));
}
