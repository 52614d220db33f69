import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigSchema } from '../src/config/schema.js';
import { cineShape, isOwnOutput, routeStudy } from '../src/service/router.js';
import type { SeriesFacts, StudyFacts } from '../src/orthanc/study-facts.js';
import { BadInputError } from '../src/core/errors.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { generateStudy } from '../src/synth/index.js';

const config = ConfigSchema.parse({});
const MODEL = 'pulse-lite@1.0.0';
const options = { rules: config.routing, ownOutputs: config.ownOutputs, modelKey: MODEL };

function cineSeries(slices: number, phases: number, overrides: Partial<SeriesFacts> = {}): SeriesFacts {
  const instances = [];
  for (let s = 0; s < slices; s++) for (let p = 0; p < phases; p++) instances.push({ orthancId: `i${s}-${p}`, imagePositionPatient: `-100.0\\-80.5\\${(s * 8.0004).toFixed(4)}` });
  return { orthancId: 'se1', seriesInstanceUID: '1.2.3.1', modality: 'MR', seriesDescription: 'cine SAX', bodyPartExamined: 'HEART', manufacturer: 'Siemens', sopClassUID: '1.2.840.10008.5.1.4.1.1.4', remoteAET: 'MRI1', instances, ...overrides };
}

function study(series: SeriesFacts[], extra: Partial<StudyFacts> = {}): StudyFacts {
  return { orthancId: 'st1', studyInstanceUID: '1.2.3', studyDescription: 'Cardiac MRI', series, metadata: {}, ...extra };
}

const pulseSeg: SeriesFacts = { orthancId: 'seg', seriesInstanceUID: '1.2.3.9', modality: 'SEG', seriesDescription: 'PULSE segmentation (automated)', bodyPartExamined: '', manufacturer: 'PULSE for Orthanc', sopClassUID: '1.2.840.10008.5.1.4.1.1.66.4', instances: [{ orthancId: 'x' }] };
const pulseSr: SeriesFacts = { ...pulseSeg, orthancId: 'sr', seriesInstanceUID: '1.2.3.10', modality: 'SR', sopClassUID: '1.2.840.10008.5.1.4.1.1.88.34' };

test('a cine short-axis MR study qualifies, with the cine series chosen', () => {
  const decision = routeStudy(study([cineSeries(6, 8), { ...cineSeries(1, 1), seriesInstanceUID: '1.2.3.2', seriesDescription: 'localizer' }]), options);
  assert.equal(decision.action, 'process');
  assert.deepEqual(decision.action === 'process' && decision.series.map((s) => s.seriesInstanceUID), ['1.2.3.1']);
});

test('cine shape counts slice positions and phases, tolerating a missing phase and rounding', () => {
  assert.deepEqual(cineShape(cineSeries(6, 8)), { slices: 6, phases: 8 });
  const gappy = cineSeries(5, 10);
  assert.deepEqual(cineShape({ ...gappy, instances: gappy.instances.slice(1) }), { slices: 5, phases: 10 });
  assert.deepEqual(cineShape({ ...gappy, instances: [{ orthancId: 'm', numberOfFrames: 200 }] }), { slices: 1, phases: 200 });
  assert.deepEqual(cineShape({ ...gappy, instances: [{ orthancId: 'n' }] }), { slices: 0, phases: 0 });
});

test('every skipped study has a reason an administrator can act on', () => {
  const cases: Array<[StudyFacts, RegExp]> = [
    [study([{ ...cineSeries(1, 1), modality: 'CT', sopClassUID: '1.2.840.10008.5.1.4.1.1.2' }]), /no series qualifies \(series 1\.2\.3\.1: Modality CT is not one of MR\)/],
    [study([cineSeries(1, 1)]), /no cine stack: the best candidate series has 1 slices x 1 phases \(need at least 3 x 2\)/],
    [study([cineSeries(6, 1)]), /6 slices x 1 phases/],
    [study([cineSeries(2, 20)]), /2 slices x 20 phases/],
    [study([cineSeries(6, 8, { sopClassUID: '1.2.840.10008.5.1.4.1.1.7' })]), /SOPClassUID 1\.2\.840\.10008\.5\.1\.4\.1\.1\.7 is not an accepted image class/],
    [study([]), /the study has no series/],
  ];
  for (const [facts, reason] of cases) {
    const decision = routeStudy(facts, options);
    assert.equal(decision.action, 'skip');
    assert.match(decision.reason, reason);
  }
});

