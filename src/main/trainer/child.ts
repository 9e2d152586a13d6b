/**
 * The trainer process: ONE entry file for all three hosts. Electron main starts it with
 * utilityProcess.fork (messages through process.parentPort); browser mode and the CLI start it
 * with child_process.fork (process.send / 'message'). Built as out/main/trainer.js; in dev and
 * tests it runs from source under tsx (see ./launch.ts).
 *
 * It runs one job and exits. It never opens the database: everything it learns goes to the
 * parent as protocol messages, and the parent writes.
 */
import { pathToFileURL } from 'node:url';
import { EtaTracker } from './eta';
import {
  CancelledError,
  Sequencer,
  isParentMessage,
  serializeError,
  type ChildMessage,
  type Engine,
  type ParentMessage,
  type TrainJob,
  type Unsequenced,
} from './protocol';

interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

type Port = {
  send(message: ChildMessage): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Exits once everything sent so far has left the process. */
  exit(code: number): void;
};

function openPort(): Port {
  const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
  if (parentPort) {
    return {
      send: (m) => parentPort.postMessage(m),
      onMessage: (listener) => parentPort.on('message', (e) => listener(e.data)),
      exit: (code) => {
        parentPort.postMessage(out.stamp({ type: 'exit', code }));
        setTimeout(() => process.exit(code), 100);
      },
    };
  }
  if (!process.send) {
    process.stderr.write('The trainer runs as a child process (fork or utilityProcess), not on its own.\n');
    process.exit(2);
  }
  // Trainer gone when its owner is gone: an orphan would train on with nobody recording it.
  process.on('disconnect', () => process.exit(4));
  return {
    send: (m) => process.send!(m),
    onMessage: (listener) => process.on('message', listener),
    // IPC sends are asynchronous: exit in the callback of the last one, when the queue is drained.
    exit: (code) => void process.send!(out.stamp({ type: 'exit', code }), () => process.exit(code)),
  };
}

async function loadEngine(j: TrainJob): Promise<Engine> {
  if (j.task?.kind === 'evaluate') return (await import('./evaluate')).evaluateEngine;
  if (j.task?.kind === 'demo') return (await import('./demo')).demoEngine;
  if (j.task?.kind === 'ask') return (await import('./ask')).askEngine;
  if (j.task?.kind === 'answers') return (await import('./answers')).answersEngine;
  const override = process.env.MDPO_TRAINER_ENGINE;
  const mod = (override
    ? await import(pathToFileURL(override).href)
    : await import('./engine')) as { engine: Engine };
  return mod.engine;
}

const port = openPort();
const out = new Sequencer<ChildMessage>();
const incoming = new Sequencer<ParentMessage>((expected, got) =>
  send({ type: 'log', level: 'warn', message: `trainer: expected command #${expected}, got #${got}` }),
);
const send = (m: Unsequenced<ChildMessage>) => port.send(out.stamp(m));

const abort = new AbortController();
let paused: { re: number } | null = null;
let wake: (() => void) | null = null;
let job: TrainJob | null = null;
let currentStep = 0;
let eta: EtaTracker | null = null;

function resumeFromPause(re: number): void {
  if (!paused) return;
  paused = null;
  eta?.resetClock();
  if (job) send({ type: 'resumed', runId: job.runId, step: currentStep, re });
  const w = wake;
  wake = null;
  w?.();
}

port.onMessage((raw) => {
  if (!isParentMessage(raw)) {
    send({ type: 'log', level: 'warn', message: `trainer: ignored a malformed message` });
    return;
  }
  if (!incoming.accept(raw)) return;
  switch (raw.type) {
    case 'start':
      if (job) send({ type: 'log', level: 'warn', message: 'trainer: already running a job' });
      else void run(raw.job);
      break;
    case 'pause':
      paused ??= { re: raw.seq };
      break;
    case 'resume':
      resumeFromPause(raw.seq);
      break;
    case 'cancel':
      abort.abort(new CancelledError('Cancelled by the user.'));
      resumeFromPause(raw.seq);
      break;
  }
});

async function run(j: TrainJob): Promise<void> {
  job = j;
  currentStep = j.resumeFrom?.step ?? 0;
  try {
    const engine = await loadEngine(j);
    const result = await engine(j, {
      signal: abort.signal,
      async waitIfPaused(step) {
        currentStep = step;
        if (!paused || abort.signal.aborted) return;
        send({ type: 'paused', runId: j.runId, step, re: paused.re });
        await new Promise<void>((resolve) => (wake = resolve));
      },
      started(info) {
        eta = new EtaTracker();
        send({ type: 'started', runId: j.runId, ...info });
      },
      step(info) {
        currentStep = info.step;
        eta ??= new EtaTracker();
        send({ type: 'metrics', runId: j.runId, step: info.step, values: info.metrics });
        const progress = eta.step(info.step, info.totalSteps, info.epoch, info.pairs, info.tokens);
        if (info.pairsPerSec !== undefined) progress.pairsPerSec = info.pairsPerSec;
        if (info.tokensPerSec !== undefined) progress.tokensPerSec = info.tokensPerSec;
        send({ type: 'progress', runId: j.runId, ...progress });
      },
      checkpoint(step, path) {
        send({ type: 'checkpoint', runId: j.runId, step, path });
      },
      log(message) {
        send({ type: 'log', level: 'info', message });
      },
      evalProgress(done, total) {
        send({ type: 'evalProgress', runId: j.runId, done, total });
      },
      evaluation(rows, outputs) {
        send({ type: 'evaluation', runId: j.runId, rows, outputs });
      },
      demoHook(hook, args) {
        send({ type: 'demoHook', hook, args });
      },
      answer(text) {
        send({ type: 'answer', runId: j.runId, answer: text });
      },
      itemAnswer(itemId, text) {
        send({ type: 'itemAnswer', runId: j.runId, itemId, answer: text });
      },
      demoProgress(stage, message, fraction) {
        send({ type: 'demoProgress', stage, message, fraction });
      },
    });
    if (abort.signal.aborted) send({ type: 'cancelled', runId: j.runId, step: result.step });
    else send({ type: 'done', runId: j.runId, step: result.step, result: result.result });
  } catch (error) {
    if (abort.signal.aborted) send({ type: 'cancelled', runId: j.runId, step: currentStep });
    else send({ type: 'failed', runId: j.runId, error: serializeError(error) });
  }
  port.exit(0);
}

process.on('uncaughtException', (error) => {
  send({ type: 'failed', runId: job?.runId ?? null, error: serializeError(error) });
  port.exit(1);
});

send({ type: 'ready', pid: process.pid });
