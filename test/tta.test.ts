/**
 * Test-time augmentation (src/model/tta.ts), model-free: fake inference functions on a small
 * window check that every transform's output is mapped back onto the pixels it came from, that the
 * average and the agreement are what they should be, and the study-level summary.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pixelEntropy, TTA_TRANSFORMS, transformPermutation, withTestTimeAugmentation, type BatchInference } from '../src/model/tta.js';
import { foregroundEntropy, studyDisagreement, type ImageUncertainty } from '../src/model/confidence.js';
import type { SliceBatchOutputs } from '../src/model/session.js';
import { parseTta } from '../src/cli/tta-option.js';

const rows = 6;
const columns = 6;
const plane = rows * columns;
const classes = 3;
const shape = { channels: 1, rows, columns };

/** An input that no flip or transpose leaves unchanged: value = 10 r + c + 1 (a ramp along both axes). */
function ramp(count: number): Float32Array {
  const input = new Float32Array(count * plane);
  for (let b = 0; b < count; b++) for (let i = 0; i < plane; i++) input[b * plane + i] = 10 * Math.floor(i / columns) + (i % columns) + 1 + b * 100;
  return input;
}

/**
 * A pixel-wise "network": its logits at a pixel depend only on the input value there (so it is
 * equivariant to any permutation of the pixels), and the input itself depends on x and y. The
 * embedding records the first input value, so the test sees which pass it comes from.
 */
const pixelwise: BatchInference = async (input, count, withFeatures): Promise<SliceBatchOutputs> => {
  const logits = new Float32Array(count * classes * plane);
  for (let b = 0; b < count; b++) {
    for (let i = 0; i < plane; i++) {
      const v = input[b * plane + i]!;
      logits[(b * classes + 0) * plane + i] = Math.sin(v);
      logits[(b * classes + 1) * plane + i] = Math.cos(v / 3);
      logits[(b * classes + 2) * plane + i] = (v % 7) / 4;
    }
  }
  const embedding = Float32Array.from({ length: count }, (_, b) => input[b * plane]!);
  return { count, logits, embedding, ...(withFeatures ? { features: embedding.slice(), featureDims: [1, 1, 1] as const } : {}) };
};

function softmaxAt(logits: Float32Array, b: number, i: number): number[] {
  const v = Array.from({ length: classes }, (_, k) => logits[(b * classes + k) * plane + i]!);
  const max = Math.max(...v);
  const e = v.map((x) => Math.exp(x - max));
  const z = e.reduce((a, x) => a + x, 0);
  return e.map((x) => x / z);
}

test('each transform is a permutation whose inverse restores every pixel', () => {
  for (const name of TTA_TRANSFORMS) {
    const p = transformPermutation(name, rows, columns);
    assert.equal(new Set(p).size, plane, `${name} is a permutation`);
  }
  // flip-columns moves (0, 0) to (0, 5); flip-rows to (5, 0); transpose sends (1, 4) to (4, 1).
  assert.equal(transformPermutation('flip-columns', rows, columns)[0], 5);
  assert.equal(transformPermutation('flip-rows', rows, columns)[0], 30);
  assert.equal(transformPermutation('transpose', rows, columns)[4 * columns + 1], 1 * columns + 4);
  assert.throws(() => transformPermutation('transpose', 4, 6), /square model window, not 4x6/);
});

