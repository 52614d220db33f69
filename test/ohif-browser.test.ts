/**
 * The embedded OHIF viewer in a real browser (Debian chromium driven by playwright-core, software
 * WebGL), against the real service, the real pipeline and a real Orthanc, with authentication on: a
 * viewer signs in on the dashboard, follows the study page's link into OHIF, the cine opens through
 * the service's DICOMweb proxy, and the PULSE SEG loads with its three segments listed.
 *
 * Not checked here (docs/ohif-cine-seg.md says why): that OHIF draws each phase's mask on that phase.
 * OHIF 3.13 builds one labelmap volume over all phases of a cine series, so its overlay of a cine SEG
 * is not trustworthy per phase. Screenshots are kept under test-artifacts/ohif/ (git-ignored);
 * PULSE_UPDATE_DOCS=1 also refreshes docs/ohif-seg.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { defaultOhifDist, ohifDistProblem } from '../src/server/ohif.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { CHROMIUM, launchChromium } from './support/browser.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest, projectRoot } from './support/paths.js';
import { waitFor } from './service-support.js';

const VIEWER = 'viewer-token-for-the-ohif-test';
const artifacts = join(projectRoot, 'test-artifacts', 'ohif');

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (bash scripts/setup.sh installs Debian chromium)`
  : !existsSync(bundledManifest)
    ? 'the bundled model is missing'
    : (ohifDistProblem(defaultOhifDist()) ?? false);

test('OHIF from the dashboard link: the cine opens through the proxy and the PULSE SEG loads with three segments', { skip, timeout: 420_000 }, async () => {
  mkdirSync(artifacts, { recursive: true });
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION, users: { pulse: 'orthanc-secret-for-ohif' } });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-ohif-'));
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url, username: 'pulse', password: 'orthanc-secret-for-ohif' },
    dataDir,
    server: { port: 0, auth: { viewerTokens: [VIEWER] } },
    viewer: { ohif: true },
    changesFeed: { pollIntervalMs: 200 },
    queue: { pollIntervalMs: 200 },
  });
  const service = await startService({ config, processor: createPipelineProcessor(), logger: createLogger('error', { silent: true }) });
  let browser: Browser | undefined;
  try {
    const client = new OrthancRestClient({ url: orthanc.url, username: 'pulse', password: 'orthanc-secret-for-ohif' });
    const study = generateStudy({ seed: 21, slices: 6, phases: 2 });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    const uid = study.truth.studyInstanceUID;
    const job = await waitFor('processed', async () => {
      const j = (await service.store.findByStudy(uid))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 240_000);
    assert.equal(job.state, 'done', job.reason ?? '');

    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) failures.push(m.text());
    });
    page.on('response', (r) => {
      if (r.url().includes('/dicom-web/') && r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
    });

    // Without a token, the viewer's page is the sign-in form; signed in, it is OHIF.
    const refused = await page.goto(`${service.url}/ohif/viewer?StudyInstanceUIDs=${uid}`);
    assert.equal(refused?.status(), 401);
    await page.fill('input[name="token"]', VIEWER);
    await Promise.all([page.waitForNavigation(), page.click('#sign-in button')]);

    // From the dashboard's study page, its link into the viewer.
    await page.goto(`${service.url}/studies/${uid}`);
    const link = (await page.locator('a.viewer-link').getAttribute('href'))!;
    assert.equal(link, `/ohif/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`);
    const opened = Date.now();
    await page.goto(`${service.url}${link}`);
    // The first-run tour covers the viewport until dismissed.
    await page.getByText('Skip all').click({ timeout: 120_000 });
    await page.getByText('PULSE automated segmentation (not reviewed)').first().waitFor({ timeout: 60_000 });
    const openSeconds = (Date.now() - opened) / 1000;

    // The SEG: a double-click on its thumbnail, then OHIF asks whether to open it.
    await page.getByText('PULSE automated segmentation (not reviewed)').first().dblclick();
    await page.getByRole('button', { name: /^yes$/i }).click({ timeout: 60_000 });
    await page.locator('[data-cy="panelSegmentation-btn"]').click({ timeout: 60_000 });
    for (const segment of ['Left ventricle cavity', 'Left ventricle myocardium', 'Right ventricle cavity']) {
      await page.getByText(segment, { exact: true }).first().waitFor({ timeout: 120_000 });
    }
    await page.waitForTimeout(3000);
    await page.screenshot({ path: join(artifacts, 'ohif-seg.png') });
    if (process.env.PULSE_UPDATE_DOCS === '1') copyFileSync(join(artifacts, 'ohif-seg.png'), join(projectRoot, 'docs', 'ohif-seg.png'));
    assert.deepEqual(failures, [], 'no script error, CSP refusal or refused DICOMweb request');
    process.stdout.write(`# OHIF showed the study ${openSeconds.toFixed(1)} s after the link was followed\n`);
  } finally {
    await browser?.close();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