test('description, body part and calling AE title rules apply when configured', () => {
  const rules = ConfigSchema.parse({ routing: { studyDescription: 'card|heart', series: { seriesDescriptionInclude: ['sax|short'] }, bodyParts: ['HEART', 'CHEST'], callingAETitles: ['MRI1'] } }).routing;
  const o = { ...options, rules };
  assert.equal(routeStudy(study([cineSeries(6, 8)]), o).action, 'process');
  assert.match(routeStudy(study([cineSeries(6, 8)], { studyDescription: 'Brain' }), o).reason, /StudyDescription does not match \/card\|heart\//);
  assert.match(routeStudy(study([cineSeries(6, 8, { seriesDescription: '2CH' })]), o).reason, /SeriesDescription "2CH" matches no include pattern/);
  assert.match(routeStudy(study([cineSeries(6, 8, { bodyPartExamined: 'HEAD' })]), o).reason, /BodyPartExamined HEAD not in \[HEART, CHEST\]/);
  assert.equal(routeStudy(study([cineSeries(6, 8, { bodyPartExamined: '' })]), o).action, 'process', 'a missing BodyPartExamined passes');
  assert.match(routeStudy(study([cineSeries(6, 8, { remoteAET: 'CT7' })]), o).reason, /calling AE title CT7 not in \[MRI1\]/);
  assert.match(routeStudy(study([cineSeries(6, 8, { remoteAET: '' })]), o).reason, /not received over DICOM/);
});

test('our own SEG, SR and overlay are recognised and never trigger processing', () => {
  assert.equal(isOwnOutput(pulseSeg, config.ownOutputs), true);
  assert.equal(isOwnOutput(pulseSr, config.ownOutputs), true);
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: 'Other', seriesDescription: 'PULSE overlay', modality: 'OT', sopClassUID: '1.2.840.10008.5.1.4.1.1.7' }, config.ownOutputs), true);
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: 'dcmqi', seriesDescription: 'Manual segmentation' }, config.ownOutputs), false, "another tool's SEG is not ours");
  assert.equal(isOwnOutput(cineSeries(6, 8, { seriesDescription: 'PULSE sequence' }), config.ownOutputs), false, 'an MR image is never our output');
  const decision = routeStudy(study([pulseSeg, pulseSr]), options);
  assert.deepEqual(decision, { action: 'skip', reason: 'the study holds only PULSE outputs' });
});

test('a study already processed for this model is skipped unless asked again; another model version processes it', () => {
  const processed = study([cineSeries(6, 8), pulseSeg, pulseSr], { metadata: { PulseStatus: 'done', PulseModel: MODEL } });
  const decision = routeStudy(processed, options);
  assert.equal(decision.action, 'skip');
  assert.match(decision.reason, /already processed for pulse-lite@1\.0\.0/);
  assert.equal(routeStudy(processed, { ...options, forced: true }).action, 'process');
  const next = routeStudy(processed, { ...options, modelKey: 'pulse-lite@1.1.0' });
  assert.equal(next.action, 'process');
  assert.deepEqual(next.action === 'process' && next.series.map((s) => s.modality), ['MR'], 'our outputs are not handed to the pipeline');
});

