/**
 * Hallucination inspection on the user's own data, end to end in a real browser: Debian's
 * Chromium (playwright-core) against `npm run serve` with a real store and real trainer
 * processes. First it trains two runs through the app's API (runs:create with a random tiny
 * SmolVLM/Idefics3 folder in HF's layout, DPO and mDPO side by side, a few steps on the tfjs
 * engine in real trainer processes; their adapters are PEFT folders); then it imports a probe set
 * with POPE labels and one with object annotations, generates answers from both runs, marks a
 * span with the keyboard (select + h), gives verdicts with 1-4 and j/k, sees the tallies change,
 * undoes, exports the judged pairs and finds them imported back as a dataset. Last, world scenes
 * annotated with their objects, answered by the built-in base and a run on it, show the
 * automatic correct/hallucinated marks, and the HTML report is written and opened.
 * Screenshots go to test-artifacts/e2e/inspect-*.png.
 *
 * Skipped only when /usr/bin/chromium is absent, and never when CI=true.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { writeTinyHfFolder } from '../src/core/hf/testing/fixtures';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { DatasetDetail, RunSummary } from '../src/shared/api';
import { REPO_ROOT } from './api-fixtures';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, rendererDir, serve, type Served } from './e2e/harness';
import { writeProbeSets, writeWorldRunAndSet } from './inspect-fixtures';

async function call<T>(b: Backend, channel: string, input?: unknown): Promise<T> {
  const r = await dispatch(b.handlers, channel, input);
  if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
  return r.value as T;
}

/**
 * A tiny SmolVLM folder (HF layout) and a DPO and an mDPO run on it, created with runs:create
 * (pair) on a 6-pair dataset and trained to completion by the tfjs engine in trainer processes.
 */
async function trainHfRuns(dir: string, backend: Backend): Promise<RunSummary[]> {
  const base = join(dir, 'smolvlm-tiny');
  await writeTinyHfFolder(base, 'smolvlm', { seed: 3 });
  const pairs = join(dir, 'train-pairs');
  mkdirSync(join(pairs, 'img'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 40 * i, g: 160, b: 220 - 30 * i } } }).png().toBuffer();
    writeFileSync(join(pairs, 'img', `${i}.png`), png);
    lines.push(JSON.stringify({ img_path: `img/${i}.png`, prompt: 'Is there a dog in the image?', chosen: i % 2 ? 'yes, a dog on a sofa.' : 'no, there is a car.', rejected: 'a cat.' }));
  }
  writeFileSync(join(pairs, 'data.jsonl'), lines.join('\n') + '\n');
  const dataset = await call<DatasetDetail>(backend, 'datasets:import', { path: pairs });
  const config = {
    name: 'tiny', datasetId: dataset.id, baseModel: base, backend: 'cpu', batchSize: 2, gradAccum: 1, epochs: 1, maxSteps: 3,
    checkpointEvery: 0, learningRate: 0.05, warmupRatio: 0, lora: { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj'] }, seed: 3,
  };
  const runs = await call<RunSummary[]>(backend, 'runs:create', { config, pair: true });
  expect(runs.map((r) => r.variant)).toEqual(['dpo', 'mdpo']);
  for (const r of runs) {
    const status = await backend.supervisor.waitFor(r.id);
    expect(status, `run ${r.id}: ${JSON.stringify(backend.store.getRun(r.id)!.error)}`).toBe('completed');
    expect(existsSync(join(backend.store.getRun(r.id)!.runDir, 'adapter', 'adapter_config.json'))).toBe(true);
  }
  return runs;
}

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true') throw new Error(`CI=true but ${CHROMIUM} is missing: the browser test must run in CI (apt-get install chromium).`);
  console.warn(`e2e-inspect: SKIPPED, ${CHROMIUM} not found (apt-get install -y chromium to run it).`);
}

