import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { axisTable, resamplePlane } from '../src/model/resample.js';
import { channelSlices, clipAndZscore, mappingFor, percentileInPlace, percentilePair, preprocessImage } from '../src/model/preprocess.js';
import type { LoadedManifest } from '../src/model/manifest.js';
import type { SourceImage } from '../src/study/types.js';
import type { SOPClassUID, SOPInstanceUID, SeriesInstanceUID } from '../src/dicom/uid.js';

/** The few manifest fields pre-processing reads. */
function manifestFor(spacing: [number, number], clip: [number, number] = [0, 100]): LoadedManifest {
  return {
    input: { name: 'image', shape: [-1, 1, 64, 64], layout: 'NCHW', pixelSpacingMm: spacing, channels: 'slice', normalization: { type: 'zscore-per-slice', clipPercentiles: clip }, cropping: 'image-centre' },
  } as unknown as LoadedManifest;
}

function image(rows: number, columns: number, spacing: [number, number], value: (r: number, c: number) => number): SourceImage {
  const pixels = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) pixels[r * columns + c] = value(r, c);
  return {
    sopClassUID: '1.2.840.10008.5.1.4.1.1.4' as SOPClassUID,
    sopInstanceUID: '1.2.3' as SOPInstanceUID,
    seriesInstanceUID: '1.2' as SeriesInstanceUID,
    // An oblique plane: resampling works in the image's own index space, so this must not matter.
    plane: { rows, columns, pixelSpacing: spacing, imagePositionPatient: [10, -20, 30], imageOrientationPatient: [0.8, 0.6, 0, -0.36, 0.48, 0.8] },
    pixels,
  };
}

test('an axis table between identical grids is the identity', () => {
  const t = axisTable(7, 1.5, 7, 1.5);
  assert.deepEqual([...t.index], [0, 1, 2, 3, 4, 5, 5]);
  assert.deepEqual([...t.weight].map((w) => Math.round(w * 1e6) / 1e6), [0, 0, 0, 0, 0, 0, 1]);
  assert.equal(t.first, 0);
  assert.equal(t.last, 6);
});

test('an axis table marks target samples beyond the source footprint as outside', () => {
  // 10 target samples at 2 mm span 20 mm; 4 source samples at 2 mm span 8 mm around the same centre.
  const t = axisTable(10, 2, 4, 2);
  assert.deepEqual([...t.index].map((i) => i >= 0), [false, false, false, true, true, true, true, false, false, false]);
  assert.equal(t.first, 3);
  assert.equal(t.last, 6);
});

test('bilinear resampling reproduces a linear intensity ramp exactly, on a non-square grid', () => {
  const rows = 30, columns = 50, spacing: [number, number] = [1.3, 0.9];
  const src = image(rows, columns, spacing, (r, c) => 3 * r * spacing[0] - 2 * c * spacing[1] + 100);
  const rowsT = axisTable(40, 0.7, rows, spacing[0]);
  const colsT = axisTable(40, 1.1, columns, spacing[1]);
  const out = new Float32Array(40 * 40);
  resamplePlane(src.pixels, columns, rowsT, colsT, out, -1);
  for (let r = 0; r < 40; r++) {
    for (let c = 0; c < 40; c++) {
      const y = (rows - 1) / 2 * spacing[0] + (r - 19.5) * 0.7;
      const x = (columns - 1) / 2 * spacing[1] + (c - 19.5) * 1.1;
      const inside = y >= 0 && y <= (rows - 1) * spacing[0] && x >= 0 && x <= (columns - 1) * spacing[1];
      if (!inside) continue;
      assert.ok(Math.abs(out[r * 40 + c]! - (3 * y - 2 * x + 100)) < 1e-3, `sample ${r},${c}`);
    }
  }
});

