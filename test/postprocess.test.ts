import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridMapping, resamplePlane } from '../src/model/resample.js';
import { argmaxPlane, labelsFromLogits } from '../src/model/postprocess.js';
import { foregroundEntropy } from '../src/model/confidence.js';
import { seededRandom } from '../src/util/seeded-random.js';
import { cleanUpPhase, fillHoles, keepLargestComponents } from '../src/model/components.js';

/** Label map of nested ellipses drawn in physical coordinates (mm from the image centre). */
function drawHeart(rows: number, columns: number, spacing: readonly [number, number]): Uint8Array {
  const out = new Uint8Array(rows * columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const y = (r - (rows - 1) / 2) * spacing[0];
      const x = (c - (columns - 1) / 2) * spacing[1];
      const lv = Math.hypot((x - 8) / 22, (y + 3) / 18);
      const rv = Math.hypot((x + 32) / 16, (y - 4) / 26);
      out[r * columns + c] = lv < 1 ? 3 : lv < 1.45 ? 2 : rv < 1 ? 1 : 0;
    }
  }
  return out;
}

test('labels resampled onto the model grid and back land on the same source pixels (oblique, non-square, anisotropic)', () => {
  // The plane's orientation never enters in-plane resampling: only rows, columns and spacing do.
  for (const [rows, columns, spacing] of [[90, 120, [1.8, 1.4]], [160, 132, [1.25, 1.25]], [75, 100, [2.2, 1.6]]] as const) {
    const truth = drawHeart(rows, columns, spacing);
    const model = 128;
    const mapping = gridMapping(rows, columns, spacing, model, model, [1.5, 1.5]);
    // One-hot planes resampled bilinearly onto the model grid stand in for a perfect network's logits.
    const logits = new Float32Array(4 * model * model);
    const plane = new Float32Array(rows * columns);
    for (let k = 0; k < 4; k++) {
      for (let i = 0; i < plane.length; i++) plane[i] = truth[i] === k ? 1 : 0;
      resamplePlane(plane, columns, mapping.toModelRows, mapping.toModelColumns, logits.subarray(k * model * model, (k + 1) * model * model), k === 0 ? 1 : 0);
    }
    const back = new Uint8Array(rows * columns);
    labelsFromLogits(logits, 0, 4, mapping, Uint8Array.from([0, 1, 2, 3]), back);
    let differ = 0;
    const labelled = truth.reduce((n, v) => n + (v ? 1 : 0), 0);
    for (let i = 0; i < back.length; i++) if (back[i] !== truth[i]) differ++;
    // The model grid (1.5 mm) is as fine as these sources: both bilinear passes keep every boundary.
    assert.equal(differ, 0, `${rows}x${columns}: ${differ} of ${labelled} labelled pixels differ`);
  }
});

test('channel k of the logits is written as the manifest label value of segment k', () => {
  const mapping = gridMapping(4, 4, [1, 1], 4, 4, [1, 1]);
  const logits = new Float32Array(3 * 16);
  logits.fill(5, 2 * 16, 3 * 16); // channel 2 wins everywhere
  const out = new Uint8Array(16);
  labelsFromLogits(logits, 0, 3, mapping, Uint8Array.from([0, 7, 9]), out);
  assert.ok(out.every((v) => v === 9));
});

test('source pixels outside the model window are background', () => {
  // A 200 mm wide source and a 60 mm model window: only the central 60 mm can be labelled.
  const mapping = gridMapping(10, 200, [1, 1], 40, 40, [1.5, 1.5]);
  const logits = new Float32Array(2 * 1600).fill(1, 1600);
  const out = new Uint8Array(2000);
  labelsFromLogits(logits, 0, 2, mapping, Uint8Array.from([0, 1]), out);
  const row = [...out.subarray(0, 200)];
  assert.equal(row.filter((v) => v === 1).length, 60);
  assert.equal(row[0], 0);
  assert.equal(row[199], 0);
  assert.equal(row[100], 1);
});

