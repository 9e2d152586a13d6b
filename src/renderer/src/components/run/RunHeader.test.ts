import { flushSync, mount, unmount } from 'svelte';
import { afterEach, expect, it, vi } from 'vitest';
import type { RunDetail, RunStatus } from '../../../../shared/api';
import { trainConfigSchema } from '../../../../shared/schemas';
import RunHeader from './RunHeader.svelte';

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = '';
});

function detail(status: RunStatus, extra: Partial<RunDetail> = {}): RunDetail {
  return {
    id: 3, name: 'mdpo run', datasetId: 1, variant: 'mdpo', status, backend: 'wasm', pairId: null, step: 4, totalSteps: 10,
    createdAt: '', startedAt: null, finishedAt: null, lastCheckpointStep: 4, latest: {}, error: null,
    config: trainConfigSchema.parse({ datasetId: 1 }), parentCheckpoint: null, checkpoints: [], progress: null, ...extra,
  };
}

function render(run: RunDetail) {
  const onAction = vi.fn();
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(RunHeader, {
    target,
    props: { run, progress: null, datasetName: 'world', partner: null, busy: false, learningRate: null, onAction, onInspect: () => {} },
  });
  flushSync();
  const buttons = () => [...target.querySelectorAll('button')].map((b) => b.textContent?.trim());
  const click = (name: string) => [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === name)!.click();
  return { target, onAction, buttons, click };
}

it('a running run can be paused or cancelled', () => {
  const ui = render(detail('running'));
  expect(ui.buttons()).toEqual(['Pause', 'Cancel', 'Inspect']);
  ui.click('Pause');
  expect(ui.onAction).toHaveBeenCalledWith('pause');
});

it('a paused run can be resumed or cancelled', () => {
  const ui = render(detail('paused'));
  expect(ui.buttons()).toEqual(['Resume', 'Cancel', 'Inspect']);
  ui.click('Resume');
  expect(ui.onAction).toHaveBeenCalledWith('resume');
});

it('an interrupted run resumes from its last checkpoint', () => {
  const ui = render(detail('interrupted'));
  expect(ui.buttons()).toContain('Resume from step 4');
  expect(ui.target.textContent).toContain('The trainer process died');
});

it('a failed run shows why', () => {
  const ui = render(detail('failed', { error: { name: 'TrainingDivergedError', message: 'loss is NaN at step 4', stack: 'at loop.ts:1' } }));
  const box = ui.target.querySelector('[data-testid="run-error"]')!;
  expect(box.textContent).toContain('TrainingDivergedError');
  expect(box.textContent).toContain('loss is NaN at step 4');
  expect(ui.buttons()).toEqual(['Inspect', 'Delete']);
});

it('Export job… is offered for a Hugging Face base (torch engine), never for the built-in world base', () => {
  const target = document.createElement('div');
  document.body.appendChild(target);
  const onExportJob = vi.fn();
  const hf = detail('completed', { config: trainConfigSchema.parse({ datasetId: 1, baseModel: '/models/llava', engine: 'torch' }) });
  component = mount(RunHeader, { target, props: { run: hf, progress: null, datasetName: 'd', partner: null, busy: false, learningRate: null, onAction: () => {}, onInspect: () => {}, onExportJob } });
  flushSync();
  const exportButton = [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Export job…');
  exportButton!.click();
  expect(onExportJob).toHaveBeenCalledTimes(1);
  unmount(component);
  component = mount(RunHeader, { target, props: { run: detail('completed'), progress: null, datasetName: 'd', partner: null, busy: false, learningRate: null, onAction: () => {}, onInspect: () => {}, onExportJob } });
  flushSync();
  expect([...target.querySelectorAll('button')].map((b) => b.textContent?.trim())).not.toContain('Export job…');
});