test("the pipeline's own Manufacturer and series descriptions are recognised by the default rules", async () => {
  const { MANUFACTURER } = await import('../src/dicom/modules/equipment.js');
  const { DEFAULT_SEG_SERIES_DESCRIPTION } = await import('../src/dicom/seg/sop.js');
  const { DEFAULT_SR_SERIES_DESCRIPTION } = await import('../src/dicom/sr/sop.js');
  const { DEFAULT_OVERLAY_SERIES_DESCRIPTION } = await import('../src/dicom/overlay/sop.js');
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: MANUFACTURER, seriesDescription: DEFAULT_SEG_SERIES_DESCRIPTION }, config.ownOutputs), true);
  assert.equal(isOwnOutput({ ...pulseSr, manufacturer: MANUFACTURER, seriesDescription: DEFAULT_SR_SERIES_DESCRIPTION }, config.ownOutputs), true);
  // Even when a PACS rewrote the Manufacturer, the description on a derived object is enough.
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: '', modality: 'OT', sopClassUID: '1.2.840.10008.5.1.4.1.1.7', seriesDescription: DEFAULT_OVERLAY_SERIES_DESCRIPTION }, config.ownOutputs), true);
});

// Added where mutation testing (docs/testing.md) showed a behaviour no test pinned down.

test('every derived SOP class we may write counts as ours, by Manufacturer, whatever its Modality says', () => {
  const derived = [
    '1.2.840.10008.5.1.4.1.1.66.4', // Segmentation
    '1.2.840.10008.5.1.4.1.1.88.11', // Basic Text SR
    '1.2.840.10008.5.1.4.1.1.88.22', // Enhanced SR
    '1.2.840.10008.5.1.4.1.1.88.33', // Comprehensive SR
    '1.2.840.10008.5.1.4.1.1.88.34', // Comprehensive 3D SR
    '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture (the overlay)
  ];
  for (const sopClassUID of derived) {
    assert.equal(isOwnOutput({ ...pulseSeg, modality: 'XX', seriesDescription: 'results', sopClassUID }, config.ownOutputs), true, sopClassUID);
  }
  for (const modality of ['SEG', 'SR', 'OT', 'seg']) {
    const { sopClassUID: _, ...withoutClass } = pulseSeg;
    assert.equal(isOwnOutput({ ...withoutClass, modality, seriesDescription: 'results' }, config.ownOutputs), true, modality);
  }
  // Our Manufacturer on a source image (a site that re-labels its scanner so) is not an output.
  assert.equal(isOwnOutput(cineSeries(6, 8, { manufacturer: 'PULSE for Orthanc' }), config.ownOutputs), false);
  // A derived object with neither our Manufacturer nor our description is another tool's.
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: '', seriesDescription: '' }, config.ownOutputs), false);
  assert.equal(isOwnOutput({ ...pulseSeg, manufacturer: 'pulse FOR orthanc', seriesDescription: '' }, config.ownOutputs), true, 'case-insensitive');
});

test('the minimum cine shape is inclusive, and a study below it is skipped naming its largest candidate', () => {
  // Defaults: at least 3 slices x 2 phases.
  assert.equal(routeStudy(study([cineSeries(3, 2)]), options).action, 'process');
  const small = routeStudy(study([cineSeries(2, 2), { ...cineSeries(2, 30), seriesInstanceUID: '1.2.3.5' }, { ...cineSeries(1, 1), seriesInstanceUID: '1.2.3.6' }]), options);
  assert.equal(small.action, 'skip');
  assert.match(small.reason, /best candidate series has 2 slices x 30 phases/);
});

test('the process decision names each cine series with its shape', () => {
  const decision = routeStudy(study([cineSeries(6, 8), { ...cineSeries(4, 20), seriesInstanceUID: '1.2.3.7' }]), options);
  assert.equal(decision.action, 'process');
  assert.equal(decision.reason, 'cine series 1.2.3.1: 6 x 8; cine series 1.2.3.7: 4 x 20');
});

test('with requireCine off, every candidate series qualifies whatever its shape', () => {
  const rules = ConfigSchema.parse({ routing: { requireCine: false } }).routing;
  const decision = routeStudy(study([cineSeries(1, 1)]), { ...options, rules });
  assert.deepEqual(decision.action === 'process' && { series: decision.series.map((s) => s.seriesInstanceUID), reason: decision.reason }, { series: ['1.2.3.1'], reason: '1 candidate series' });
});