describe.skipIf(!haveChromium)('Inspect: your data, end to end in the browser', () => {
  let temp: string;
  let server: Served;
  let context: BrowserContext;
  let page: Page;
  let sets: { pope: string; objects: string };
  let world: { runId: number; set: string };
  let origin: string;
  const consoleErrors: string[] = [];

  const shot = async (name: string) => {
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };
  const tallyText = () => page.getByTestId('tallies').textContent();

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    temp = mkdtempSync(join(tmpdir(), 'mdpo-e2e-inspect-'));
    const home = join(temp, 'home');
    const backend = openBackend({ home, mode: 'cli', appRoot: REPO_ROOT, trainerEnv: {} });
    try {
      await trainHfRuns(temp, backend);
      world = await writeWorldRunAndSet(temp, backend.store, 6);
    } finally {
      await backend.close();
    }
    sets = await writeProbeSets(temp);
    const renderer = await rendererDir();
    server = await serve(home, renderer);
    origin = new URL(server.url).origin;
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(temp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
  }, 300_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page) {
      await shot(`FAILED-inspect-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
    }
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await server?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  }, 60_000);

  it('imports an object-annotated and a POPE probe set from the Inspect screen', async () => {
    await page.goto(server.url);
    await page.goto(`${origin}/#/inspect`);
    await page.getByTestId('tab-data').click();
    await page.getByTestId('no-sets').waitFor();
    for (const [path, text] of [[join(sets.objects, 'probe.json'), 'Imported "probe.json": 3 of 3 items valid (0 yes/no, 3 object-annotated, 0 plain)'], [sets.pope, 'Imported "pope": 4 of 4 items valid (4 yes/no, 0 object-annotated, 0 plain)']] as const) {
      await page.getByTestId('probe-path').fill(path);
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await expect.poll(() => page.getByTestId('notice').textContent(), { timeout: 30_000 }).toContain(text);
    }
    await expect(page.getByTestId('set-select').inputValue()).resolves.not.toBe('');
    await page.getByTestId('probe-item').waitFor();
    await shot('inspect-01-imported');
  }, 120_000);

  it('generates answers from both runs in the trainer process and shows them with yes/no checks', async () => {
    await page.getByTestId('generate').click();
    await page.locator('[data-testid="probe-answer-A"] [data-answer-id]').waitFor({ timeout: 240_000 });
    await page.locator('[data-testid="probe-answer-B"] [data-answer-id]').waitFor({ timeout: 240_000 });
    await expect(page.getByTestId('yesno-A').textContent()).resolves.toMatch(/^(yes|no) · (correct|wrong)$/);
    await expect(page.getByTestId('auto-scores').textContent()).resolves.toContain('POPE accuracy');
    await expect(tallyText()).resolves.toContain('Judged 0 of 4 · 4 left');
    await shot('inspect-02-answers');
  }, 300_000);

  it('marks a span with select + h (and unmarks), gives verdicts with 1-4 and j/k, and the tallies follow; u undoes; notes are kept', async () => {
    // Select the first characters of answer A, as a mouse would.
    // (A string, so the DOM code does not need the DOM typings of the Node test project.)
    const marked = await page.evaluate<string>(`(() => {
      const p = document.querySelector('[data-testid="probe-answer-A"] [data-answer-id]');
      const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
      let node = walker.nextNode();
      while (node && node.textContent.trim() === '') node = walker.nextNode();
      if (!node) return '';
      const range = document.createRange();
      range.setStart(node, 0);
      range.setEnd(node, Math.min(3, node.textContent.length));
      window.getSelection().removeAllRanges();
      window.getSelection().addRange(range);
      return range.toString();
    })()`);
    expect(marked.trim().length, 'answer A of the first item has text to select').toBeGreaterThan(0);
    await page.keyboard.press('h');
    const human = page.locator('[data-testid="probe-answer-A"] mark.human');
    await expect.poll(() => human.textContent()).toBe(marked);
    // Unmark with its × button, then u brings the mark back.
    await page.locator('[data-testid="probe-answer-A"] button.unmark').click();
    await expect.poll(() => human.count()).toBe(0);
    await page.keyboard.press('u');
    await expect.poll(() => human.textContent()).toBe(marked);
    await page.keyboard.press('2');
    await expect.poll(() => page.getByTestId('verdict').textContent()).toBe('B better');
    await expect.poll(tallyText).toContain('Judged 1 of 4 · 3 left');
    // 1 of 1 judged answers of A has a marked span: 100% with the Wilson interval [20.7%, 100%].
    await expect(page.getByTestId('rate-a').textContent()).resolves.toBe('100.0% [20.7%, 100.0%]');
    await expect(page.getByTestId('rate-b').textContent()).resolves.toBe('0.0% [0.0%, 79.3%]');
    await page.keyboard.press('j');
    await page.keyboard.press('2');
    await expect.poll(tallyText).toContain('Judged 2 of 4 · 2 left');
    await expect(page.getByTestId('sign-p').textContent()).resolves.toBe('p = 0.500');
    // 1 of 2: 50.0% [9.5%, 90.5%].
    await expect(page.getByTestId('rate-a').textContent()).resolves.toBe('50.0% [9.5%, 90.5%]');
    await page.keyboard.press('j');
    await page.keyboard.press('3');
    await expect.poll(tallyText).toContain('Judged 3 of 4 · 1 left');
    await page.keyboard.press('u');
    await expect.poll(tallyText).toContain('Judged 2 of 4 · 2 left');
    await page.keyboard.press('k');
    // A note is saved when the field loses focus, and is there when the item comes back.
    await page.getByLabel('Note').fill('B does not invent a cat');
    await page.getByLabel('Note').blur();
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    await expect.poll(() => page.getByLabel('Note').inputValue()).toBe('B does not invent a cat');
    // The first item: its marked span and its verdict.
    await page.keyboard.press('k');
    await expect.poll(() => human.count()).toBe(1);
    await shot('inspect-03-judged');
  }, 120_000);

  it('exports the judged pairs, which import straight back as a preference dataset', async () => {
    await page.locator('summary', { hasText: 'Export' }).click();
    await page.getByTestId('pairs-dir').fill(join(temp, 'judged-pairs'));
    await page.getByTestId('export-pairs').click();
    const notice = page.getByTestId('notice');
    await expect.poll(() => notice.textContent(), { timeout: 60_000 }).toMatch(/Wrote \d+ pairs to .*pairs\.jsonl; imported as dataset \d+/);
    const text = (await notice.textContent())!;
    const pairs = Number(/Wrote (\d+) pairs/.exec(text)![1]);
    expect(pairs).toBeGreaterThan(0);
    const datasetId = Number(/imported as dataset (\d+)/.exec(text)![1]);
    await page.goto(`${origin}/#/datasets/${datasetId}`);
    const report = page.getByRole('region', { name: 'Validation report' });
    await report.waitFor({ timeout: 60_000 });
    await expect(report.textContent()).resolves.toMatch(new RegExp(`valid\\s*${pairs}`));
    await shot('inspect-04-pairs-imported');
  }, 120_000);

  it('answers the object-annotated set and shows its CHAIR scores', async () => {
    await page.goto(`${origin}/#/inspect`);
    await page.getByTestId('tab-data').click();
    const select = page.getByTestId('set-select');
    await select.waitFor();
    const objectsValue = await select.locator('option', { hasText: 'probe.json' }).getAttribute('value');
    await select.selectOption(objectsValue!);
    await page.getByTestId('generate').click();
    await page.locator('[data-testid="probe-answer-B"] [data-answer-id]').waitFor({ timeout: 240_000 });
    await expect.poll(() => page.getByTestId('auto-scores').textContent(), { timeout: 60_000 }).toContain('CHAIR_s');
    await expect(page.getByTestId('probe-item').textContent()).resolves.toContain('objects present: dog, sofa');
    await shot('inspect-05-objects');
    expect(consoleErrors).toEqual([]);
  }, 300_000);

  it('marks the objects the built-in base names in world scenes, and writes the HTML report', async () => {
    await page.getByTestId('probe-path').fill(world.set);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await expect.poll(() => page.getByTestId('notice').textContent(), { timeout: 30_000 }).toContain('Imported "world-probe": 6 of 6 items valid (0 yes/no, 6 object-annotated, 0 plain)');
    await page.getByTestId('model-a').selectOption(`base:${world.runId}`);
    await page.getByTestId('model-b').selectOption(`run:${world.runId}`);
    await page.getByTestId('generate').click();
    await page.locator('[data-testid="probe-answer-B"] [data-answer-id]').waitFor({ timeout: 240_000 });
    const autoMarks = page.locator('[data-testid="probe-answer-A"] mark[data-kind]');
    await expect.poll(() => autoMarks.count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect(page.getByTestId('auto-scores').textContent()).resolves.toMatch(/CHAIR_s ↓\d+\.\d%/);
    await page.keyboard.press('1');
    await expect.poll(tallyText).toContain('Judged 1 of 6');
    await shot('inspect-06-world-marks');
    const reportPath = join(temp, 'report.html');
    await page.locator('summary', { hasText: 'Export' }).click();
    await page.getByPlaceholder('/path/to/report.html').fill(reportPath);
    await page.getByRole('button', { name: 'Write HTML report' }).click();
    await expect.poll(() => page.getByTestId('notice').textContent(), { timeout: 60_000 }).toContain(`Wrote the report (6 items) to ${reportPath}`);
    await page.goto(`file://${reportPath}`);
    await expect(page.locator('h2').allTextContents()).resolves.toEqual(['Automatic scores', 'Human judgments', 'Items']);
    expect(await page.locator('section.item img').count()).toBe(6);
    await page.screenshot({ path: join(ARTIFACTS, 'inspect-07-report.png'), fullPage: false });
    expect(consoleErrors).toEqual([]);
  }, 300_000);
});
