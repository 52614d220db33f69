/**
 * The embedded OHIF viewer in a real browser (Debian chromium driven by playwright-core, software
 * WebGL), against the real service, the real pipeline and a real Orthanc, with authentication on: a
 * viewer signs in on the dashboard, follows the study page's link into OHIF, the cine opens through
 * the service's DICOMweb proxy, and the PULSE SEG loads with its three segments listed.
 *
 * OHIF 3.13 builds one labelmap volume over all phases of a cine series, so its overlay of the combined
 * SEG is not trustworthy per phase (docs/ohif-cine-seg.md). The viewer phase series (on, since the
 * service serves OHIF) are: their SEGs, one per labelled phase, each referencing a single-phase copy,
 * are drawn where our masks are, checked pixel by pixel at ED and at ES (agreement >= 0.99); the
 * copies are stored as our outputs and never processed. Screenshots are kept under
 * test-artifacts/ohif/ (git-ignored); PULSE_UPDATE_DOCS=1 also refreshes docs/ohif-seg.png.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { ConfigSchema, viewerPhaseSeriesOn } from '../src/config/schema.js';
import { readSegmentation } from '../src/dicom/seg/read.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { defaultOhifDist, ohifDistProblem } from '../src/server/ohif.js';
import { findStudyIds, gatherStudyFacts } from '../src/orthanc/metadata.js';
import { createLogger } from '../src/service/logger.js';
import { isOwnOutput, routeStudy } from '../src/service/router.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { CHROMIUM, launchChromium } from './support/browser.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest, projectRoot } from './support/paths.js';
import { waitFor } from './service-support.js';
import { measure } from './support/ohif-overlay.js';

const VIEWER = 'viewer-token-for-the-ohif-test';
const artifacts = join(projectRoot, 'test-artifacts', 'ohif');

const skip = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is missing (bash scripts/setup.sh installs Debian chromium)`
  : !existsSync(bundledManifest)
    ? 'the bundled model is missing'
    : (ohifDistProblem(defaultOhifDist()) ?? false);

/** The one instance of the series with this description in the study, as Orthanc stores it. */
async function phaseSegBytes(client: OrthancRestClient, studyUID: string, description: string): Promise<Uint8Array> {
  const found = (await client.request('POST', '/tools/find', JSON.stringify({ Level: 'Series', Query: { StudyInstanceUID: studyUID, SeriesDescription: description } }), 'application/json')) as string[];
  assert.equal(found.length, 1, `one series '${description}'`);
  const [instance] = await client.listInstances(found[0]!);
  return client.instanceFile(instance!);
}

test('OHIF from the dashboard link: the cine opens through the proxy, the PULSE SEG loads with three segments, and the per-phase SEGs are drawn on their phase', { skip, timeout: 420_000 }, async () => {
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
  const service = await startService({ config, processor: createPipelineProcessor({ viewerPhaseSeries: viewerPhaseSeriesOn(config) }), logger: createLogger('error', { silent: true }) });
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

    // The viewer phase series: stored beside the combined SEG, one copy and one SEG per labelled phase.
    for (const phase of ['ED', 'ES']) {
      const description = `PULSE segmentation, ${phase} phase copy (not reviewed)`;
      const bytes = await phaseSegBytes(client, uid, description);
      const seg = readSegmentation(bytes, description);
      const tallies = Object.values(await measure(page, service.url, uid, seg, description, artifacts));
      assert.equal(tallies.length, 1, `${phase}: one phase (the copy) in the viewport`);
      const tally = tallies[0]!;
      const agreement = tally.agree / tally.total;
      process.stdout.write(`# ${phase} phase copy SEG: ${tally.slices} slices, agreement ${agreement.toFixed(3)} (${tally.agree}/${tally.total}; missing ${tally.missing}, extra ${tally.extra}, wrong colour ${tally.wrongColour})\n`);
      // Every slice the SEG has frames for was measured.
      assert.equal(tally.slices, new Set(seg.frames.map((f) => f.referencedSOPInstanceUID)).size, `${phase}: every labelled slice measured`);
      assert.ok(agreement >= 0.99, `${phase}: OHIF draws the per-phase SEG where the SEG's masks are (agreement ${agreement.toFixed(3)})`);
    }
    // The router, on what Orthanc now holds: the copies are our outputs, the cine alone is the source.
    const facts = await gatherStudyFacts(client, (await findStudyIds(client, uid))[0]!);
    const copies = facts.series.filter((s) => /phase copy/.test(s.seriesDescription));
    assert.equal(copies.length, 4, 'two copies and two per-phase SEGs stored');
    assert.ok(copies.every((s) => isOwnOutput(s, config.ownOutputs)));
    const decision = routeStudy(facts, { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: 'any', forced: true });
    assert.equal(decision.action, 'process');
    assert.deepEqual(decision.action === 'process' ? decision.series.map((s) => s.seriesInstanceUID) : [], [study.truth.seriesInstanceUID]);
    assert.equal((await service.store.findByStudy(uid)).length, 1);
    assert.deepEqual(failures, [], 'no script error, CSP refusal or refused DICOMweb request');
    process.stdout.write(`# OHIF showed the study ${openSeconds.toFixed(1)} s after the link was followed\n`);
  } finally {
    await browser?.close();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
