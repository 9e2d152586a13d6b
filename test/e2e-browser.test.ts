/**
 * End to end in a real browser: Debian's Chromium (playwright-core) against `npm run serve`
 * with a real store in a temp MDPO_HOME and the real trainer process. Imports the built-in
 * world's dataset, previews hard negatives, refuses a bad form value, starts a DPO + mDPO pair,
 * watches the curves move, compares the runs and opens the inspector on both answers.
 * Screenshots go to test-artifacts/e2e/ (look at them).
 *
 * Skipped only when /usr/bin/chromium is absent, and never when CI=true.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, rendererDir, serve, type Served } from './e2e/harness';
import { baseModelForTest } from './e2e/base-model';
import { writeWorldDataset } from './e2e/world-dataset';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true') throw new Error(`CI=true but ${CHROMIUM} is missing: the browser test must run in CI (apt-get install chromium).`);
  console.warn(`e2e-browser: SKIPPED, ${CHROMIUM} not found (apt-get install -y chromium to run it).`);
}

/** Training steps per run: enough for curves, short enough for CI. */
const STEPS = 6;

describe.skipIf(!haveChromium)('browser mode end to end', () => {
  let temp: string;
  let server: Served;
  let context: BrowserContext;
  let page: Page;
  let datasetDir: string;
  /** null = the shipped built-in base. */
  let baseDir: string | null;
  const consoleErrors: string[] = [];
  let runIds: number[] = [];

  // Full-page pictures from the top (the sticky header would otherwise land mid-page).
  const shot = async (name: string) => {
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  };

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    temp = mkdtempSync(join(tmpdir(), 'mdpo-e2e-'));
    datasetDir = join(temp, 'world-pairs');
    mkdirSync(datasetDir);
    const [renderer, , base] = await Promise.all([rendererDir(), writeWorldDataset(datasetDir), baseModelForTest(join(temp, 'base-model'))]);
    baseDir = base;
    if (baseDir) console.warn(`e2e-browser: resources/base-model is missing; training from an untrained world-size checkpoint at ${baseDir}.`);
    server = await serve(join(temp, 'home'), renderer);
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

  // A failing step leaves a picture of what the page showed.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail' && page) {
      await shot(`FAILED-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {});
    }
  });

  afterAll(async () => {
    await context?.close().catch(() => {});
    await server?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  }, 60_000);

  it('opens on the first-launch screen with the backend in the header', async () => {
    await page.goto(server.url);
    await page.getByTestId('first-launch').waitFor();
    await expect(page.getByTestId('backend').textContent()).resolves.toMatch(/Backend:\s*\S+/);
    await shot('01-first-launch');
  });

  it('imports the built-in world dataset and shows its validation report and records', async () => {
    await page.getByRole('button', { name: 'Import a dataset' }).click();
    await page.locator('input[name="path"]').fill(datasetDir);
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const report = page.getByRole('region', { name: 'Validation report' });
    await report.waitFor({ timeout: 60_000 });
    await expect(report.textContent()).resolves.toMatch(/valid\s*24/);
    await page.locator('tr[data-record]').first().waitFor();
    expect(await page.locator('tr[data-record]').count()).toBeGreaterThan(5);
    await expect(page.getByRole('region', { name: 'Selected record' }).textContent()).resolves.toContain('Describe the image.');
  });

  it('previews hard negatives and updates them when the crop range changes', async () => {
    const negatives = page.getByTestId('negatives').locator('img');
    await expect.poll(() => negatives.count(), { timeout: 30_000 }).toBe(5);
    const before = await negatives.nth(1).getAttribute('src');
    await page.locator('input[name="cropMin"]').fill('0.5');
    await page.locator('input[name="cropMax"]').fill('0.9');
    await expect.poll(() => negatives.nth(1).getAttribute('src'), { timeout: 30_000 }).not.toBe(before);
    await shot('02-dataset-negatives');
  });

  it('refuses a bad beta with the reason, then starts a DPO + mDPO pair', async () => {
    await page.getByRole('button', { name: 'Train on this dataset' }).click();
    const field = (path: string) => page.locator(`[data-field="${path}"] input`);
    await field('beta').fill('-1');
    await field('negative.cropMin').fill('0.5');
    await page.getByRole('button', { name: 'Start run' }).click();
    await expect(page.locator('[data-error="beta"]').textContent()).resolves.toMatch(/0/);
    await expect(page.locator('[data-error="negative.cropMin"]').textContent()).resolves.toBe('cropMin must not exceed cropMax');
    await shot('03-form-refused');
    await field('beta').fill('0.1');
    await field('negative.cropMin').fill('0.01');
    await field('maxSteps').fill(String(STEPS));
    await field('batchSize').fill('2');
    await field('gradAccum').fill('1');
    await field('checkpointEvery').fill('3');
    if (baseDir) {
      await page.locator('#f-base').selectOption('custom');
      await page.locator('input[name="baseModel"]').fill(baseDir);
      await field('learningRate').fill('0.001');
    }
    await page.getByRole('button', { name: 'Run DPO and mDPO side by side' }).click();
    await page.getByTestId('runs-table').waitFor();
    await page.waitForURL(/#\/runs\?ids=\d+(%2C|,)\d+/);
    runIds = decodeURIComponent(new URL(page.url()).hash.split('ids=')[1]!).split(',').map(Number);
    expect(runIds).toHaveLength(2);
  });

  /** Waits for the run page's step to reach `min`, or fails at once with the reason the UI shows for a failed run. */
  async function waitForStep(min: number, timeout: number): Promise<number> {
    const deadline = Date.now() + timeout;
    for (;;) {
      const status = (await page.getByTestId('run-status').textContent()) ?? '';
      const step = Number(((await page.getByTestId('run-step').textContent()) ?? '0').split('/')[0]);
      if (step >= min) return step;
      if (/failed|cancelled|interrupted/.test(status)) {
        await shot('04-run-failed');
        const why = (await page.getByTestId('run-error').textContent().catch(() => null)) ?? '(no reason shown)';
        trainingFailed = `run ${status} at step ${step}: ${why.trim()}`;
        throw new Error(`The training run did not train: ${trainingFailed}`);
      }
      if (/completed/.test(status)) return step;
      if (Date.now() > deadline) throw new Error(`No step ${min} within ${timeout} ms (status ${status}, step ${step}).`);
      await page.waitForTimeout(500);
    }
  }
  let trainingFailed: string | null = null;
  const needTraining = () => {
    if (trainingFailed) throw new Error(`Skipped after the training failure: ${trainingFailed}`);
  };

  it('shows the mDPO run training live: the step count and the curves move', async () => {
    await page.goto(`${new URL(server.url).origin}/#/run/${runIds[1]}`);
    await page.getByTestId('run-step').waitFor();
    const first = await waitForStep(1, 240_000);
    const loss = page.locator('[data-chart="Loss"]');
    await expect.poll(() => loss.locator('canvas').count()).toBeGreaterThan(0);
    if (first < STEPS) {
      await waitForStep(first + 1, 240_000);
      await shot('04-run-live');
    }
    await expect(loss.textContent()).resolves.not.toContain('Waiting for the first step');
    await waitForStep(STEPS, 300_000);
    await expect.poll(() => page.getByTestId('run-status').textContent(), { timeout: 120_000, interval: 1000 }).toMatch(/completed|failed/);
    await expect(page.getByTestId('run-status').textContent()).resolves.toBe('completed');
    await expect(page.locator('[data-chart="Image conditioning"] canvas').count()).resolves.toBeGreaterThan(0);
    await shot('05-run-done');
  }, 600_000);

  it('overlays both runs and lists their config differences', async () => {
    needTraining();
    await page.goto(`${new URL(server.url).origin}/#/runs?ids=${runIds.join(',')}`);
    const table = page.getByTestId('runs-table');
    await expect
      .poll(async () => ((await table.locator('.badge.failed').count()) > 0 ? 'failed' : await table.locator('.badge.completed').count()), { timeout: 300_000, interval: 1000 })
      .toBe(2);
    const diff = page.getByTestId('config-diff');
    await diff.waitFor();
    await expect(diff.textContent()).resolves.toContain('variant');
    await page.locator('[data-chart="Loss"] canvas').first().waitFor();
    await shot('06-runs-compare');
  }, 400_000);

  it('opens the inspector on the pair and shows both answers', async () => {
    needTraining();
    await page.getByRole('button', { name: /Inspect these two/ }).click();
    await page.getByRole('region', { name: 'Ask both models' }).waitFor();
    const info = await page.evaluate(async () => {
      const r = await fetch('/api/app:info', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'null' });
      return ((await r.json()) as { value: { features: { evaluation: boolean; ask: boolean } } }).value.features;
    });
    // Stored answers (evaluation) in the side-by-side view; a new question to both models (ask).
    expect(info.evaluation || info.ask, 'the back end offers neither evaluation outputs nor ask: nothing to inspect').toBe(true);
    if (info.evaluation) {
      // Both runs answer the same held-out scenes; their answers then pair up side by side.
      await page.locator('input[name="evalScenes"]').fill('8');
      await page.getByRole('button', { name: 'Evaluate both runs' }).click();
      const progress = page.getByTestId('evaluate');
      await expect
        .poll(async () => {
          const text = (await progress.textContent()) ?? '';
          return /failed/.test(text) ? text : (text.match(/evaluated/g) ?? []).length;
        }, { timeout: 300_000, interval: 1000 })
        .toBe(2);
      const detail = page.getByTestId('pair-detail');
      await detail.waitFor({ timeout: 240_000 });
      await expect.poll(() => page.getByTestId('eval-table').locator('tbody tr').count(), { timeout: 120_000 }).toBeGreaterThan(3);
      await expect(detail.locator('[data-side="a"] [data-testid="answer"]').textContent()).resolves.not.toBe('');
      await expect(detail.locator('[data-side="b"] [data-testid="answer"]').textContent()).resolves.not.toBe('');
      await page.keyboard.press('j');
    }
    await shot('07-inspect');
    if (info.ask) {
      await page.getByRole('button', { name: 'Ask', exact: true }).click();
      const answers = page.getByTestId('ask-answers').locator('[data-testid="answer"]');
      await expect.poll(() => answers.count(), { timeout: 120_000 }).toBe(2);
      await shot('08-ask');
    }
    expect(consoleErrors).toEqual([]);
  }, 600_000);
});