test('only the largest 3D component of each structure is kept, with diagonal continuity through slices', () => {
  const depth = 3, rows = 20, columns = 20, plane = rows * columns;
  const v = new Uint8Array(depth * plane);
  const box = (s: number, r0: number, r1: number, c0: number, c1: number, label: number) => {
    for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) v[s * plane + r * columns + c] = label;
  };
  // LV: a 4x4 block on slices 0 and 1, continuing diagonally (touching at a corner) on slice 2.
  box(0, 5, 8, 5, 8, 3);
  box(1, 5, 8, 5, 8, 3);
  box(2, 9, 10, 9, 10, 3);
  // An LV island far away (removed), and an RV component of its own (kept: another structure).
  box(1, 16, 17, 16, 17, 3);
  box(0, 0, 1, 15, 19, 1);
  const removed = keepLargestComponents(v, depth, rows, columns);
  assert.equal(removed, 4);
  assert.equal(v[1 * plane + 16 * columns + 16], 0);
  assert.equal(v[2 * plane + 9 * columns + 9], 3);
  assert.equal(v[0 * plane + 0 * columns + 15], 1);
});

test('a single slice uses 2D components', () => {
  const v = new Uint8Array(100);
  v[11] = 2; v[12] = 2; v[22] = 2; // 3 connected pixels
  v[88] = 2; // an island
  assert.equal(keepLargestComponents(v, 1, 10, 10), 1);
  assert.equal(v[88], 0);
});

test('holes inside a structure are filled with that structure; background open to the border is not', () => {
  const rows = 12, columns = 12;
  const v = new Uint8Array(rows * columns);
  // Myocardial ring (2) around a cavity (3) that has a 2-pixel hole; an open notch at the top.
  for (let r = 2; r <= 9; r++) for (let c = 2; c <= 9; c++) v[r * columns + c] = r === 2 || r === 9 || c === 2 || c === 9 ? 2 : 3;
  v[5 * columns + 5] = 0;
  v[5 * columns + 6] = 0;
  // A background channel from the border into the ring: stays background.
  v[2 * columns + 5] = 0;
  v[3 * columns + 5] = 0;
  const before = v.slice();
  const filled = fillHoles(v, rows, columns);
  assert.equal(filled, 2);
  assert.equal(v[5 * columns + 5], 3);
  assert.equal(v[5 * columns + 6], 3);
  assert.equal(v[2 * columns + 5], 0);
  assert.equal(v[3 * columns + 5], 0);
  for (let i = 0; i < v.length; i++) if (i !== 5 * columns + 5 && i !== 5 * columns + 6) assert.equal(v[i], before[i]);
});

test('a hole on the border between two structures takes the more frequent neighbour', () => {
  const rows = 7, columns = 9;
  const v = new Uint8Array(rows * columns);
  for (let r = 1; r <= 5; r++) for (let c = 1; c <= 7; c++) v[r * columns + c] = c <= 5 ? 3 : 2;
  v[3 * columns + 5] = 0; // neighbours: 3 (up, down, left), 2 (right)
  fillHoles(v, rows, columns);
  assert.equal(v[3 * columns + 5], 3);
});

test('clean-up removes an island that sat inside a cavity and fills the gap it leaves', () => {
  const depth = 1, rows = 12, columns = 12;
  const v = new Uint8Array(rows * columns);
  for (let r = 2; r <= 9; r++) for (let c = 2; c <= 9; c++) v[r * columns + c] = r === 2 || r === 9 || c === 2 || c === 9 ? 2 : 3;
  v[5 * columns + 5] = 2; // a myocardium island (papillary muscle) inside the cavity
  const { removed, filled } = cleanUpPhase(v, depth, rows, columns);
  assert.equal(removed, 1);
  assert.equal(filled, 1);
  assert.equal(v[5 * columns + 5], 3);
});

