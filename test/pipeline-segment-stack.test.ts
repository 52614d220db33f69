/**
 * segmentStack's wiring, with a small deterministic network function in place of onnxruntime (what is
 * under test is the batching, channel assembly and the way back to the source grids, not a model).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { segmentStack } from '../src/model/segment-stack.js';
import type { SliceBatchOutputs } from '../src/model/session.js';
import type { LoadedManifest } from '../src/model/manifest.js';
import type { CineGrid, SourceImage } from '../src/study/types.js';
import type { SOPClassUID, SOPInstanceUID, SeriesInstanceUID } from '../src/dicom/uid.js';

const model = { rows: 48, columns: 48, spacing: [2, 2] as [number, number] };

function manifest(channels: 1 | 3): LoadedManifest {
  return {
    name: 'wiring',
    input: { name: 'x', shape: [-1, channels, model.rows, model.columns], layout: 'NCHW', pixelSpacingMm: model.spacing, channels: channels === 3 ? 'adjacent-slices' : 'slice', normalization: { type: 'zscore-per-slice', clipPercentiles: [0, 100] }, cropping: 'image-centre' },
    segments: [{ labelValue: 7, key: 'lv' }],
  } as unknown as LoadedManifest;
}

/** Slice s holds a bright disc of radius 10 + 4s mm on an oblique, non-square 50 x 70 grid at 1.5 x 1.25 mm. */
function grid(slices: number, phases: number): CineGrid {
  const rows = 50, columns = 70, spacing: [number, number] = [1.5, 1.25];
  const images = Array.from({ length: slices }, (_, s) =>
    Array.from({ length: phases }, (_, p): SourceImage => {
      const pixels = new Float32Array(rows * columns);
      for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) {
        const d = Math.hypot((r - (rows - 1) / 2) * spacing[0], (c - (columns - 1) / 2) * spacing[1]);
        pixels[r * columns + c] = d < 10 + 4 * s ? 500 + 10 * p : 20;
      }
      return {
        sopClassUID: '1.2.840.10008.5.1.4.1.1.4' as SOPClassUID,
        sopInstanceUID: `1.2.3.${s}.${p}` as SOPInstanceUID,
        seriesInstanceUID: '1.2.3' as SeriesInstanceUID,
        plane: { rows, columns, pixelSpacing: spacing, imagePositionPatient: [0, 0, 8 * s], imageOrientationPatient: [0.8, 0.6, 0, -0.6, 0.8, 0] },
        pixels,
      };
    }),
  );
  return { slices, phases, images, sliceNormal: [0, 0, 1], slicePositionsMm: images.map((_, s) => 8 * s), phaseTimesMs: Array.from({ length: phases }, (_, p) => p * 40) };
}

/**
 * A network function: LV logit = the centre channel's value minus its mid-range (positive inside
 * the bright disc), background 0; the embedding of each item counts the positive pixels of every channel.
 */
function network(channels: number, calls: number[]) {
  return async (input: Float32Array, count: number): Promise<SliceBatchOutputs> => {
    calls.push(count);
    const plane = model.rows * model.columns;
    const logits = new Float32Array(count * 2 * plane);
    const embedding = new Float32Array(count * channels);
    for (let b = 0; b < count; b++) {
      const centre = (b * channels + (channels - 1) / 2) * plane;
      // Threshold half-way between the window's darkest and brightest values (z-scoring moved both).
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i < plane; i++) {
        lo = Math.min(lo, input[centre + i]!);
        hi = Math.max(hi, input[centre + i]!);
      }
      for (let i = 0; i < plane; i++) logits[(b * 2 + 1) * plane + i] = input[centre + i]! - (lo + hi) / 2;
      for (let ch = 0; ch < channels; ch++) {
        let n = 0;
        for (let i = 0; i < plane; i++) if (input[(b * channels + ch) * plane + i]! > 0) n++;
        embedding[b * channels + ch] = n;
      }
    }
    return { count, logits, embedding, features: new Float32Array(count), featureDims: [1, 1, 1] };
  };
}

