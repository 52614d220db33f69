/**
 * The dashboard's calibration history: every stored version, oldest to newest, with its before/after
 * mean Dice and LVEF MAE drawn as SVG plots and listed with its status; read from a real calibration
 * store, and shown on the queue page of a running service once calibrations exist.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { identityHead } from '../src/calibration/head.js';
import { DEFAULT_PROMOTION_RULE, type CalibrationProfile } from '../src/calibration/profile.js';
import type { SummaryMetrics } from '../src/calibration/cases.js';
import { ConfigSchema } from '../src/config/schema.js';
import { CalibrationStore } from '../src/pipeline/calibration-store.js';
import { calibrationHistorySection, meanDice } from '../src/server/calibration-history.js';
import { renderDashboard } from '../src/server/dashboard.js';
import { createLogger } from '../src/service/logger.js';
import { startService } from '../src/service/service.js';
import { createProcessor } from './service-stand-in.js';

function profile(id: string, created: string, before: SummaryMetrics, after: SummaryMetrics | null, reason: string): CalibrationProfile {
  return {
    format: 'pulse-calibration',
    formatVersion: 1,
    id,
    created,
    promoted: after !== null && meanDice(after)! > meanDice(before)!,
    reason,
    model: { name: 'pulse-lite', version: '1.0.0' },
    scope: { manufacturer: 'Acme' },
    opens: { modalities: ['MR'], sopClassUIDs: [] },
    k: 3,
    sourceStudies: ['0123456789abcdef'],
    annotation: { studies: 3, annotatedImages: 6, totalImagesOfAnnotatedPhases: 6, annotatedPhases: 2, studiesWithFullEdEs: 3 },
    metrics: after === null ? null : { against: 'bare model', before, after, perStudy: { before: [], after: [] } },
    parameters: { head: identityHead(2, 4), fit: {}, promotion: DEFAULT_PROMOTION_RULE },
    timingsMs: {},
  };
}

const bare: SummaryMetrics = { dice: { lv: 0.8, myo: 0.6, rv: 0.7 }, lvefMae: 9 };
// Stored out of order on purpose: the history sorts by creation time.
const versions = [
  profile('cal-20261129-120000-cccccc', '2026-11-29T12:00:00.000Z', { dice: { lv: 0.9, myo: 0.75, rv: 0.8 }, lvefMae: 5 }, { dice: { lv: 0.88, myo: 0.7, rv: 0.79 }, lvefMae: 6.5 }, 'worse than the active one <b>'),
  profile('cal-20261129-100000-aaaaaa', '2026-11-29T10:00:00.000Z', bare, { dice: { lv: 0.9, myo: 0.75, rv: 0.8 }, lvefMae: 5 }, 'better by 0.117'),
  profile('cal-20261129-110000-bbbbbb', '2026-11-29T11:00:00.000Z', bare, null, 'too few annotated studies'),
];

function storeWith(dir: string): CalibrationStore {
  const store = new CalibrationStore(dir);
  for (const p of versions) store.save(p);
  store.activate('cal-20261129-100000-aaaaaa');
  return store;
}

test('the history plots mean Dice and LVEF MAE before and after each evaluated version, oldest first, with its status', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cal-history-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const html = calibrationHistorySection(storeWith(dir).list());

  const plot = (metric: string): string => html.match(new RegExp(`<svg[^>]*data-metric="${metric}"[\\s\\S]*?</svg>`))![0];
  const marks = (svg: string) => [...svg.matchAll(/<g data-calibration="([^"]+)" data-status="(\w+)" data-before="([\d.]+)" data-after="([\d.]+)"/g)].map((m) => ({ id: m[1], status: m[2], before: Number(m[3]), after: Number(m[4]) }));
  // The version without an evaluation has no point; the other two in creation order.
  assert.deepEqual(marks(plot('mean-dice')), [
    { id: 'cal-20261129-100000-aaaaaa', status: 'active', before: Number((0.7).toFixed(4)), after: Number((0.8166666).toFixed(4)) },
    { id: 'cal-20261129-120000-cccccc', status: 'rejected', before: Number((0.8166666).toFixed(4)), after: Number((0.79).toFixed(4)) },
  ]);
  assert.deepEqual(marks(plot('lvef-mae')).map((m) => [m.before, m.after]), [[9, 5], [5, 6.5]]);
  // Points are labelled with the version number the table gives (the unevaluated v2 has none).
  assert.deepEqual([...plot('mean-dice').matchAll(/>(v\d)<\/text>/g)].map((m) => m[1]), ['v1', 'v3']);

  // Every version is listed, numbered in creation order, with its status and figures; text is escaped.
  const rows = [...html.matchAll(/<tr data-calibration="([^"]+)"><td>(v\d)<\/td>[\s\S]*?<td class="status-(\w+)">/g)].map((m) => [m[2], m[1], m[3]]);
  assert.deepEqual(rows, [
    ['v1', 'cal-20261129-100000-aaaaaa', 'active'],
    ['v2', 'cal-20261129-110000-bbbbbb', 'rejected'],
    ['v3', 'cal-20261129-120000-cccccc', 'rejected'],
  ]);
  assert.match(html, /0\.700 → 0\.817/);
  assert.match(html, /worse than the active one &lt;b&gt;/);
  assert.doesNotMatch(html, /<b>/);
});

test('no calibration, no section', () => {
  assert.equal(calibrationHistorySection([]), '');
  assert.doesNotMatch(renderDashboard([], { queued: 0, running: 0, done: 0, failed: 0, skipped: 0 }), /Site calibrations/);
});

test("the running service's queue page shows the history of the calibrations in its data folder", async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-cal-history-service-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  storeWith(dataDir);
  // No Orthanc is needed to render the dashboard: the changes feed is off and nothing is queued.
  const config = ConfigSchema.parse({ orthanc: { url: 'http://127.0.0.1:9' }, dataDir, server: { port: 0 }, changesFeed: { enabled: false } });
  const service = await startService({ config, processor: createProcessor(), logger: createLogger('error', { silent: true }) });
  try {
    const html = await (await fetch(`${service.url}/`)).text();
    assert.match(html, /<h2>Site calibrations<\/h2>/);
    assert.equal([...html.matchAll(/<tr data-calibration=/g)].length, 3);
    assert.equal([...html.matchAll(/<svg[^>]*class="calibration-plot"/g)].length, 2);
  } finally {
    await service.stop(1000);
  }
});