test('largest-component clean-up agrees with a plain flood fill on random volumes of any shape', async () => {
  const fc = (await import('fast-check')).default;
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 11 }), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 297, maxLength: 297 }), fc.integer({ min: 0, max: 3 }), (depth, rows, columns, values, offset) => {
      // An offset into a larger buffer exercises unaligned views too.
      const backing = new Uint8Array(offset + depth * rows * columns);
      const volume = backing.subarray(offset);
      volume.set(values.slice(0, volume.length));
      const expected = Array.from(volume);
      // Reference: per label, 26-connected components in raster order; keep the first largest.
      const seen = new Array<boolean>(expected.length).fill(false);
      const best = new Map<number, { size: number; members: number[] }>();
      for (let v = 0; v < expected.length; v++) {
        const label = expected[v]!;
        if (label === 0 || seen[v]) continue;
        const members = [v];
        seen[v] = true;
        for (let q = 0; q < members.length; q++) {
          const m = members[q]!;
          const s = Math.floor(m / (rows * columns)), r = Math.floor((m % (rows * columns)) / columns), c = m % columns;
          for (let ds = -1; ds <= 1; ds++) for (let dr = -1; dr <= 1; dr++) for (let dc = -1; dc <= 1; dc++) {
            const [ns, nr, nc] = [s + ds, r + dr, c + dc];
            if (ns < 0 || ns >= depth || nr < 0 || nr >= rows || nc < 0 || nc >= columns) continue;
            const n = ns * rows * columns + nr * columns + nc;
            if (!seen[n] && expected[n] === label) {
              seen[n] = true;
              members.push(n);
            }
          }
        }
        if (!best.has(label) || members.length > best.get(label)!.size) best.set(label, { size: members.length, members });
      }
      const keep = new Set([...best.values()].flatMap((b) => b.members));
      const reference = expected.map((label, i) => (keep.has(i) ? label : 0));
      keepLargestComponents(volume, depth, rows, columns);
      assert.deepEqual(Array.from(volume), reference);
    }),
    { numRuns: 300 },
  );
});

/** The entropy as first written (each exponential computed twice): the reference the shared pass must match bit for bit. */
function referenceEntropy(logits: Float32Array, offset: number, classes: number, planeSize: number): { foregroundPixels: number; meanEntropy: number } {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < planeSize; i++) {
    let max = logits[offset + i]!;
    let best = 0;
    for (let k = 1; k < classes; k++) {
      const v = logits[offset + k * planeSize + i]!;
      if (v > max) ((max = v), (best = k));
    }
    if (best === 0) continue;
    let z = 0;
    for (let k = 0; k < classes; k++) z += Math.exp(logits[offset + k * planeSize + i]! - max);
    let h = 0;
    for (let k = 0; k < classes; k++) {
      const p = Math.exp(logits[offset + k * planeSize + i]! - max) / z;
      if (p > 0) h -= p * Math.log(p);
    }
    sum += h / Math.log(classes);
    count++;
  }
  return { foregroundPixels: count, meanEntropy: count > 0 ? sum / count : 0 };
}

test('one shared arg-max pass gives the label maps and the confidence exactly as computing each alone', () => {
  const random = seededRandom(7);
  const model = 48;
  const plane = model * model;
  const classes = 4;
  const images = 3;
  const logits = new Float32Array(images * classes * plane);
  for (let i = 0; i < logits.length; i++) logits[i] = Math.round((random() * 12 - 6) * 4) / 4; // quarter steps: many ties
  const mapping = gridMapping(70, 64, [1.3, 1.1], model, model, [1.5, 1.5]);
  const labelValues = Uint8Array.from([0, 1, 2, 3]);
  const argmax = new Uint8Array(plane);
  for (let b = 0; b < images; b++) {
    const offset = b * classes * plane;
    argmaxPlane(logits, offset, classes, plane, argmax);
    // Ties go to the lower channel.
    for (let i = 0; i < plane; i++) {
      for (let k = 0; k < argmax[i]!; k++) assert.ok(logits[offset + k * plane + i]! < logits[offset + argmax[i]! * plane + i]!);
    }
    const shared = new Uint8Array(70 * 64);
    const alone = new Uint8Array(70 * 64);
    labelsFromLogits(logits, offset, classes, mapping, labelValues, shared, argmax);
    labelsFromLogits(logits, offset, classes, mapping, labelValues, alone);
    assert.deepEqual(shared, alone);
    const reference = referenceEntropy(logits, offset, classes, plane);
    assert.ok(reference.foregroundPixels > 0);
    assert.deepEqual(foregroundEntropy(logits, offset, classes, plane, argmax), reference);
    assert.deepEqual(foregroundEntropy(logits, offset, classes, plane), reference);
  }
});
