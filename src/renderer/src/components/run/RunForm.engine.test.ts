import { flushSync, mount, unmount } from 'svelte';
import { afterEach, expect, it, vi } from 'vitest';
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

it('the engine defaults to tfjs and reaches the config', () => {
  const values = defaultValues(1);
  expect(values.engine).toBe('tfjs');
  expect(validateForm(values).config?.engine).toBe('tfjs');
  expect(validateForm({ ...values, engine: 'torch', baseModel: '/models/qwen2-vl' }).config).toMatchObject({ engine: 'torch', baseModel: '/models/qwen2-vl' });
});

it('torch on the built-in base is refused on the base model field, with the reason', () => {
  const { errors, config } = validateForm({ ...defaultValues(1), engine: 'torch', baseModel: BUILTIN_BASE });
  expect(config).toBeNull();
  expect(errors).toEqual({ baseModel: 'The torch engine trains a Hugging Face checkpoint folder; the built-in world base runs on the tfjs engine.' });
});

it('the selector offers both engines with one line of help, and picking torch shows the refusal', () => {
  const onStart = vi.fn();
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(RunForm, {
    target,
    props: {
      values: defaultValues(1),
      datasets: [dataset],
      builtinBase: BUILTIN_BASE,
      onStart,
    },
  });
  flushSync();
  const select = target.querySelector<HTMLSelectElement>('[data-field="engine"] select')!;
  expect([...select.options].map((o) => [o.value, o.textContent])).toEqual([['tfjs', 'tfjs (built in)'], ['torch', 'torch (Python)']]);
  expect(target.querySelector('[data-field="engine"] .help')!.textContent).toContain('torch runs PyTorch + transformers + PEFT on a Hugging Face folder');
  select.value = 'torch';
  select.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
  expect(select.value).toBe('torch');
  expect(target.querySelector('[data-error="baseModel"]')!.textContent).toBe('The torch engine trains a Hugging Face checkpoint folder; the built-in world base runs on the tfjs engine.');
  [...target.querySelectorAll('button')].find((b) => b.textContent?.trim() === 'Start run')!.click();
  flushSync();
  expect(onStart).not.toHaveBeenCalled();
});
