/**
 * API handlers for hallucination inspection on the user's own data (evalsets:*, answers:*,
 * inspect:*), over src/main/inspect. Merged into the one handler set by ./handlers.ts.
 */
import type { ApiOutputs, ImageData } from '../../shared/api';
import type { AnswerJob } from '../../shared/inspect';
import type { ParsedInput } from '../../shared/schemas';
import { AnswerJobError, AnswerJobs } from '../inspect/answer-jobs';
import { InspectError, InspectService } from '../inspect/service';
import type { Store } from '../store';
import type { InspectStore, JobRow } from '../store/inspect';
import type { TrainerLauncher } from '../trainer/launch';
import type { Supervisor } from '../trainer/supervisor';
import type { DatasetService } from './datasets';
import { HandlerError } from './errors';

type InspectChannel = Extract<keyof ApiOutputs, `evalsets:${string}` | `answers:${string}` | `inspect:${string}`>;
export type InspectHandlers = { [C in InspectChannel]: (input: ParsedInput<C>) => Promise<ApiOutputs[C]> };

export interface InspectContext {
  store: Store;
  inspect: InspectStore;
  supervisor: Supervisor;
  home: string;
  appRoot: string;
  launcher: TrainerLauncher;
  trainerEnv?: Record<string, string>;
  datasets: () => Promise<DatasetService>;
}

/** InspectError / AnswerJobError -> the API's HandlerError (code and field kept). */
async function mapped<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof InspectError || e instanceof AnswerJobError) throw new HandlerError(e.code, e.message, e.field);
    throw e;
  }
}

const publicJob = (j: JobRow): AnswerJob => {
  const { runId: _r, answerKey: _k, ownerPid: _o, ...rest } = j;
  return rest;
};

export function createInspectHandlers(ctx: InspectContext) {
  const jobs = new AnswerJobs(ctx.store, ctx.inspect, {
    home: ctx.home,
    appRoot: ctx.appRoot,
    launcher: ctx.launcher,
    trainerEnv: ctx.trainerEnv,
    emit: (event) => ctx.supervisor.publish(event),
  });
  // Jobs a dead process left behind can be started again (finished items are kept).
  ctx.inspect.recoverInterrupted();
  const service = new InspectService({
    store: ctx.store,
    inspect: ctx.inspect,
    jobs,
    datasetRecords: async (id) => (await ctx.datasets()).records(id),
    importDataset: async (path, name) => {
      const detail = await (await ctx.datasets()).import({ path, name });
      ctx.supervisor.publish({ type: 'dataset:imported', datasetId: detail.id });
      return detail.id;
    },
  });

  const handlers = {
    'evalsets:import': (i) => mapped(() => service.importProbe(i.path, i.name)),
    'evalsets:fromRun': (i) => mapped(() => service.fromRun(i.runId)),
    'evalsets:list': async () => ctx.inspect.listSets(),
    'evalsets:get': (i) => mapped(() => service.getSet(i.setId)),
    'evalsets:delete': (i) =>
      mapped(() => {
        service.deleteSet(i.setId);
        return { deleted: true as const };
      }),
    'answers:models': async () => jobs.models(),
    'answers:start': (i) =>
      mapped(async () => (await jobs.start(i.setId, i.models, { maxTokens: i.maxTokens, temperature: i.temperature, seed: i.seed })).map(publicJob)),
    'answers:jobs': (i) =>
      mapped(() => {
        service.getSet(i.setId);
        return ctx.inspect.listJobs(i.setId).map((j) => publicJob(jobs.job(j.id)!));
      }),
    'answers:cancel': (i) => mapped(() => publicJob(jobs.cancel(i.jobId))),
    'inspect:page': (i) => mapped(() => service.page(i.setId, i.modelA, i.modelB, i.offset, i.limit)),
    'inspect:mark': (i) => mapped(() => ({ markId: service.mark(i.setId, i.answerId, i.start, i.end) })),
    'inspect:unmark': (i) => mapped(() => ({ removed: service.unmark(i.setId, i.markId) })),
    'inspect:verdict': (i) =>
      mapped(() => {
        service.verdict(i.setId, i.answerA, i.answerB, i.verdict, i.note);
        return { saved: true as const };
      }),
    'inspect:undo': (i) => mapped(() => ({ undone: service.undo(i.setId) })),
    'inspect:exportPairs': (i) => mapped(() => service.exportPairs(i.setId, i.modelA, i.modelB, i.dir, i.import)),
    'inspect:exportJudgments': (i) => mapped(() => service.exportJudgments(i.setId, i.modelA, i.modelB, i.path, i.format)),
    'inspect:report': (i) =>
      mapped(async () => {
        const { writeInspectReport } = await import('../inspect/report');
        return writeInspectReport(service.reportData(i.setId, i.modelA, i.modelB), i.path);
      }),
  } satisfies InspectHandlers;

  /** images:get for `evalitem:<id>`. */
  const image = async (ref: string, size: number | undefined): Promise<ImageData | null> => {
    const m = /^evalitem:(\d+)$/.exec(ref);
    if (!m) return null;
    const item = ctx.inspect.getItem(Number(m[1]));
    if (!item) throw new HandlerError('not_found', `Evaluation item ${m[1]} does not exist.`, 'ref');
    const { readImageBytes } = await import('../../core/data/preprocess');
    const { encodeImage } = await import('./datasets');
    return encodeImage(Buffer.from(await readImageBytes(item.imageRef)), size);
  };

  return { handlers, image, jobs, service };
}
