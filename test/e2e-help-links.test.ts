/**
 * The app's help in a real browser (issue 22): Debian's Chromium (playwright-core) against
 * `npm run serve`. Every New run field has a help link; clicking one opens docs/run-settings.md
 * rendered by browser mode, scrolled to that field's section; the header's Help opens the index.
 * Screenshots of the opened pages go to test-artifacts/e2e/ (help-*.png).
 *
 * Skipped only when /usr/bin/chromium is absent, and never when CI=true.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { ALL_FIELDS } from '../src/renderer/src/lib/run-form';
import { ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ROOT, rendererDir, serve, type Served } from './e2e/harness';

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true') throw new Error(`CI=true but ${CHROMIUM} is missing: the browser test must run in CI (apt-get install chromium).`);
  console.warn(`e2e-help-links: SKIPPED, ${CHROMIUM} not found (apt-get install -y chromium to run it).`);
}

describe.skipIf(!haveChromium)('help links in browser mode', () => {
  let temp: string;
  let server: Served;
  let context: BrowserContext;
  let page: Page;

  /** Clicks a link that opens a new tab and returns that tab once loaded. */
  async function openFrom(selector: string): Promise<Page> {
    const [tab] = await Promise.all([context.waitForEvent('page'), page.locator(selector).first().click()]);
    await tab.waitForLoadState('load');
    return tab;
  }

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    temp = mkdtempSync(join(tmpdir(), 'mdpo-help-'));
    server = await serve(join(temp, 'home'), await rendererDir());
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(temp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 800 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(server.url);
    // The app has loaded (and listens for events) before the dataset arrives; it then shows the
    // form on the import's event, without a reload (going to #/new is a same-document navigation).
    await page.getByTestId('first-launch').waitFor({ timeout: 120_000 });
    // The New run form needs a dataset: import the small fixture through the API, as the page would.
    const imported = await page.evaluate(async (path) => {
      const r = await fetch('/api/datasets:import', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) });
      return r.status;
    }, join(ROOT, 'test', 'fixtures', 'datasets', 'silkie-mini'));
    expect(imported).toBe(200);
    await page.goto(server.url.replace(/\/\?token=.*$/, '/#/new'));
    await page.locator('form[aria-label="New run"]').waitFor({ timeout: 120_000 });
  }, 300_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await server?.stop();
    if (temp) rmSync(temp, { recursive: true, force: true });
  }, 60_000);

  it('every field of the form has a help link to its own section, and every section exists', async () => {
    const links = await page.locator('form[aria-label="New run"] a[data-doc]').evaluateAll((as) =>
      as.map((a) => ({ field: a.getAttribute('data-doc')!, href: (a as unknown as { href: string }).href, target: a.getAttribute('target') })),
    );
    const fields = links.map((l) => l.field);
    for (const f of [...ALL_FIELDS.map((s) => s.path), 'name', 'datasetId', 'baseModel']) expect(fields).toContain(f);
    expect(new Set(links.map((l) => l.target))).toEqual(new Set(['_blank']));
    // Each link's page is served (with the page's session cookie) and holds an element with the link's id.
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const missing: string[] = [];
    for (const { href } of links) {
      const url = new URL(href);
      const r = await fetch(new URL(url.pathname, href), { headers: { cookie } });
      const html = await r.text();
      if (r.status !== 200 || !html.includes(` id="${url.hash.slice(1)}"`)) missing.push(href);
    }
    expect(missing).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'help-form.png') });
  });

  it("a field's help link opens its section of the docs", async () => {
    const tab = await openFrom('a[data-doc="negative.cropMax"]');
    expect(new URL(tab.url()).pathname).toBe('/docs/run-settings.html');
    expect(new URL(tab.url()).hash).toBe('#negativecropmax');
    const target = await tab.evaluate("document.querySelector(':target')?.textContent ?? null");
    expect(target).toBe('#negative.cropMax');
    // The section is scrolled into view: its heading is near the top of the viewport.
    const top = (await tab.evaluate("document.getElementById('negativecropmax').getBoundingClientRect().top")) as number;
    expect(top).toBeGreaterThanOrEqual(-1);
    expect(top).toBeLessThan(200);
    expect(await tab.locator('#negativecropmax + p').textContent()).toContain('Default 0.2');
    await tab.screenshot({ path: join(ARTIFACTS, 'help-field-section.png') });
    await tab.close();
  });

  it("the defaults link opens the objective's defaults table", async () => {
    const tab = await openFrom('a[data-doc="defaults"]');
    expect(tab.url()).toMatch(/\/docs\/objective\.html#defaults$/);
    expect(await tab.locator('#defaults ~ table').first().textContent()).toContain('where it comes from');
    await tab.screenshot({ path: join(ARTIFACTS, 'help-defaults.png') });
    await tab.close();
  });

  it("the header's Help opens the docs index, whose links lead to the other pages", async () => {
    const tab = await openFrom('[data-testid="help"]');
    expect(new URL(tab.url()).pathname).toBe('/docs/');
    expect(await tab.locator('h1').textContent()).toBe('#mDPO Studio documentation');
    await tab.screenshot({ path: join(ARTIFACTS, 'help-index.png') });
    await tab.locator('a', { hasText: 'Evaluation metrics' }).first().click();
    await tab.waitForURL(/\/docs\/metrics\.html$/);
    expect(await tab.locator('#pope').count()).toBe(1);
    await tab.close();
  });
});
