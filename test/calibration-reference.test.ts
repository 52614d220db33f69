/**
 * Reference SEGs for site calibration: `pulse synth --reference-seg` writes a MANUAL SEG of the truth
 * (all or some slices of ED and ES), it reads back onto the study's images, and every kind of bad
 * reference is refused with a clear, typed error before anything is fitted or stored.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spreadSlices, synthReferenceSeg } from '../src/cli/commands/synth.js';
import { referenceLabels } from '../src/pipeline/reference-labels.js';
import { readSegmentation, ReferenceSegError } from '../src/dicom/seg/read.js';
import { buildSegmentation } from '../src/dicom/seg/sop.js';
import { deterministicUid } from '../src/dicom/uid.js';
import { defaultManifestPath, loadManifest } from '../src/model/manifest.js';
import { annotatedFolders, annotatedStudy, calibrate, CALIBRATION_SERIES_RULES } from '../src/pipeline/calibrate.js';
import { CalibrationStore } from '../src/pipeline/calibration-store.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel } from '../src/pipeline/steps.js';
import { readStudy } from '../src/study/read-study.js';
import { generateStudy, writeStudy, type SynthStudy } from '../src/synth/index.js';
import { BadInputError } from '../src/core/errors.js';

const models = new ModelRegistry();
after(() => models.close());

const manifest = loadManifest(defaultManifestPath());
const small = (seed: number, domain: 'vendor-shifted-mri' | 'echo-like' = 'vendor-shifted-mri') => generateStudy({ seed, group: 'NOR', domain, slices: 5, phases: 4 });
const instancesOf = (study: SynthStudy) => study.files.map((f) => ({ source: f.name, bytes: f.bytes }));

test('a synthetic reference SEG covers ED and ES on the chosen slices, and reads back onto those images', () => {
  const study = small(301);
  const seg = readSegmentation(synthReferenceSeg(study, 'ed-es', 3), 'reference-seg.dcm');
  const cine = readStudy(instancesOf(study), CALIBRATION_SERIES_RULES);
  const reference = referenceLabels(cine, seg, manifest.segments, 'synth');
  const { ed, es } = study.truth.phases;
  assert.deepEqual(reference.annotatedPhases, [...new Set([ed, es])].sort((a, b) => a - b));
  assert.equal(reference.annotatedImages, 3 * reference.annotatedPhases.length);
  assert.deepEqual([...spreadSlices(5, 3)], [0, 2, 4]);
  assert.deepEqual(reference.segmentMap, { rv: 1, myo: 2, lv: 3 });
  assert.ok(seg.segments.every((s) => s.algorithmType === 'MANUAL'));
  // The labels are the truth, pixel for pixel, on an annotated image.
  const entry = study.truth.labels.instances.find((e) => e.phase === ed && e.slice === 2)!;
  assert.deepEqual(reference.labels.get(entry.sopInstanceUID), study.labels.get(entry.sopInstanceUID as never));
  // A slice the person skipped is not annotated (it neither teaches nor scores).
  const unannotated = study.truth.labels.instances.find((e) => e.phase === ed && e.slice === 1)!;
  assert.equal(reference.labels.has(unannotated.sopInstanceUID), false);
});

test('segments map by SegmentedPropertyType code, and by label text when the codes are unknown', () => {
  const study = small(302);
  const cine = readStudy(instancesOf(study), CALIBRATION_SERIES_RULES);
  const labels = new Map(study.truth.labels.instances.filter((e) => e.phase === study.truth.phases.ed).map((e) => [e.sopInstanceUID, study.labels.get(e.sopInstanceUID as never)!]));
  const local = (value: string, meaning: string) => ({ value, scheme: '99LOCAL', meaning });
  // Another tool's segment order and private codes: only the labels say what they are.
  const segments = [
    { ...manifest.segments[2]!, name: 'LV blood pool', type: local('L1', 'Cavity A') },
    { ...manifest.segments[0]!, name: 'RV endocardium', type: local('R1', 'Cavity B') },
    { ...manifest.segments[1]!, name: 'Myocardium', type: local('M1', 'Wall') },
  ];
  const seg = buildSegmentation({
    context: cine.context,
    labelMaps: cine.grid.images.map((row) => row.map((image) => (labels.has(image.sopInstanceUID) ? { image, labels: labels.get(image.sopInstanceUID)! } : undefined))),
    phases: [study.truth.phases.ed],
    segments,
    algorithm: { name: 'other tool', version: '2', calibration: null },
    algorithmType: 'SEMIAUTOMATIC',
    seriesInstanceUID: deterministicUid('t', 'series'),
    sopInstanceUID: deterministicUid('t', 'instance'),
  });
  const reference = referenceLabels(cine, readSegmentation(seg.bytes, 'other.dcm'), manifest.segments, 'other');
  assert.deepEqual(reference.segmentMap, { rv: 2, myo: 3, lv: 1 });
});

test('bad references are refused, naming the study: another study, automatic, empty, corrupt, not a SEG', () => {
  const a = small(303);
  const b = small(304);
  const cine = readStudy(instancesOf(a), CALIBRATION_SERIES_RULES);
  const other = readSegmentation(synthReferenceSeg(b, 'ed-es'), 'b.dcm');
  assert.throws(() => referenceLabels(cine, other, manifest.segments, 'a'), (e: unknown) => e instanceof ReferenceSegError && /belongs to study/.test((e as Error).message) && (e as Error).message.includes(a.truth.studyInstanceUID));

  const labels = new Map(a.truth.labels.instances.filter((e) => e.phase === a.truth.phases.ed).map((e) => [e.sopInstanceUID, a.labels.get(e.sopInstanceUID as never)!]));
  const maps = cine.grid.images.map((row) => row.map((image) => (labels.has(image.sopInstanceUID) ? { image, labels: labels.get(image.sopInstanceUID)! } : undefined)));
  const build = (algorithmType: 'AUTOMATIC' | 'MANUAL', empty = false) =>
    buildSegmentation({
      context: cine.context,
      labelMaps: maps.map((row) => row.map((m) => (m && empty ? { image: m.image, labels: new Uint8Array(m.labels.length) } : m))),
      phases: [a.truth.phases.ed],
      segments: manifest.segments,
      algorithm: { name: 'pulse-lite', version: '1.0.0', calibration: null },
      algorithmType,
      seriesInstanceUID: deterministicUid('x', algorithmType, String(empty)),
      sopInstanceUID: deterministicUid('y', algorithmType, String(empty)),
    }).bytes;
  assert.throws(() => referenceLabels(cine, readSegmentation(build('AUTOMATIC'), 'auto.dcm'), manifest.segments, 'a'), /must be MANUAL or SEMIAUTOMATIC/);
  assert.throws(() => referenceLabels(cine, readSegmentation(build('MANUAL', true), 'empty.dcm'), manifest.segments, 'a'), /reference SEG is empty/);
  const good = synthReferenceSeg(a, 'ed-es');
  assert.throws(() => readSegmentation(good.subarray(0, Math.floor(good.length * 0.6)), 'cut.dcm'), (e: unknown) => e instanceof ReferenceSegError && /cut\.dcm/.test((e as Error).message));
  assert.throws(() => readSegmentation(a.files[0]!.bytes, 'image.dcm'), /is not Segmentation Storage/);
  assert.throws(() => readSegmentation(new Uint8Array(20), 'zeros.dcm'), ReferenceSegError);
});

test('a study without a reference SEG, and a folder without studies (K = 0), are refused before any fit', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cal-ref-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const model = await loadModel(models);
  const study = small(305);
  await assert.rejects(annotatedStudy(instancesOf(study), 'no-seg', model), (e: unknown) => e instanceof ReferenceSegError && /no reference SEG/.test((e as Error).message));
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(annotatedFolders(empty), (e: unknown) => e instanceof BadInputError && /K = 0/.test((e as Error).message));
  const store = new CalibrationStore(join(dir, 'data'));
  await assert.rejects(calibrate(model, [], { store }), /K = 0/);
  assert.deepEqual(store.list(), []);
  assert.deepEqual(store.state().active, []);
  // A folder whose SEG belongs to another study: refused, nothing stored.
  const folder = await writeStudy(dir, study);
  writeFileSync(join(folder, 'reference-seg.dcm'), synthReferenceSeg(small(306), 'ed-es'));
  await assert.rejects(annotatedStudy([...instancesOf(study), { source: 'reference-seg.dcm', bytes: synthReferenceSeg(small(306), 'ed-es') }], folder, model), /belongs to study/);
});
