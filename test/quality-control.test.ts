/**
 * Quality control of a result (issue 11): implausible numbers fail, unusual ones ask for review,
 * a failed result states no findings (narrative, SR, marks), and the OOD score separates foreign
 * embeddings from the reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assessQuality, countSystoles, narrativeWithQuality, qcSummary, type QualityControlInput } from '../src/analysis/quality-control.js';
import { fitEmbeddingReference, mahalanobis } from '../src/analysis/ood.js';
import { buildSegmentation, segmentationReference, segmentationUids } from '../src/dicom/seg/sop.js';
import { buildMeasurementReport, measurementReportUids } from '../src/dicom/sr/sop.js';
import { priorityOf, studyLabels, studyMarks } from '../src/service/marking.js';
import { Random } from '../src/synth/random.js';
import { buildFixture, DIAGNOSIS_GROUPS, fixtureResult, LV, MYO, RV, SEGMENTS } from './seg-sr-fixtures.js';
import { dciodvfy, dsrdump, pixelmedSrValidator } from './support/validators.js';

const fixture = buildFixture();
const normal = { lvedv_ml: 150, lvesv_ml: 60, lvsv_ml: 90, lvef_pct: 60, lv_mass_g: 120, rvedv_ml: 160, rvesv_ml: 75, rvef_pct: 53 };

function qcInput(measurements: Partial<typeof normal>, extra: Partial<QualityControlInput> = {}): QualityControlInput {
  return {
    grid: fixture.grid,
    labelMaps: fixture.labelMaps,
    labelValues: { lv: LV, myo: MYO, rv: RV },
    phases: { ed: 0, es: 2 },
    lvVolumeCurveMl: [],
    measurements: { ...normal, ...measurements },
    phasesGiven: true,
    ...extra,
  };
}

test('the numbers of the issue (LVEF 99.4 %, LV EDV 25 ml, RVEF -565 %) fail quality control', () => {
  const qc = assessQuality(qcInput({ lvedv_ml: 25, lvesv_ml: 0.15, lvef_pct: 99.4, rvedv_ml: 20, rvesv_ml: 133, rvef_pct: -565 }));
  assert.equal(qc.status, 'fail');
  const codes = qc.details.map((d) => d.code);
  for (const code of ['lvef_implausible', 'rvef_implausible']) assert.ok(codes.includes(code), codes.join(', '));
  assert.match(qc.reasons.join(' '), /LVEF 99\.4 % is outside 0-90 %/);
});

test('a plausible result on a well-formed segmentation passes', () => {
  const qc = assessQuality(qcInput({}));
  assert.equal(qc.status, 'pass', qc.reasons.join('; '));
  assert.deepEqual(qc.reasons, []);
  assert.equal(qc.ood, null);
});

test('a missing ventricle fails; unusual but possible volumes ask for review', () => {
  assert.equal(assessQuality(qcInput({ rvedv_ml: 0, rvesv_ml: 0, rvef_pct: 0 })).status, 'fail');
  const large = assessQuality(qcInput({ lvedv_ml: 520, lvesv_ml: 400, lvsv_ml: 120, lvef_pct: 23 }), );
  assert.equal(large.status, 'review', large.reasons.join('; '));
  assert.match(large.reasons[0]!, /LV EDV .* ml\/m² is outside 35-250/);
});

test('an RVEF just below zero (no ejection, within volume error) asks for review, not fail', () => {
  const qc = assessQuality(qcInput({ rvedv_ml: 162.9, rvesv_ml: 164.7, rvef_pct: -1.1 }));
  assert.equal(qc.status, 'review');
});

test('a volume curve with two systoles asks for review (phases out of order)', () => {
  assert.equal(countSystoles([150, 120, 80, 60, 80, 120, 150, 148, 150]), 1);
  assert.equal(countSystoles([150, 90, 60, 100, 150, 90, 60, 100, 150]), 2);
  const qc = assessQuality(qcInput({}, { phasesGiven: false, lvVolumeCurveMl: [150, 90, 60, 100, 150, 90, 60, 100, 150] }));
  assert.equal(qc.status, 'review');
  assert.ok(qc.details.some((d) => d.code === 'volume_curve_not_one_systole'));
});

test('a failed narrative states no number and no diagnosis; a reviewed one keeps its findings behind a caution', () => {
  const narrative = { findings: 'LVEF 99.4 %.', impression: 'Dilated cardiomyopathy (probability 0.9).', disclaimer: 'Automated result.', text: '' };
  const failed = assessQuality(qcInput({ lvef_pct: 99.4 }));
  const text = narrativeWithQuality(narrative, failed);
  assert.match(text.findings, /failed quality control/);
  assert.doesNotMatch(`${text.findings} ${text.impression}`, /\d|cardiomyopathy/);
  assert.doesNotMatch(qcSummary(failed), /\d/);
  const reviewed = narrativeWithQuality(narrative, assessQuality(qcInput({ rvedv_ml: 162.9, rvesv_ml: 164.7, rvef_pct: -1.1 })));
  assert.match(reviewed.findings, /^Caution: automated quality control asks for review .*LVEF 99\.4 %\.$/);
});

test('the OOD distance separates embeddings from another distribution', () => {
  const random = Random.from('ood-test');
  const sample = (shift: number) => Float32Array.from({ length: 8 }, (_, i) => random.normal() * (1 + i / 8) + shift);
  const reference = fitEmbeddingReference(Array.from({ length: 400 }, () => sample(0)));
  const inside = Array.from({ length: 50 }, () => mahalanobis(sample(0), reference));
  const outside = Array.from({ length: 50 }, () => mahalanobis(sample(3), reference));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  assert.ok(mean(inside) < 3.5, `in-distribution distance ${mean(inside)} (about sqrt(8))`);
  assert.ok(mean(outside) > 2 * mean(inside), `shifted ${mean(outside)} vs ${mean(inside)}`);
});

test('a failed result is marked qc-failed, states no diagnosis and is never urgent', () => {
  const base = fixtureResult(fixture, { lvef_pct: 10 });
  const failed = { ...base, qc: { status: 'fail' as const, reasons: ['LVEF 99.4 % is outside 0-90 %'], ood: 30 } };
  assert.equal(priorityOf(base, 35), 'urgent');
  assert.equal(priorityOf(failed, 35), 'routine');
  assert.deepEqual(studyMarks(failed, 'pulse-lite@1.0.0', 35), { PulseStatus: 'qc-failed', PulseDiagnosis: 'none', PulseModel: 'pulse-lite@1.0.0', PulsePriority: 'routine' });
  assert.deepEqual(studyLabels(failed, 35), ['pulse-done', 'pulse-qc-failed']);
  assert.equal(studyMarks({ ...base, qc: { status: 'review', reasons: [], ood: 1 } }, 'm', 35).PulseStatus, 'qc-review');
});

test('the SR of a failed result says so, coded and in words, with no measurement or diagnosis, and validates', () => {
  const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
  const result = fixtureResult(fixture);
  const seg = buildSegmentation({ context: fixture.context, labelMaps: fixture.labelMaps, phases: [0, 2], segments: SEGMENTS, algorithm, ...segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm) });
  const qc = assessQuality(qcInput({ lvef_pct: 99.4 }));
  const narrative = narrativeWithQuality({ findings: 'LVEF 99.4 %.', impression: 'Normal.', disclaimer: 'Automated result.', text: '' }, qc);
  const sr = buildMeasurementReport({
    context: fixture.context,
    result,
    narrative,
    segments: SEGMENTS,
    diagnosisGroups: DIAGNOSIS_GROUPS,
    segmentation: segmentationReference(seg),
    sourceImages: fixture.labelMaps.map((row) => row[0]!.image),
    algorithm,
    qualityControl: { status: 'fail', summary: qcSummary(qc) },
    ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
  });
  const tree = dsrdump(sr.bytes, ['+Pc', '+Pl']);
  assert.match(tree, /111235/);
  assert.match(tree, /Automated analysis failed quality control: the left-ventricular ejection fraction is physiologically implausible/);
  assert.doesNotMatch(tree, /NUM=/, 'no measurement is stated');
  assert.doesNotMatch(tree, /Normal cardiac|Certainty of Finding/, 'no diagnosis is stated');
  assert.deepEqual(sr.writtenMeasurements, []);
  assert.deepEqual(dciodvfy(sr.bytes).errors, []);
  assert.deepEqual(pixelmedSrValidator(sr.bytes).errors, []);
  assert.throws(() => buildMeasurementReport({ context: fixture.context, result, narrative, segments: SEGMENTS, diagnosisGroups: DIAGNOSIS_GROUPS, segmentation: segmentationReference(seg), sourceImages: [fixture.labelMaps[0]![0]!.image], algorithm, qualityControl: { status: 'fail', summary: 'LVEF 99' }, ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm) }), /summary must hold no number/);
});

test('LV areas along the stack with one peak are in anatomical order; scrambled slices give several', async () => {
  const { countPeaks } = await import('../src/analysis/quality-control.js');
  assert.equal(countPeaks([0, 334, 578, 751, 872, 943, 968, 350]), 1);
  assert.equal(countPeaks([968, 943, 872, 751, 578, 334, 0]), 1, 'the basal slice may be the largest');
  assert.equal(countPeaks([943, 968, 334, 751, 578, 872, 350, 0]), 2);
});

test('with test-time flips the QC block reports the disagreement per structure; a rule threshold only reviews', () => {
  const image = (rvU: number, rvI: number) => ({ transforms: 4, union: [1000, rvU, 50, 80], intersection: [950, rvI, 45, 76], disagreeingPixels: 0, identityConfidence: { foregroundPixels: 100, meanEntropy: 0.05 } });
  const channels = [{ key: 'rv', channel: 1 }, { key: 'myo', channel: 2 }, { key: 'lv', channel: 3 }];
  const images = [[image(100, 90), image(100, 80)]];
  const reported = assessQuality(qcInput({}, { uncertainty: { images, channels } }));
  assert.equal(reported.status, 'pass');
  assert.deepEqual(reported.uncertainty, { method: 'test-time-flips', transforms: 4, disagreement: { rv: 0.15, myo: 0.1, lv: 0.05 } });
  assert.ok(Math.abs(reported.metrics.disagreement_rv! - 0.15) < 1e-12);
  const flagged = assessQuality(qcInput({}, { uncertainty: { images, channels, reviewAbove: { rv: 0.12, myo: 0.2 } } }));
  assert.equal(flagged.status, 'review');
  assert.equal(flagged.details.length, 1);
  assert.equal(flagged.details[0]!.code, 'uncertain_segmentation');
  assert.match(flagged.reasons[0]!, /the segmentation changes under test-time flips \(disagreement RV 0\.150 above 0\.120\)/);
  // Limits per structure: the same disagreement under the RV's own higher limit passes.
  assert.equal(assessQuality(qcInput({}, { uncertainty: { images, channels, reviewAbove: { rv: 0.2 } } })).status, 'pass');
  assert.doesNotMatch(flagged.details[0]!.summary, /\d/, 'the SR summary states no number');
  // Without TTA there is no uncertainty block at all.
  assert.equal(assessQuality(qcInput({})).uncertainty, undefined);
});
