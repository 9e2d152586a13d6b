import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DatasetSummary } from '../../../../shared/api';
import { BUILTIN_BASE } from '../../../../shared/schemas';
import { defaultValues, validateForm } from '../../lib/run-form';
import RunForm from './RunForm.svelte';

const dataset: DatasetSummary = {
  id: 1,
  name: 'world',
  sourcePath: '/tmp/world',
  format: 'silkie-json',
  createdAt: '2026-01-01T00:00:00Z',
  counts: { records: 10, valid: 10, errors: 0, warnings: 0 },
};

let component: ReturnType<typeof mount> | null = null;

function render(extra: Record<string, unknown> = {}) {
  const onStart = vi.fn();
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(RunForm, {
    target,
    props: { values: defaultValues(1), datasets: [dataset], builtinBase: BUILTIN_BASE, onStart, ...extra },
  });
  flushSync();
  const input = (path: string) => target.querySelector<HTMLInputElement>(`[data-field="${path}"] input`)!;
  const type = (path: string, value: string) => {
    const el = input(path);
    el.value = value;
    el.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
  };
  const error = (path: string) => target.querySelector(`[data-error="${path}"]`)?.textContent ?? null;
  const button = (text: RegExp) => [...target.querySelectorAll('button')].find((b) => text.test(b.textContent ?? ''))!;
  const click = (text: RegExp) => {
    button(text).click();
    flushSync();
  };
  return { target, onStart, input, type, error, click };
}

afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = '';
});

describe('run form defaults', () => {
  it('starts from the defaults of docs/objective.md and is valid', () => {
    const values = defaultValues(1);
    expect(values.beta).toBe('0.1');
    expect(values.delta).toBe('0');
    expect(values['lora.rank']).toBe('64');
    expect(values['lora.alpha']).toBe('128');
    expect(values['negative.cropMin']).toBe('0.01');
    expect(values['negative.cropMax']).toBe('0.2');
    expect(values.variant).toBe('mdpo');
    expect(values.schedule).toBe('cosine');
    expect(values.epochs).toBe('3');
    expect(Number(values.batchSize) * Number(values.gradAccum)).toBe(32);
    expect(validateForm(values).errors).toEqual({});
  });

  it('explains every field in one line', () => {
    const { target } = render();
    const fields = [...target.querySelectorAll('[data-field]')];
    expect(fields.length).toBeGreaterThan(25);
    for (const f of fields) expect(f.querySelector('.help')?.textContent?.trim().length).toBeGreaterThan(10);
  });
});

describe('run form validation', () => {
  it('refuses a non-positive beta with the reason and does not start', () => {
    const ui = render();
    ui.type('beta', '-0.5');
    expect(ui.error('beta')).toMatch(/>\s*0|positive|too small/i);
    expect(ui.input('beta').getAttribute('aria-invalid')).toBe('true');
    ui.click(/^Start run$/);
    expect(ui.onStart).not.toHaveBeenCalled();
    expect(ui.target.querySelector('[data-testid="form-summary"]')?.textContent).toMatch(/beta/);
  });

  it('refuses text where a number belongs', () => {
    const ui = render();
    ui.type('beta', 'abc');
    expect(ui.error('beta')).toBe('"abc" is not a number.');
  });

  it('refuses a crop range whose minimum exceeds its maximum', () => {
    const ui = render();
    ui.type('negative.cropMin', '0.5');
    ui.type('negative.cropMax', '0.2');
    expect(ui.error('negative.cropMin')).toBe('cropMin must not exceed cropMax');
    ui.click(/side by side/);
    expect(ui.onStart).not.toHaveBeenCalled();
  });

  it('refuses fractional epochs, a LoRA rank of 0, and Adam beta2 of 1', () => {
    const ui = render();
    ui.type('epochs', '1.5');
    ui.type('lora.rank', '0');
    ui.type('adamBeta2', '1');
    expect(ui.error('epochs')).toMatch(/whole number/);
    expect(ui.error('lora.rank')).toMatch(/>=\s*1|too small/i);
    expect(ui.error('adamBeta2')).toMatch(/<\s*1|too big/i);
  });

  it('an empty learning rate means the default, an empty beta is required', () => {
    const ui = render();
    ui.type('learningRate', '');
    ui.type('beta', '');
    expect(ui.error('learningRate')).toBeNull();
    expect(ui.error('beta')).toBe('Required.');
  });

  it('starts a single run or a matched pair when every value is valid', () => {
    const ui = render();
    ui.type('beta', '0.2');
    ui.click(/^Start run$/);
    expect(ui.onStart).toHaveBeenLastCalledWith(false);
    ui.click(/side by side/);
    expect(ui.onStart).toHaveBeenLastCalledWith(true);
  });

  it("shows the server's error at the field it names", () => {
    const ui = render({ serverErrors: { delta: 'config.delta: Too big: expected number to be <=1000' } });
    expect(ui.error('delta')).toMatch(/Too big/);
  });
});