test('percentiles match numpy-style linear interpolation between order statistics', () => {
  fc.assert(
    fc.property(fc.array(fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 }), { minLength: 1, maxLength: 200 }), fc.double({ min: 0, max: 100, noNaN: true }), (values, p) => {
      const data = Float32Array.from(values);
      const sorted = [...data].sort((a, b) => a - b);
      const pos = (p / 100) * (sorted.length - 1);
      const lo = Math.floor(pos);
      const expected = lo + 1 < sorted.length ? sorted[lo]! + (pos - lo) * (sorted[lo + 1]! - sorted[lo]!) : sorted[lo]!;
      const got = percentileInPlace(data, p);
      assert.ok(Math.abs(got - expected) <= 1e-3 * Math.max(1, Math.abs(expected)), `p${p}: ${got} vs ${expected}`);
    }),
    { numRuns: 300 },
  );
});

test('clipping and z-scoring gives zero mean and unit variance, and a constant window gives zeros', () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => (i % 97) * 3 + (i === 5 ? 1e6 : 0));
  clipAndZscore(values, [1, 99], new Float32Array(values.length));
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(mean) < 1e-4);
  assert.ok(Math.abs(variance - 1) < 1e-3);
  // The outlier was clipped at the 99th percentile: it is no longer far from the rest.
  assert.ok(values[5]! < 2);
  const constant = new Float32Array(100).fill(7);
  clipAndZscore(constant, [1, 99], new Float32Array(100));
  assert.ok(constant.every((v) => v === 0));
});

test('the model window is centred on the image centre whatever the matrix and spacing', () => {
  for (const [rows, columns, spacing] of [[64, 64, [1.5, 1.5]], [90, 120, [1.8, 1.4]], [121, 77, [0.9, 2.1]]] as const) {
    const cr = (rows - 1) / 2, cc = (columns - 1) / 2;
    // A bright disc of radius 6 mm around the image centre.
    const src = image(rows, columns, [...spacing], (r, c) => (Math.hypot((r - cr) * spacing[0], (c - cc) * spacing[1]) < 6 ? 1000 : 10));
    const out = new Float32Array(64 * 64);
    preprocessImage(src, { channels: 1, rows: 64, columns: 64 }, manifestFor([1.5, 1.5]), out, new Float32Array(64 * 64));
    let sr = 0, sc = 0, n = 0;
    const max = Math.max(...out);
    out.forEach((v, i) => {
      if (v > max / 2) {
        sr += Math.floor(i / 64);
        sc += i % 64;
        n++;
      }
    });
    assert.ok(Math.abs(sr / n - 31.5) < 0.6 && Math.abs(sc / n - 31.5) < 0.6, `${rows}x${columns}: centroid ${sr / n}, ${sc / n}`);
    // The disc keeps its physical size: area ~ pi 6^2 mm^2 / 1.5^2 mm^2 per pixel.
    assert.ok(Math.abs(n - (Math.PI * 36) / 2.25) < 12, `${rows}x${columns}: ${n} pixels`);
  }
});

test('a model window centred off the image centre holds what lies there, and maps back onto the same source pixels', () => {
  const rows = 120, columns = 100, spacing = [1.2, 1.6] as const;
  // A bright disc of radius 6 mm at 30 mm down and 40 mm left of the image centre.
  const at: [number, number] = [30, -40];
  const cr = (rows - 1) / 2 + at[0] / spacing[0], cc = (columns - 1) / 2 + at[1] / spacing[1];
  const src = image(rows, columns, [...spacing], (r, c) => (Math.hypot((r - cr) * spacing[0], (c - cc) * spacing[1]) < 6 ? 1000 : 10));
  const shape = { channels: 1, rows: 64, columns: 64 };
  const manifest = manifestFor([1.5, 1.5]);
  const out = new Float32Array(64 * 64);
  preprocessImage(src, shape, manifest, out, new Float32Array(64 * 64), { centreMm: at });
  let sr = 0, sc = 0, n = 0;
  const max = Math.max(...out);
  out.forEach((v, i) => {
    if (v > max / 2) ((sr += Math.floor(i / 64)), (sc += i % 64), n++);
  });
  assert.ok(n > 0 && Math.abs(sr / n - 31.5) < 0.6 && Math.abs(sc / n - 31.5) < 0.6, `centroid ${sr / n}, ${sc / n}`);
  // Back to the source: the model centre lands on the disc centre.
  const mapping = mappingFor(src, shape, manifest, { centreMm: at });
  const r = Math.round(cr), c = Math.round(cc);
  const mr = mapping.toSourceRows.index[r]! + mapping.toSourceRows.weight[r]!;
  const mc = mapping.toSourceColumns.index[c]! + mapping.toSourceColumns.weight[c]!;
  assert.ok(Math.abs(mr - 31.5) < 1 && Math.abs(mc - 31.5) < 1, `source disc centre maps to model ${mr}, ${mc}`);
});

