import { flushSync, mount, tick, unmount } from 'svelte';
import { afterEach, expect, it, vi } from 'vitest';
import type { TorchDoctor } from '../../../shared/api';
import EngineStatus from './EngineStatus.svelte';

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  document.body.innerHTML = '';
});

const packages = ['torch', 'transformers', 'peft', 'accelerate', 'safetensors'].map((name) => ({ name, version: null, pinned: '1.0.0', error: null }));
const missing: TorchDoctor = {
  ok: false,
  python: { path: '/usr/bin/python3', source: 'PATH', version: '3.11.7' },
  searched: [],
  packages,
  devices: { cuda: [], mps: false, cpuThreads: null, cpuCount: 8 },
  device: null,
  problem: { message: 'The Python at /usr/bin/python3 lacks torch.', fix: 'cd "/app" && npm run setup:python' },
  warnings: [],
};
const ready: TorchDoctor = {
  ...missing,
  ok: true,
  packages: packages.map((p) => ({ ...p, version: '1.0.0' })),
  devices: { cuda: [{ index: 0, name: 'NVIDIA RTX 4090', memoryBytes: 24 * 1024 ** 3, capability: '8.9', bf16: true }], mps: false, cpuThreads: 16, cpuCount: 32 },
  device: 'cuda',
  problem: null,
};

async function render(load: (refresh: boolean) => Promise<TorchDoctor>) {
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(EngineStatus, { target, props: { load } });
  await tick();
  await tick();
  flushSync();
  const badge = target.querySelector<HTMLButtonElement>('[data-testid="engine-status"]')!;
  return { target, badge };
}

it('a missing environment shows the one message and the fix command', async () => {
  const load = vi.fn(async () => missing);
  const { target, badge } = await render(load);
  expect(badge.textContent?.trim()).toBe('torch: not set up');
  badge.click();
  flushSync();
  expect(target.querySelector('[data-testid="engine-problem"]')!.textContent).toBe('The Python at /usr/bin/python3 lacks torch.');
  expect(target.querySelector('[data-testid="engine-fix"]')!.textContent).toBe('cd "/app" && npm run setup:python');
  expect(load).toHaveBeenCalledWith(false);
});

it('a ready GPU names the card and its precision; "Check again" probes anew', async () => {
  const load = vi.fn(async () => ready);
  const { target, badge } = await render(load);
  expect(badge.textContent?.trim()).toBe('torch: NVIDIA RTX 4090 (bf16)');
  badge.click();
  flushSync();
  expect(target.textContent).toContain('cuda:0 NVIDIA RTX 4090, 24.0 GiB, bf16');
  expect(target.textContent).toContain('CPU: 16 torch threads, 32 logical CPUs');
  [...target.querySelectorAll('button')].find((b) => b.textContent === 'Check again')!.click();
  await tick();
  expect(load).toHaveBeenLastCalledWith(true);
});

it('a failed check says so', async () => {
  const { badge, target } = await render(async () => {
    throw new Error('HTTP 500');
  });
  expect(badge.textContent?.trim()).toBe('torch: check failed');
  badge.click();
  flushSync();
  expect(target.querySelector('.err')!.textContent).toBe('HTTP 500');
});
