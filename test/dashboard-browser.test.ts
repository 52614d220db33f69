/**
 * The dashboard in a real browser (Debian chromium driven by playwright-core) against the real
 * service, the real pipeline and a real Orthanc, with authentication on: it refuses without a token
 * (sign-in page), shows a processed study with its thumbnails and volume curve, lets an admin (and
 * not a viewer) reprocess, and a cross-site form post changes nothing. Screenshots are kept under
 * test-artifacts/dashboard/ (git-ignored); PULSE_UPDATE_DOCS=1 also refreshes docs/dashboard-study.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, launchChromium } from './support/browser.js';
import { applyRange } from '../src/analysis/normal-ranges.js';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest, projectRoot } from './support/paths.js';
import { waitFor } from './service-support.js';

const VIEWER = 'viewer-token-for-the-browser-test';
const ADMIN = 'admin-token-for-the-browser-test';
const artifacts = join(projectRoot, 'test-artifacts', 'dashboard');

async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.fill('input[name="token"]', token);
  await Promise.all([page.waitForNavigation(), page.click('#sign-in button')]);
}

/**
 * Polls an expression in the page until it is true. (page.waitForFunction evaluates its predicate
 * with eval, which the dashboard's Content-Security-Policy rightly refuses.)
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} is missing (bash scripts/setup.sh installs Debian chromium)` : !existsSync(bundledManifest) ? 'the bundled model is missing' : false;

test('the dashboard in a browser: sign-in, a processed study with thumbnails and curve, admin reprocess', { skip, timeout: 240_000 }, async () => {
  mkdirSync(artifacts, { recursive: true });
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-dashboard-'));
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0, auth: { viewerTokens: [VIEWER], adminTokens: [ADMIN] }, viewerUrl: 'http://127.0.0.1:3000/viewer?StudyInstanceUIDs={StudyInstanceUID}' },
    changesFeed: { pollIntervalMs: 200 },
    queue: { pollIntervalMs: 200 },
  });
  const service = await startService({ config, processor: createPipelineProcessor(), logger: createLogger('error', { silent: true }) });
  let browser: Browser | undefined;
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = generateStudy({ seed: 21, slices: 6, phases: 8 });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    const uid = study.truth.studyInstanceUID;
    const first = await waitFor('processed', async () => {
      const j = (await service.store.findByStudy(uid))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 180_000);
    assert.equal(first.state, 'done', first.reason ?? '');

    browser = await launchChromium();
    const viewerContext = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await viewerContext.newPage();
    const problems: string[] = [];
    page.on('console', (m) => {
      // The refusals this test provokes (401 before signing in, 403 for the viewer's reprocess) are expected.
      if (m.type() === 'error' && !/status of (401|403)\b/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));

    // Without a token: the sign-in page, answered with 401.
    const refused = await page.goto(`${service.url}/`);
    assert.equal(refused?.status(), 401);
    assert.equal(await page.locator('#sign-in input[name="token"]').count(), 1);
    assert.equal(await page.locator('table.jobs').count(), 0, 'no job list before signing in');
    await page.screenshot({ path: join(artifacts, 'sign-in.png') });
    const thumbnailWithoutToken = await fetch(`${service.url}/studies/${uid}/thumbnail/ed`);
    assert.equal(thumbnailWithoutToken.status, 401);

    // A wrong token is refused; a viewer token signs in.
    await page.fill('input[name="token"]', 'not-the-right-token-at-all');
    await page.click('#sign-in button');
    await page.getByText('not a valid token').waitFor();
    await signIn(page, service.url, VIEWER);
    assert.equal(await page.locator('[data-count="done"]').textContent(), '1');
    await page.screenshot({ path: join(artifacts, 'queue.png'), fullPage: true });

    // The study page: numbers, diagnosis, thumbnails, the curve with ED and ES, the viewer link.
    await Promise.all([page.waitForNavigation(), page.click(`a[href="/studies/${uid}"]`)]);
    const result = (await service.store.findByStudy(uid))[0]!;
    const diagnosis = await page.locator('[data-diagnosis]').getAttribute('data-diagnosis');
    assert.equal(diagnosis, result.outcome!.diagnosis);
    const lvef = await page.locator('tr[data-measurement="lvef_pct"] td.num').textContent();
    assert.equal(Number(lvef), Number(result.outcome!.lvefPct!.toFixed(1)));
    const range = applyRange('lvef_pct', result.outcome!.lvefPct!)!;
    assert.match((await page.locator('tr[data-measurement="lvef_pct"]').textContent())!, new RegExp(`${range.low}–${range.high} %${range.flag}`));
    assert.equal(await page.locator('img.thumb[src$="/thumbnail/ed"]').count(), 1);
    assert.equal(await page.locator('img.thumb[src$="/thumbnail/es"]').count(), 1);
    await until(page, `[...document.querySelectorAll('img.thumb')].every((i) => i.complete)`);
    const widths = (await page.evaluate(`[...document.querySelectorAll('img.thumb')].map((i) => i.naturalWidth)`)) as number[];
    assert.ok(widths.length === 2 && widths.every((w) => w >= 128), `thumbnails loaded: ${widths.join(', ')} px wide`);
    assert.equal(await page.locator('svg.volume-curve polyline[data-curve="lv"]').count(), 1);
    assert.equal(await page.locator('svg.volume-curve g[data-phase="ED"]').count(), 1);
    assert.equal(await page.locator('svg.volume-curve g[data-phase="ES"]').count(), 1);
    const points = (await page.locator('svg.volume-curve polyline[data-curve="lv"]').getAttribute('points'))!.trim().split(/\s+/);
    assert.equal(points.length, 8, 'one point per phase');
    assert.match((await page.locator('a.viewer-link').getAttribute('href'))!, new RegExp(`StudyInstanceUIDs=${uid.replace(/\./g, '\\.')}$`));
    assert.equal(await page.locator('[data-action="reprocess"]').count(), 0, 'a viewer sees no reprocess button');
    // A viewer's session cannot reprocess even by hand (JSON, its own CSRF token): admin only.
    const byViewer = (await page.evaluate(`(async () => {
      const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute('content');
      const res = await fetch('/api/studies/${uid}/reprocess', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: '{}' });
      return res.status;
    })()`)) as number;
    assert.equal(byViewer, 403);

    // An admin reprocesses from the page.
    const adminContext = await browser.newContext({ viewport: { width: 1280, height: 1100 } });
    const admin = await adminContext.newPage();
    admin.on('pageerror', (e) => problems.push(e.message));
    await signIn(admin, service.url, ADMIN);
    await admin.goto(`${service.url}/studies/${uid}`);
    await admin.locator('img.thumb').first().waitFor();
    await until(admin, `[...document.querySelectorAll('img.thumb')].every((i) => i.complete && i.naturalWidth > 0)`);
    await admin.screenshot({ path: join(artifacts, 'study.png'), fullPage: true });
    if (process.env.PULSE_UPDATE_DOCS === '1') copyFileSync(join(artifacts, 'study.png'), join(projectRoot, 'docs', 'dashboard-study.png'));
    const finishedBefore = (await service.store.get(first.id))!.finishedAt!;
    await admin.click('[data-action="reprocess"]');
    await admin.getByText(/queued as job \d+/).waitFor();
    const again = await waitFor('reprocessed', async () => {
      const j = (await service.store.get(first.id));
      return j !== undefined && j.state === 'done' && (j.finishedAt ?? 0) > finishedBefore && j;
    }, 120_000);
    assert.equal(again.source, 'api');

    // A page elsewhere posts a simple cross-site form at the service: refused, nothing queued.
    const evil = await adminContext.newPage();
    await evil.setContent(`<form method="post" enctype="text/plain" action="${service.url}/api/studies/${uid}/reprocess"><input name='{"a":"' value='"}'></form>`);
    const [answer] = await Promise.all([evil.waitForResponse((r) => r.url().includes('/reprocess')), evil.evaluate(`document.querySelector('form').submit()`)]);
    assert.ok([401, 403, 415].includes(answer.status()), `cross-site form post answered ${answer.status()}`);
    assert.equal((await service.store.get(first.id))!.state, 'done', 'the cross-site post queued nothing');

    assert.deepEqual(problems, [], 'no script error or CSP violation in the pages');
  } finally {
    await browser?.close();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
