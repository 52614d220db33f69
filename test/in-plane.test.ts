/**
 * In-plane orientation (issue 11, item 2): the eight transposes/flips keep every pixel where it is in
 * the patient, the canonical short-axis display is found from ImageOrientationPatient alone, and
 * `pulse synth --flip/--coverage/--slice-thickness` studies come back to the unflipped grid. No model.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Vec3 } from '../src/core/geometry.js';
import {
  canonicalTransform,
  IDENTITY,
  inverseTransform,
  isIdentity,
  NAMED_TRANSFORMS,
  sourceIndex,
  transformPixels,
  transformPlane,
  untransformPixels,
  type PlaneGeometry,
} from '../src/core/in-plane.js';
import { drawAcquisition } from '../src/synth/acquisition.js';
import { generateStudy } from '../src/synth/index.js';
import { Random } from '../src/synth/random.js';
import { canonicalGrid } from '../src/study/canonical.js';
import { readStudy } from '../src/study/read-study.js';

const plane: PlaneGeometry = {
  rows: 5,
  columns: 7,
  pixelSpacing: [1.5, 1.25],
  imagePositionPatient: [10, -20, 30],
  // A synthetic default short-axis plane (canonical display).
  imageOrientationPatient: [0.686, 0.087, 0.722, 0.477, 0.705, -0.525],
};

function position(p: PlaneGeometry, r: number, c: number): Vec3 {
  const iop = p.imageOrientationPatient;
  return [0, 1, 2].map((i) => p.imagePositionPatient[i]! + c * p.pixelSpacing[1] * iop[i]! + r * p.pixelSpacing[0] * iop[3 + i]!) as unknown as Vec3;
}

describe('in-plane transforms', () => {
  for (const [name, t] of Object.entries(NAMED_TRANSFORMS)) {
    it(`${name}: every pixel keeps its patient position, and the way back restores the image`, () => {
      const pixels = Float32Array.from({ length: plane.rows * plane.columns }, (_, i) => i);
      const moved = transformPlane(plane, t);
      const out = transformPixels(pixels, plane.rows, plane.columns, t);
      assert.equal(moved.rows * moved.columns, out.length);
      for (let r = 0; r < moved.rows; r++) {
        for (let c = 0; c < moved.columns; c++) {
          const source = out[r * moved.columns + c]!;
          const here = position(moved, r, c);
          const there = position(plane, Math.floor(source / plane.columns), source % plane.columns);
          assert.ok(Math.hypot(here[0] - there[0], here[1] - there[1], here[2] - there[2]) < 1e-9, `${name} pixel ${r},${c}`);
        }
      }
      assert.deepEqual(untransformPixels(out, plane.rows, plane.columns, t), pixels);
      assert.deepEqual(transformPixels(out, moved.rows, moved.columns, inverseTransform(t)), pixels, 'inverseTransform undoes it');
      assert.equal(sourceIndex(plane.rows, plane.columns, t).length, pixels.length);
    });
  }

  it('the canonical display is found from ImageOrientationPatient: identity for it, the inverse for each flip', () => {
    assert.ok(isIdentity(canonicalTransform(plane)));
    for (const [name, t] of Object.entries(NAMED_TRANSFORMS)) {
      const flipped = transformPlane(plane, t);
      const back = transformPlane(flipped, canonicalTransform(flipped));
      assert.deepEqual(back.imageOrientationPatient.map((v) => Math.round(v * 1e6)), plane.imageOrientationPatient.map((v) => Math.round(v * 1e6)), name);
      assert.deepEqual(back.imagePositionPatient.map((v) => Math.round(v * 1e6)), plane.imagePositionPatient.map((v) => Math.round(v * 1e6)), name);
    }
  });

  it('every synthetic default orientation is the canonical display (500 seeds)', () => {
    for (let seed = 0; seed < 500; seed++) {
      const a = drawAcquisition(Random.from('in-plane-test', seed), { heartLengthMm: 90, heartRateBpm: 60 });
      const t = canonicalTransform({ pixelSpacing: [1, 1], imageOrientationPatient: [...a.rowCosines, ...a.columnCosines] as unknown as PlaneGeometry['imageOrientationPatient'] });
      assert.ok(isIdentity(t), `seed ${seed}: ${JSON.stringify(t)}`);
    }
  });
});

describe('pulse synth --flip, --coverage, --slice-thickness', () => {
  const base = { seed: 5, group: 'NOR' as const, slices: 4, phases: 2 };
  const read = (study: ReturnType<typeof generateStudy>) => readStudy(study.files.map((f) => ({ source: f.name, bytes: f.bytes })));

  it('a flipped study, turned canonical, is the unflipped one pixel for pixel; its truth labels follow its pixels', () => {
    // The generator's UIDs do not depend on --flip: an image is found in both studies by its SOP Instance UID.
    const unflipped = generateStudy(base);
    const reference = new Map(read(unflipped).grid.images.flat().map((i) => [i.sopInstanceUID, i]));
    for (const flip of ['rot90', 'rows', 'transpose'] as const) {
      const generated = generateStudy({ ...base, flip });
      const canonical = canonicalGrid(read(generated).grid);
      assert.deepEqual(canonical.transform, inverseTransform(NAMED_TRANSFORMS[flip]), flip);
      for (const image of canonical.grid.images.flat()) {
        const want = reference.get(image.sopInstanceUID)!;
        assert.deepEqual([image.plane.rows, image.plane.columns, ...image.plane.pixelSpacing], [want.plane.rows, want.plane.columns, ...want.plane.pixelSpacing], flip);
        assert.deepEqual(image.plane.imageOrientationPatient.map((v) => Math.round(v * 1e4)), want.plane.imageOrientationPatient.map((v) => Math.round(v * 1e4)), flip);
        assert.deepEqual(image.pixels, want.pixels, `${flip}: ${image.sopInstanceUID}`);
      }
      for (const entry of generated.truth.labels.instances) {
        const labels = generated.labels.get(entry.sopInstanceUID as never)!;
        assert.deepEqual(transformPixels(labels, entry.rows, entry.columns, canonical.transform), unflipped.labels.get(entry.sopInstanceUID as never), `${flip}: labels`);
      }
    }
  });

  it('label maps come back onto the stored grid', () => {
    const study = read(generateStudy({ ...base, flip: 'rot90' }));
    const canonical = canonicalGrid(study.grid);
    const maps = canonical.grid.images.map((row) => row.map((image) => ({ image, labels: Uint8Array.from(image.pixels, (v) => (v > 500 ? 1 : 0)) })));
    const back = canonical.toSource(maps);
    const stored = study.grid.images[2]![1]!;
    assert.equal(back[2]![1]!.image, stored);
    assert.deepEqual(back[2]![1]!.labels, Uint8Array.from(stored.pixels, (v) => (v > 500 ? 1 : 0)));
  });

  it('an axis-aligned stack (a NIfTI conversion) is left as stored', () => {
    const study = read(generateStudy(base));
    const axial = { ...study.grid, sliceNormal: [0, 0, 1] as Vec3 };
    assert.deepEqual(canonicalGrid(axial).transform, IDENTITY);
  });

  it('partial coverage drops the apical or basal planes of the same heart; thickness and gap set the spacing', () => {
    const full = generateStudy({ seed: 9, group: 'DCM', phases: 2 });
    const noApex = generateStudy({ seed: 9, group: 'DCM', phases: 2, coverage: 'no-apex' });
    const noBase = generateStudy({ seed: 9, group: 'DCM', phases: 2, coverage: 'no-base' });
    const planes = (s: typeof full) => (s.truth.parameters.acquisition as { planesZMm: readonly number[] }).planesZMm;
    for (const part of [noApex, noBase]) {
      assert.ok(part.truth.grid.slices < full.truth.grid.slices);
      assert.ok(planes(part).every((z) => planes(full).includes(z)), 'the planes kept are planes of the full stack');
    }
    const length = Math.max(...planes(full)) - Math.min(...planes(full));
    assert.ok(Math.max(...planes(noApex)) < Math.min(...planes(full)) + 0.75 * length);
    assert.ok(Math.min(...planes(noBase)) > Math.min(...planes(full)) + 0.2 * length);
    assert.ok(noApex.truth.measurements.lvedv_ml < full.truth.measurements.lvedv_ml, 'a partial stack holds less of the ventricle');

    const thick = generateStudy({ seed: 9, group: 'DCM', phases: 2, sliceThicknessMm: 10, sliceGapMm: 2 });
    assert.equal(thick.truth.grid.sliceThicknessMm, 10);
    assert.equal(thick.truth.grid.spacingBetweenSlicesMm, 12);
    assert.throws(() => generateStudy({ seed: 9, sliceGapMm: 2 }), /sliceGapMm needs sliceThicknessMm/);
    assert.throws(() => generateStudy({ seed: 9, flip: 'sideways' as never }), /flip must be one of/);
  });
});