test('a study done for this model, or only in progress, is judged by both marks', () => {
  const facts = (metadata: Record<string, string>) => study([cineSeries(6, 8)], { metadata });
  assert.equal(routeStudy(facts({ PulseStatus: 'done', PulseModel: MODEL }), options).action, 'skip');
  assert.equal(routeStudy(facts({ PulseStatus: 'failed', PulseModel: MODEL }), options).action, 'process', 'not done: run it');
  assert.equal(routeStudy(facts({ PulseStatus: 'done' }), options).action, 'process', 'done by no known model');
});

test('one accepted calling AE title among several is enough; the reason lists each caller', () => {
  const rules = ConfigSchema.parse({ routing: { callingAETitles: [' mri1 '] } }).routing;
  const two = study([cineSeries(6, 8, { remoteAET: 'CT7' }), { ...cineSeries(6, 8, { remoteAET: 'MRI1' }), seriesInstanceUID: '1.2.3.8' }]);
  assert.equal(routeStudy(two, { ...options, rules }).action, 'process');
  const none = study([cineSeries(6, 8, { remoteAET: 'CT7' }), { ...cineSeries(6, 8, { remoteAET: '' }), seriesInstanceUID: '1.2.3.8' }]);
  assert.equal(routeStudy(none, { ...options, rules }).reason, 'calling AE title CT7, (none: not received over DICOM) not in [MRI1]');
});

test('cine shape ignores unreadable positions and counts enhanced multi-frame instances as slices', () => {
  const base = cineSeries(1, 1);
  assert.deepEqual(cineShape({ ...base, instances: [{ orthancId: 'a', imagePositionPatient: '1\\2' }, { orthancId: 'b', imagePositionPatient: 'x\\0\\0' }, { orthancId: 'c', imagePositionPatient: '' }] }), { slices: 0, phases: 0 });
  assert.deepEqual(cineShape({ ...base, instances: [{ orthancId: 'm1', numberOfFrames: 60 }, { orthancId: 'm2', numberOfFrames: 60 }, { orthancId: 'm3', numberOfFrames: 60 }] }), { slices: 3, phases: 60 });
  // Slices with fewer phases than most (a missing phase) still count; a lone extra image does not.
  const gappy = cineSeries(4, 10);
  const extra = { orthancId: 'x', imagePositionPatient: '-100.0\\-80.5\\99.0' };
  assert.deepEqual(cineShape({ ...gappy, instances: [...gappy.instances.slice(3), extra] }), { slices: 4, phases: 10 });
});

test('several rejected series are each listed in the skip reason', () => {
  const decision = routeStudy(study([{ ...cineSeries(1, 1), modality: 'CT' }, { ...cineSeries(1, 1), seriesInstanceUID: '1.2.3.2', modality: 'US' }]), options);
  assert.equal(decision.reason, 'no series qualifies (series 1.2.3.1: Modality CT is not one of MR; series 1.2.3.2: Modality US is not one of MR)');
});

test("the router pre-checks the reader's own series rules: a series the reader would refuse is not queued", () => {
  const decision = routeStudy(study([cineSeries(6, 8, { seriesDescription: 'Localizer' })]), options);
  assert.equal(decision.action, 'skip');
  assert.match(decision.reason, /SeriesDescription "Localizer" matches exclude pattern/);
  assert.match(routeStudy(study([cineSeries(2, 20)]), options).reason, new RegExp(`need at least ${config.routing.series.minSlices} x ${config.routing.series.minPhases}`));
});

test('the pipeline processor reads with the rules the router used', async () => {
  const processor = createPipelineProcessor({ seriesRules: { modalities: ['CT'] } });
  const instances = generateStudy({ seed: 3, slices: 3, phases: 2 }).files.map((f) => ({ source: f.name, bytes: f.bytes }));
  await assert.rejects(processor.process(instances), (error: Error) => error instanceof BadInputError && /Modality MR is not one of CT/.test(error.message));
});