test('labels come back on each source grid, with the manifest label value, for every slice and phase', async () => {
  const g = grid(4, 3);
  const calls: number[] = [];
  const out = await segmentStack(g, manifest(1), { channels: 1, rows: model.rows, columns: model.columns }, network(1, calls), { batchSize: 5 });
  // 12 images in batches of at most 5.
  assert.deepEqual(calls, [5, 5, 2]);
  for (let s = 0; s < 4; s++) {
    for (let p = 0; p < 3; p++) {
      const map = out.labelMaps[s]![p]!;
      assert.equal(map.image, g.images[s]![p]);
      const truth = g.images[s]![p]!.pixels;
      let differ = 0;
      map.labels.forEach((v, i) => {
        if (v !== (truth[i]! > 100 ? 7 : 0)) differ++;
      });
      // The disc boundary may move by a pixel through two resamplings; nothing else may change.
      assert.ok(differ <= 0.01 * map.labels.length, `slice ${s} phase ${p}: ${differ} pixels differ`);
    }
  }
});

test('adjacent-slice channels are the neighbours along the stack, edges repeating themselves', async () => {
  const g = grid(4, 2);
  const out = await segmentStack(g, manifest(3), { channels: 3, rows: model.rows, columns: model.columns }, network(3, []), { batchSize: 3 });
  // Disc area (in model pixels) identifies the slice a channel came from.
  const area = (s: number) => out.embeddings[s]![0]![1]!;
  for (let p = 0; p < 2; p++) {
    for (let s = 0; s < 4; s++) {
      const [before, self, after] = out.embeddings[s]![p]!;
      assert.equal(self, area(s));
      assert.equal(before, area(Math.max(s - 1, 0)), `slice ${s} phase ${p}: previous channel`);
      assert.equal(after, area(Math.min(s + 1, 3)), `slice ${s} phase ${p}: next channel`);
    }
  }
  assert.ok(area(0) < area(1) && area(1) < area(2) && area(2) < area(3));
});

test('decoder features are kept only when asked for', async () => {
  const g = grid(2, 2);
  const shape = { channels: 1, rows: model.rows, columns: model.columns };
  assert.equal((await segmentStack(g, manifest(1), shape, network(1, []))).features, undefined);
  const kept = await segmentStack(g, manifest(1), shape, network(1, []), { keepFeatures: true });
  assert.deepEqual(kept.features!.dims, [1, 1, 1]);
  assert.equal(kept.features!.data[1]![1]!.length, 1);
});

test('at most two batches wait on the network at a time, each given up to it, and the outputs do not depend on it', async () => {
  const g = grid(5, 4);
  const shape = { channels: 1, rows: model.rows, columns: model.columns };
  const inner = network(1, []);
  let waiting = 0;
  let most = 0;
  const given: boolean[] = [];
  // A network that answers later, as one on its own thread does: the caller may hand on more batches meanwhile.
  const slow = async (input: Float32Array, count: number, withFeatures: boolean, options?: { transfer?: boolean }): Promise<SliceBatchOutputs> => {
    given.push(options?.transfer === true);
    waiting++;
    most = Math.max(most, waiting);
    const out = await inner(input.slice(), count);
    await new Promise((resolve) => setTimeout(resolve, 2));
    waiting--;
    return out;
  };
  const overlapped = await segmentStack(g, manifest(1), shape, slow, { batchSize: 3 });
  assert.equal(most, 2, 'two batches in flight, not more');
  assert.ok(given.every(Boolean), 'every batch is given up (it may move to the inference thread)');
  most = 0;
  const one = await segmentStack(g, manifest(1), shape, slow, { batchSize: 3, batchesInFlight: 1 });
  assert.equal(most, 1);
  for (let s = 0; s < 5; s++) {
    for (let p = 0; p < 4; p++) {
      assert.deepEqual(overlapped.labelMaps[s]![p]!.labels, one.labelMaps[s]![p]!.labels, `slice ${s} phase ${p}`);
      assert.deepEqual(overlapped.embeddings[s]![p], one.embeddings[s]![p]);
    }
  }
});

test('a batch the network refuses fails the stack with its reason, even while another batch is in flight', async () => {
  const g = grid(3, 3);
  const shape = { channels: 1, rows: model.rows, columns: model.columns };
  const inner = network(1, []);
  let calls = 0;
  const failing = async (input: Float32Array, count: number): Promise<SliceBatchOutputs> => {
    if (++calls === 2) throw new Error('onnxruntime: Got invalid dimensions');
    await new Promise((resolve) => setTimeout(resolve, 2));
    return inner(input, count);
  };
  await assert.rejects(segmentStack(g, manifest(1), shape, failing, { batchSize: 2 }), /invalid dimensions/);
});
