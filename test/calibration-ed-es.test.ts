/**
 * The calibration's own ED/ES choice (src/calibration/cases.ts referenceEdEs): among the phases a
 * person annotated on every slice, ED holds the largest and ES the smallest reference LV volume; the
 * reference LVEF of a calibration is computed between them. Hand-built cases: only the reference
 * label maps and geometry matter here (no model, no features).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coverageOf, referenceEdEs, type CalibrationCase, type CalibrationPhase } from '../src/calibration/cases.js';
import type { GridMapping } from '../src/model/resample.js';

const LV = 3;
const MYO = 2;
const SIZE = 8;
const NO_MAPPING = {} as GridMapping; // referenceEdEs never reads it

/** One phase: per slice the number of LV pixels of the reference, or null for an image nobody annotated. */
function phase(index: number, lvPixels: ReadonlyArray<number | null>, spacingMm: readonly [number, number] = [1, 1]): CalibrationPhase {
  return {
    phase: index,
    images: lvPixels.map((n, slice) => ({
      slice,
      features: new Float32Array(0),
      logits: new Float32Array(0),
      mapping: NO_MAPPING,
      plane: { rows: SIZE, columns: SIZE, pixelSpacing: spacingMm, imagePositionPatient: [0, 0, slice * 10], imageOrientationPatient: [1, 0, 0, 0, 1, 0] },
      ...(n === null ? {} : { reference: Uint8Array.from({ length: SIZE * SIZE }, (_, i) => (i < n ? LV : i < n + 5 ? MYO : 0)) }),
    })),
  };
}

function calibrationCase(phases: readonly CalibrationPhase[], segmentLabels: Record<string, number> = { lv: LV, myo: MYO }): CalibrationCase {
  return { key: 'k', featureDims: [0, 0, 0], modelRows: SIZE, modelColumns: SIZE, labelValues: Uint8Array.of(0, MYO, LV), segmentLabels, slicePositionsMm: [0, 10], phases };
}

const edEsPhases = (c: CalibrationCase) => {
  const chosen = referenceEdEs(c);
  return chosen && { ed: chosen.ed.phase, es: chosen.es.phase };
};

test('ED is the fully annotated phase with the largest reference LV volume, ES the smallest', () => {
  const c = calibrationCase([phase(0, [20, 20]), phase(4, [30, 25]), phase(9, [10, 12]), phase(12, [15, 15])]);
  assert.deepEqual(edEsPhases(c), { ed: 4, es: 9 });
});

test('volumes weigh each image by its pixel area', () => {
  // Phase 2 has fewer LV pixels but larger pixels: 2 x (20 x 4 mm²) against 2 x (30 x 1 mm²).
  const c = calibrationCase([phase(0, [30, 30]), phase(2, [20, 20], [2, 2]), phase(5, [25, 25])]);
  assert.deepEqual(edEsPhases(c), { ed: 2, es: 5 });
});

test('a phase missing a slice of its reference is not a candidate, however large its volume', () => {
  const c = calibrationCase([phase(0, [20, 20]), phase(1, [60, null]), phase(3, [10, 10])]);
  assert.deepEqual(edEsPhases(c), { ed: 0, es: 3 });
});

test('ties go to the earliest phase', () => {
  const c = calibrationCase([phase(0, [10, 10]), phase(1, [30, 30]), phase(2, [30, 30]), phase(3, [10, 10])]);
  assert.deepEqual(edEsPhases(c), { ed: 1, es: 0 });
});

test('no ED/ES without two fully annotated phases, an LV segment, a volume change or any LV', () => {
  assert.equal(referenceEdEs(calibrationCase([phase(0, [20, 20]), phase(1, [10, null])])), undefined, 'one full phase');
  assert.equal(referenceEdEs(calibrationCase([phase(0, [20, 20]), phase(1, [10, 10])], { myo: MYO })), undefined, 'no LV key');
  assert.equal(referenceEdEs(calibrationCase([phase(0, [20, 20]), phase(1, [20, 20])])), undefined, 'flat curve');
  assert.equal(referenceEdEs(calibrationCase([phase(0, [0, 0]), phase(1, [0, 0])])), undefined, 'no LV anywhere');
  assert.deepEqual(edEsPhases(calibrationCase([phase(0, [1, 0]), phase(1, [0, 0])])), { ed: 0, es: 1 }, 'one LV pixel is an LV');
});

test('the annotation coverage counts the studies whose ED and ES are annotated on every slice', () => {
  const full = calibrationCase([phase(0, [20, 20]), phase(1, [10, 10])]);
  const partial = calibrationCase([phase(0, [20, 20]), phase(1, [10, null]), phase(2, [null, null])]);
  const coverage = coverageOf([full, partial, full]);
  assert.equal(coverage.studiesWithFullEdEs, 2);
  assert.equal(coverage.annotatedImages, 11);
  assert.equal(coverageOf([full, full]).totalImagesOfAnnotatedPhases, 8);
  assert.equal(coverage.annotatedPhases, 6, 'a phase nobody annotated is not an annotated phase');
});
