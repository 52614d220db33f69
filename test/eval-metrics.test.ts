import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classification, dice, errorSummary, hausdorff95, percentile, type PhaseVolume } from '../src/pipeline/metrics.js';
import type { ImagePlane } from '../src/study/types.js';

// An oblique, anisotropic stack: rows along (0, 0.6, 0.8) at 1.2 mm, columns along (0.8, 0.36, -0.48)
// at 0.9 mm... expressed as DICOM does: row cosines first (direction of increasing column index).
const rowCosines = [0.8, 0.36, -0.48] as const;
const columnCosines = [0, 0.8, 0.6] as const;
const normal = [
  rowCosines[1] * columnCosines[2] - rowCosines[2] * columnCosines[1],
  rowCosines[2] * columnCosines[0] - rowCosines[0] * columnCosines[2],
  rowCosines[0] * columnCosines[1] - rowCosines[1] * columnCosines[0],
] as const;
const spacing: [number, number] = [1.2, 0.9];
const gap = 7.5;

function stack(depth: number, rows: number, columns: number): ImagePlane[] {
  return Array.from({ length: depth }, (_, s) => ({
    rows,
    columns,
    pixelSpacing: spacing,
    imagePositionPatient: [10 + s * gap * normal[0], -5 + s * gap * normal[1], 3 + s * gap * normal[2]],
    imageOrientationPatient: [...rowCosines, ...columnCosines],
  }));
}

function volume(planes: ImagePlane[], fill: (s: number, r: number, c: number) => number): PhaseVolume {
  return {
    planes,
    labels: planes.map((p, s) => {
      const m = new Uint8Array(p.rows * p.columns);
      for (let r = 0; r < p.rows; r++) for (let c = 0; c < p.columns; c++) m[r * p.columns + c] = fill(s, r, c);
      return m;
    }),
  };
}

test('Dice is 1 for identical volumes, 2|A∩B|/(|A|+|B|) otherwise, and null when both are empty', () => {
  const planes = stack(3, 10, 10);
  const a = volume(planes, (s, r, c) => (r < 5 && c < 4 ? 3 : 0)); // 20 voxels per slice
  const b = volume(planes, (s, r, c) => (r < 5 && c < 2 ? 3 : r === 9 ? 1 : 0)); // 10 per slice, all inside a
  assert.equal(dice(a, a, 3), 1);
  assert.equal(dice(a, b, 3), (2 * 30) / (60 + 30));
  assert.equal(dice(a, b, 1), 0);
  assert.equal(dice(a, b, 2), null);
  // Different label values on each side (manifest vs reference convention).
  const relabelled = volume(planes, (s, r, c) => (r < 5 && c < 4 ? 7 : 0));
  assert.equal(dice(a, relabelled, 3, 7), 1);
});

test('HD95 measures in patient millimetres on an oblique, anisotropic stack', () => {
  const planes = stack(4, 12, 12);
  // Two single voxels: slice 0 (row 2, col 3) and slice 2 (row 5, col 7).
  const a = volume(planes, (s, r, c) => (s === 0 && r === 2 && c === 3 ? 3 : 0));
  const b = volume(planes, (s, r, c) => (s === 2 && r === 5 && c === 7 ? 3 : 0));
  const expected = Math.hypot(3 * spacing[0], 4 * spacing[1], 2 * gap);
  assert.ok(Math.abs(hausdorff95(a, b, 3, normal)! - expected) < 1e-9);
  assert.equal(hausdorff95(a, a, 3, normal), 0);
  assert.equal(hausdorff95(a, volume(planes, () => 0), 3, normal), null);
});

test('HD95 with slice pruning equals the brute-force pooled 95th percentile of surface distances', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(3), fc.nat(7), fc.nat(7)), { minLength: 1, maxLength: 30 }), fc.array(fc.tuple(fc.nat(3), fc.nat(7), fc.nat(7)), { minLength: 1, maxLength: 30 }), (pa, pb) => {
      const planes = stack(4, 8, 8);
      const has = (set: Array<[number, number, number]>) => (s: number, r: number, c: number) => (set.some(([ss, rr, cc]) => ss === s && rr === r && cc === c) ? 1 : 0);
      const a = volume(planes, has(pa));
      const b = volume(planes, has(pb));
      // Brute force: surface voxels (6-neighbourhood), physical points, all pairs.
      const points = (v: PhaseVolume) => {
        const out: number[][] = [];
        v.labels.forEach((m, s) => {
          for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) {
            if (m[r * 8 + c] !== 1) continue;
            const at = (ss: number, rr: number, cc: number) => ss >= 0 && ss < 4 && rr >= 0 && rr < 8 && cc >= 0 && cc < 8 && v.labels[ss]![rr * 8 + cc] === 1;
            if ([at(s - 1, r, c), at(s + 1, r, c), at(s, r - 1, c), at(s, r + 1, c), at(s, r, c - 1), at(s, r, c + 1)].every(Boolean)) continue;
            const p = planes[s]!.imagePositionPatient;
            out.push([0, 1, 2].map((i) => p[i]! + c * spacing[1] * rowCosines[i]! + r * spacing[0] * columnCosines[i]!));
          }
        });
        return out;
      };
      const A = points(a), B = points(b);
      const nearest = (from: number[][], to: number[][]) => from.map((p) => Math.min(...to.map((q) => Math.hypot(p[0]! - q[0]!, p[1]! - q[1]!, p[2]! - q[2]!))));
      const expected = percentile([...nearest(A, B), ...nearest(B, A)], 95);
      assert.ok(Math.abs(hausdorff95(a, b, 1, normal)! - expected) < 1e-9);
    }),
    { numRuns: 60 },
  );
});

test('classification metrics: accuracy, macro-F1 and the confusion matrix (truth rows, predicted columns)', () => {
  const pairs = [
    { truth: 'NOR', predicted: 'NOR' },
    { truth: 'NOR', predicted: 'DCM' },
    { truth: 'DCM', predicted: 'DCM' },
    { truth: 'HCM', predicted: 'HCM' },
  ];
  const m = classification(pairs, ['NOR', 'DCM', 'HCM', 'MINF', 'RV']);
  assert.equal(m.accuracy, 0.75);
  assert.deepEqual(m.confusion[0], [1, 1, 0, 0, 0]);
  assert.deepEqual(m.confusion[1], [0, 1, 0, 0, 0]);
  // F1: NOR P=1 R=0.5 -> 2/3; DCM P=0.5 R=1 -> 2/3; HCM 1. Absent classes do not count.
  assert.ok(Math.abs(m.macroF1 - (2 / 3 + 2 / 3 + 1) / 3) < 1e-12);
});

test('measurement errors: MAE, bias and SD of predicted - truth', () => {
  const e = errorSummary([{ truth: 50, predicted: 53 }, { truth: 60, predicted: 59 }]);
  assert.equal(e.mae, 2);
  assert.equal(e.bias, 1);
  assert.equal(e.sd, 2);
});
