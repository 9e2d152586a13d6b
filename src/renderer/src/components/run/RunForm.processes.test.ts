/** The New run form's Processes row (torch only; config.torch.processes / torch.devices, docs/run-settings.md#processes). */
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, expect, it } from 'vitest';
import type { DatasetSummary } from '../../../../shared/api';
import { BUILTIN_BASE } from '../../../../shared/schemas';
import { defaultValues, validateForm } from '../../lib/run-form';
import RunForm from './RunForm.svelte';

const dataset: DatasetSummary = { id: 1, name: 'world', sourcePath: '/tmp/world', format: 'silkie-json', createdAt: '', counts: { records: 10, valid: 10, errors: 0, warnings: 0 } };
let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = '';
});

const torch = { ...defaultValues(1), engine: 'torch', baseModel: '/models/qwen2-vl' };

it('processes, all GPUs and a GPU list reach config.torch; bad values are refused with the reason', () => {
  expect(validateForm(torch).config!.torch).toEqual({ processes: 1 });
  expect(validateForm({ ...torch, parallelValue: '4' }).config!.torch).toEqual({ processes: 4 });
  expect(validateForm({ ...torch, parallel: 'all' }).config!.torch).toEqual({ devices: 'all' });
  expect(validateForm({ ...torch, parallel: 'gpus', parallelValue: '0, 2' }).config!.torch).toEqual({ devices: [0, 2] });
  expect(validateForm({ ...torch, parallelValue: 'two' }).errors).toEqual({ processes: 'A whole number of processes, got "two".' });
  expect(validateForm({ ...torch, parallel: 'gpus', parallelValue: '0;1' }).errors).toEqual({ processes: 'GPU indices separated by commas (like 0,1), got "0;1".' });
  expect(Object.keys(validateForm({ ...torch, parallelValue: '0' }).errors)).toEqual(['torch.processes']);
  expect(validateForm({ ...torch, parallel: 'gpus', parallelValue: '1,1' }).errors).toEqual({ 'torch.devices': 'torch.devices lists a GPU twice: 1,1.' });
  expect(validateForm({ ...defaultValues(1), parallelValue: 'ignored' }).config!.torch).toBeUndefined(); // tfjs: no torch block
});

it('the row shows only for the torch engine, with help and a link, and its error under it', () => {
  const target = document.createElement('div');
  document.body.appendChild(target);
  const mountWith = (values: Record<string, string | boolean>) => {
    if (component) unmount(component);
    component = mount(RunForm, { target, props: { values, datasets: [dataset], builtinBase: BUILTIN_BASE, onStart: () => {} } });
    flushSync();
  };
  mountWith(defaultValues(1));
  expect(target.querySelector('[data-field="processes"]')).toBeNull();
  mountWith({ ...torch, parallel: 'gpus', parallelValue: 'x' });
  const row = target.querySelector('[data-field="processes"]')!;
  expect([...row.querySelectorAll('option')].map((o) => o.textContent)).toEqual(['Processes', 'All GPUs', 'These GPUs']);
  expect(row.querySelector('.help')!.textContent).toContain("Each step's pairs are shared among N processes");
  expect(row.querySelector('a[data-doc="processes"]')!.getAttribute('href')).toBe('docs/run-settings.html#processes');
  expect(row.querySelector('[data-error="processes"]')!.textContent).toBe('GPU indices separated by commas (like 0,1), got "x".');
  mountWith({ ...torch, parallel: 'all' });
  expect(target.querySelector('[data-field="processes"] input')).toBeNull();
});
