/**
 * reports.segOnQcFail: by default a result that failed quality control keeps its SEG for a person to
 * inspect; configured off, no SEG is written and the SR references none. One pipeline run on a noise
 * study (cheap: 4 slices x 4 phases); the SR part needs no model.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { assessQuality, narrativeWithQuality, qcSummary } from '../src/analysis/quality-control.js';
import { loadConfig } from '../src/config/load.js';
import { buildMeasurementReport, measurementReportUids } from '../src/dicom/sr/sop.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { ModelRegistry } from '../src/model/registry.js';
import { breakStudy } from '../src/synth/broken.js';
import { generateStudy } from '../src/synth/index.js';
import { buildFixture, DIAGNOSIS_GROUPS, fixtureResult, LV, MYO, RV, SEGMENTS } from './seg-sr-fixtures.js';
import { bundledManifest } from './support/paths.js';
import { dciodvfy, dsrdump, pixelmedSrValidator } from './support/validators.js';

const fixture = buildFixture();
const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

test('configuration: the SEG of a failed result is written by default; PULSE_SEG_ON_QC_FAIL=false turns it off', () => {
  assert.equal(loadConfig({ env: {} }).reports.segOnQcFail, true);
  assert.equal(loadConfig({ env: { PULSE_SEG_ON_QC_FAIL: 'false' } }).reports.segOnQcFail, false);
  assert.equal(loadConfig({ env: {}, overrides: { reports: { segOnQcFail: false } } }).reports.segOnQcFail, false);
});

test('a failed SR without a SEG validates and references none; a passing SR still needs its SEG', () => {
  const measurements = { lvedv_ml: 25, lvesv_ml: 0.2, lvsv_ml: 24.8, lvef_pct: 99.4, lv_mass_g: 120, rvedv_ml: 160, rvesv_ml: 75, rvef_pct: 53 };
  const qc = assessQuality({ grid: fixture.grid, labelMaps: fixture.labelMaps, labelValues: { lv: LV, myo: MYO, rv: RV }, phases: { ed: 0, es: 2 }, lvVolumeCurveMl: [], measurements, phasesGiven: true });
  assert.equal(qc.status, 'fail');
  const common = {
    context: fixture.context,
    result: fixtureResult(fixture),
    narrative: narrativeWithQuality({ findings: 'LVEF 99.4 %.', impression: 'Normal.', disclaimer: 'Automated result.', text: '' }, qc),
    segments: SEGMENTS,
    diagnosisGroups: DIAGNOSIS_GROUPS,
    sourceImages: fixture.labelMaps.map((row) => row[0]!.image),
    algorithm,
    ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
  };
  const sr = buildMeasurementReport({ ...common, qualityControl: { status: 'fail', summary: qcSummary(qc) } });
  assert.ok(!Buffer.from(sr.bytes).includes(SEGMENTATION_STORAGE), 'no SEG in the evidence or the content');
  assert.match(dsrdump(sr.bytes, ['+Pc', '+Pl']), /Automated analysis failed quality control/);
  assert.deepEqual(dciodvfy(sr.bytes).errors, []);
  assert.deepEqual(pixelmedSrValidator(sr.bytes).errors, []);
  assert.throws(() => buildMeasurementReport(common), /segmentation is required/);
});

test('processStudy with segOnQcFail false: a failed study yields result, SR and FHIR report, no SEG', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async () => {
  const intact = generateStudy({ seed: 62, group: 'NOR', slices: 4, phases: 4 });
  const instances = breakStudy(intact.files, 'noise', 62).map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  try {
    const outputs = await processStudy(instances, { models, threads: 1, segOnQcFail: false, fhir: true });
    assert.equal(outputs.result.qc?.status, 'fail', outputs.result.qc?.reasons.join('; '));
    assert.equal(outputs.seg, undefined, 'no SEG');
    assert.ok(!Buffer.from(outputs.sr).includes(SEGMENTATION_STORAGE), 'the SR references no SEG');
    assert.match(dsrdump(outputs.sr, ['+Pc', '+Pl']), /Automated analysis failed quality control/);
    // The FHIR report says the analysis failed QC, why in words, and states no finding and no number.
    const report = (outputs.fhir!['entry'] as Array<{ resource: Record<string, unknown> }>).map((e) => e.resource).find((r) => r['resourceType'] === 'DiagnosticReport')!;
    assert.match(String(report['conclusion']), /^The automated analysis failed quality control: no findings are stated for this study\. Why: [a-z]/);
    assert.doesNotMatch(String(report['conclusion']), /\d/);
    assert.equal(report['conclusionCode'], undefined);
  } finally {
    await models.close();
  }
});
