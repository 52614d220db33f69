/** The dashboard's pure parts: PNG thumbnails, the volume curve, the study page's sections. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import type { StudyResult } from '../src/core/result.js';
import { encodePng } from '../src/dicom/overlay/png.js';
import { createImage } from '../src/dicom/overlay/raster.js';
import type { Job } from '../src/queue/job-store.js';
import { renderStudyPage, volumeCurveSvg } from '../src/server/dashboard.js';
import { applyRange } from '../src/analysis/normal-ranges.js';

test('encodePng writes a PNG whose pixels read back unchanged', () => {
  const image = createImage(3, 2);
  image.data.set([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const png = Buffer.from(encodePng(image));
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.readUInt32BE(16), 3);
  assert.equal(png.readUInt32BE(20), 2);
  const idatAt = png.indexOf('IDAT');
  const raw = inflateSync(png.subarray(idatAt + 4, idatAt + 4 + png.readUInt32BE(idatAt - 4)));
  assert.deepEqual([...raw], [0, ...image.data.subarray(0, 9), 0, ...image.data.subarray(9)]);
  assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(5) }), /holds 5 bytes/);
});

test('the volume curve draws one point per phase and marks ED and ES', () => {
  const svg = volumeCurveSvg({ lv: [150, 120, 70, 90, 140], rv: [140, 110, 75, 95, 130] }, { ed: 0, es: 2 });
  const points = /data-curve="lv"[^>]*points="([^"]+)"/.exec(svg)![1]!.trim().split(' ');
  assert.equal(points.length, 5);
  assert.match(svg, /data-phase="ED"/);
  assert.match(svg, /data-phase="ES"/);
  assert.match(svg, /data-curve="rv"/);
  assert.match(volumeCurveSvg({}, { ed: 0, es: 0 }), /no volume curve/);
});

const result: StudyResult = {
  studyInstanceUID: '1.2.3',
  seriesInstanceUID: '1.2.3.4',
  grid: { slices: 8, phases: 20 },
  phases: { ed: 0, es: 7 },
  measurements: { lvedv_ml: 230, lvesv_ml: 170, lvsv_ml: 60, lvef_pct: 26.1, lv_mass_g: 150, rvedv_ml: 150, rvesv_ml: 80, rvef_pct: 46.7 },
  diagnosis: { label: 'DCM', probabilities: { NOR: 0.1, DCM: 0.82, HCM: 0.03, MINF: 0.04, RV: 0.01 } },
  narrative: 'Findings: <automated>',
  model: { name: 'pulse-lite', version: '1.0.0', calibration: null },
  timings_ms: { total: 1000 },
};
const job = { id: 7, studyInstanceUID: '1.2.3', modelKey: 'pulse-lite@1.0.0', state: 'done', reason: null, updatedAt: 0, timings: { retrieve: 120, total: 2400 } } as unknown as Job;

test('the study page: numbers with reference ranges and flags, diagnosis with probability, escaped text', () => {
  const html = renderStudyPage({ studyInstanceUID: '1.2.3', jobs: [job], archived: { jobId: 7, study: { result, volumeCurves: { lv: [230, 170] } }, hasThumbnails: false } }, { role: 'viewer' });
  // The limits are the analysis' own (sex-neutral: the page does not know the patient's sex).
  const lvef = applyRange('lvef_pct', 26.1)!;
  assert.match(html, new RegExp(`<tr data-measurement="lvef_pct"><td>LV ejection fraction</td><td class="num">26.1</td><td>%</td><td>${lvef.low}–${lvef.high} %</td><td class="flag-LOW">LOW</td>`));
  assert.match(html, new RegExp(`data-measurement="lvedv_ml">.*flag-${applyRange('lvedv_ml', 230)!.flag}`));
  assert.match(html, /<strong data-diagnosis="DCM">DCM<\/strong> with probability <strong>82 %<\/strong>/);
  assert.match(html, /Findings: &lt;automated&gt;/);
  assert.doesNotMatch(html, /Quality control/, 'no QC section without result.qc');
  assert.match(html, /no site calibration/);
  assert.doesNotMatch(html, /data-action="reprocess"/, 'viewers get no reprocess button');
  assert.match(html, /No viewer configured/);
});

test('the study page shows QC status and calibration when the result has them, and the admin action', () => {
  const withQc = { ...result, qc: { status: 'review' as const, reasons: ['few slices'], ood: 0.2 }, model: { ...result.model, calibration: 'site-a-v3' } };
  const html = renderStudyPage(
    { studyInstanceUID: '1.2.3', jobs: [job], archived: { jobId: 7, study: { result: withQc, volumeCurves: {} }, hasThumbnails: true }, viewerUrl: 'http://viewer/?s=1.2.3' },
    { role: 'admin', csrfToken: 'abc' },
  );
  assert.match(html, /Quality control: <strong class="qc-review" data-qc="review">review<\/strong> — few slices/);
  assert.match(html, /calibration <code data-calibration>site-a-v3<\/code>/);
  assert.match(html, /<meta name="csrf-token" content="abc">/);
  assert.match(html, /data-action="reprocess" data-uid="1.2.3"/);
  assert.match(html, /src="\/studies\/1.2.3\/thumbnail\/ed"/);
  assert.match(html, /href="http:\/\/viewer\/\?s=1.2.3"/);
});