test('adjacent-slice channels take the neighbours along the stack and repeat the edge slices', () => {
  assert.deepEqual(channelSlices(0, 5, 3, 'adjacent-slices'), [0, 0, 1]);
  assert.deepEqual(channelSlices(2, 5, 3, 'adjacent-slices'), [1, 2, 3]);
  assert.deepEqual(channelSlices(4, 5, 3, 'adjacent-slices'), [3, 4, 4]);
  assert.deepEqual(channelSlices(0, 1, 5, 'adjacent-slices'), [0, 0, 0, 0, 0]);
  assert.deepEqual(channelSlices(3, 5, 1, 'slice'), [3]);
});

test('the histogram percentile pair equals the sorted-array definition', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 4095 }), fc.float({ noNaN: true, noDefaultInfinity: true, min: -1e4, max: 1e4 })), { minLength: 1, maxLength: 400 }),
      fc.double({ min: 0, max: 50, noNaN: true }),
      fc.double({ min: 50, max: 100, noNaN: true }),
      (values, lowP, highP) => {
        const data = Float32Array.from(values);
        const [low, high] = percentilePair(data, lowP, highP, new Float32Array(data.length));
        const expected = (p: number) => percentileInPlace(Float32Array.from(values), p);
        assert.ok(Math.abs(low - expected(lowP)) <= 1e-3 * Math.max(1, Math.abs(low)), `low ${low} vs ${expected(lowP)}`);
        assert.ok(Math.abs(high - expected(highP)) <= 1e-3 * Math.max(1, Math.abs(high)), `high ${high} vs ${expected(highP)}`);
      },
    ),
    { numRuns: 300 },
  );
});

test('pre-processing with the range taken during resampling equals resampling then normalising separately', () => {
  fc.assert(
    fc.property(fc.integer({ min: 5, max: 90 }), fc.integer({ min: 5, max: 90 }), fc.double({ min: 0.6, max: 3, noNaN: true }), fc.integer({ min: 0, max: 1000 }), (rows, columns, spacing, seed) => {
      let state = seed + 1;
      const src = image(rows, columns, [spacing, spacing * 0.8], () => {
        state = (state * 48271) % 2147483647;
        return (state % 3000) - 200;
      });
      const manifest = manifestFor([1.5, 1.5], [0.5, 99.5]);
      const fused = new Float32Array(64 * 64);
      preprocessImage(src, { channels: 1, rows: 64, columns: 64 }, manifest, fused, new Float32Array(64 * 64));
      const plain = new Float32Array(64 * 64);
      resamplePlane(src.pixels, columns, axisTable(64, 1.5, rows, spacing), axisTable(64, 1.5, columns, spacing * 0.8), plain, 0);
      clipAndZscore(plain, [0.5, 99.5], new Float32Array(64 * 64));
      for (let i = 0; i < plain.length; i++) assert.ok(Math.abs(fused[i]! - plain[i]!) < 1e-4, `pixel ${i}: ${fused[i]} vs ${plain[i]}`);
    }),
    { numRuns: 60 },
  );
});