test('a network that follows the pixels gives the identity pass exactly, with full agreement', async () => {
  const input = ramp(2);
  const bare = await pixelwise(input, 2, false);
  const tta = withTestTimeAugmentation(pixelwise, shape, { classes, perPixel: true });
  const out = await tta(input, 2, true);
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < plane; i++) {
      const expected = softmaxAt(bare.logits, b, i);
      const got = softmaxAt(out.logits, b, i);
      for (let k = 0; k < classes; k++) assert.ok(Math.abs(got[k]! - expected[k]!) < 1e-5, `image ${b} pixel ${i} class ${k}: ${got[k]} vs ${expected[k]}`);
    }
  }
  // Embedding and features are the identity pass's (the ramp's first value, not a flipped corner).
  assert.deepEqual([...out.embedding], [1, 101]);
  assert.deepEqual([...out.features!], [1, 101]);
  assert.equal(out.uncertainty!.length, 2);
  out.uncertainty!.forEach((u, b) => assert.deepEqual(u.identityConfidence, foregroundEntropy(bare.logits, b * classes * plane, classes, plane), 'the identity pass entropy, per image'));
  for (const u of out.uncertainty!) {
    assert.equal(u.transforms, 4);
    assert.equal(u.disagreeingPixels, 0);
    assert.deepEqual(u.union, u.intersection);
    assert.equal(u.union.reduce((a, v) => a + v, 0), plane);
    assert.ok(u.disagreement!.every((v) => v === 0));
  }
  // The input is left as it was given.
  assert.deepEqual(input, ramp(2));
});

test('forgetting to map a transform back would show: a network that ignores its input disagrees where the flips move it', async () => {
  // Class 1 on the left half of whatever window the network sees, class 2 on the right: a fixed
  // position-dependent output, so under flip-columns (mapped back) left and right swap.
  const positional: BatchInference = async (input, count) => {
    const logits = new Float32Array(count * classes * plane);
    for (let b = 0; b < count; b++) for (let i = 0; i < plane; i++) logits[(b * classes + ((i % columns) < columns / 2 ? 1 : 2)) * plane + i] = 5;
    return { count, logits, embedding: new Float32Array(count) };
  };
  const flipOnly = withTestTimeAugmentation(positional, shape, { classes, transforms: ['identity', 'flip-columns'], perPixel: true });
  const out = await flipOnly(ramp(1), 1, false);
  const u = out.uncertainty![0]!;
  // Identity: left = 1, right = 2; flipped and mapped back: left = 2, right = 1. Every pixel is split 1:1.
  assert.equal(u.disagreeingPixels, plane);
  assert.deepEqual(u.intersection, [0, 0, 0]);
  assert.deepEqual(u.union, [0, plane, plane]);
  assert.ok(u.disagreement!.every((v) => v === 0.5));
  const p = softmaxAt(out.logits, 0, 0);
  assert.ok(Math.abs(p[1]! - p[2]!) < 1e-6, 'classes 1 and 2 averaged to equal probability');
  // The entropy of the averaged probabilities: two confident passes that disagree split the mass
  // between classes 1 and 2 (logits 5, 0, 0: p = e^5 / (e^5 + 2) for the winner).
  const winner = Math.exp(5) / (Math.exp(5) + 2);
  const loser = 1 / (Math.exp(5) + 2);
  const averaged = [loser, (winner + loser) / 2, (winner + loser) / 2];
  const expected = -averaged.reduce((a, q) => a + q * Math.log(q), 0) / Math.log(classes);
  const entropy = pixelEntropy(out.logits, 0, classes, plane);
  const bare = pixelEntropy((await positional(ramp(1), 1, false)).logits, 0, classes, plane);
  assert.ok(entropy.every((h) => Math.abs(h - expected) < 1e-5), `averaged entropy ${entropy[0]}, expected ${expected}`);
  assert.ok(bare.every((h) => h < 0.1 && h < expected / 5), `each pass alone is confident (${bare[0]})`);

  // flip-rows keeps the left/right pattern: mapped back, it agrees with the identity everywhere.
  const rowsOnly = withTestTimeAugmentation(positional, shape, { classes, transforms: ['identity', 'flip-rows'] });
  const agreed = (await rowsOnly(ramp(1), 1, false)).uncertainty![0]!;
  assert.equal(agreed.disagreeingPixels, 0);
  assert.deepEqual(agreed.intersection, [0, plane / 2, plane / 2]);
});

test('a transform list must start with the identity and name each transform once', () => {
  assert.throws(() => withTestTimeAugmentation(pixelwise, shape, { classes, transforms: ['flip-rows', 'identity'] }), /'identity' first/);
  assert.throws(() => withTestTimeAugmentation(pixelwise, shape, { classes, transforms: ['identity', 'flip-rows', 'flip-rows'] }), /repeats/);
});

test('a study disagreement pools union and intersection over its images per structure', () => {
  const image = (union: number[], intersection: number[]): ImageUncertainty => ({ transforms: 4, union, intersection, disagreeingPixels: 0, identityConfidence: { foregroundPixels: 0, meanEntropy: 0 } });
  const images = [[image([100, 10, 20, 0], [90, 8, 10, 0]), undefined], [image([100, 30, 0, 0], [90, 24, 0, 0])]];
  const d = studyDisagreement(images, [{ key: 'rv', channel: 1 }, { key: 'myo', channel: 2 }, { key: 'lv', channel: 3 }]);
  assert.ok(Math.abs(d.rv! - (1 - 32 / 40)) < 1e-12);
  assert.ok(Math.abs(d.myo! - 0.5) < 1e-12);
  assert.equal(d.lv, null);
});

test('--tta takes none or flips; anything else is an error naming the option and the values', () => {
  assert.equal(parseTta('flips'), 'flips');
  assert.equal(parseTta('none'), 'none');
  assert.throws(() => parseTta('rotations'), /--tta must be one of none, flips, got 'rotations'/);
});

test("a calibration's adapter runs on every pass with that pass's own features, before the passes are mapped back and averaged", async () => {
  // A pixel-wise network whose decoder "features" are its input (full resolution, one channel), so each
  // pass's features are in the frame that pass saw; and a pixel-wise adapter that reads them.
  const withFeatureMaps: BatchInference = async (input, count, withFeatures) => {
    const out = await pixelwise(input, count, false);
    return withFeatures ? { ...out, features: input.slice(), featureDims: [1, rows, columns] as const } : out;
  };
  let calls = 0;
  const adapter = {
    apply(logits: Float32Array, features: Float32Array, dims: readonly [number, number, number], r: number, c: number) {
      calls++;
      assert.deepEqual([dims, r, c], [[1, rows, columns], rows, columns]);
      for (let i = 0; i < r * c; i++) {
        logits[plane + i]! += (features[i]! % 3) / 2;
        logits[2 * plane + i]! -= features[i]! / 20;
      }
    },
  };
  const input = ramp(2);
  const bare = await withFeatureMaps(input, 2, true);
  for (let b = 0; b < 2; b++) adapter.apply(bare.logits.subarray(b * classes * plane, (b + 1) * classes * plane), bare.features!.subarray(b * plane, (b + 1) * plane), [1, rows, columns], rows, columns);
  calls = 0;
  const out = await withTestTimeAugmentation(withFeatureMaps, shape, { classes, adapter, perPixel: true })(input, 2, false);
  assert.equal(calls, 4 * 2, 'once per pass and image');
  // Equivariant network and adapter: every pass mapped back is the calibrated bare model, so the
  // average equals it and the passes agree. Features of the wrong frame, or the adapter applied to
  // the averaged log-probabilities, would not give this.
  for (let b = 0; b < 2; b++) {
    for (let i = 0; i < plane; i++) {
      const expected = softmaxAt(bare.logits, b, i);
      const got = softmaxAt(out.logits, b, i);
      for (let k = 0; k < classes; k++) assert.ok(Math.abs(got[k]! - expected[k]!) < 1e-5, `image ${b} pixel ${i} class ${k}: ${got[k]} vs ${expected[k]}`);
    }
    assert.equal(out.uncertainty![b]!.disagreeingPixels, 0);
    assert.deepEqual(out.uncertainty![b]!.identityConfidence, foregroundEntropy(bare.logits, b * classes * plane, classes, plane), 'entropy of the calibrated identity pass');
  }
});
