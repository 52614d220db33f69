/**
 * Issue 11: find the heart anywhere. A synthetic cine study with the heart a third of the field of
 * view off centre, on a 480 mm field, segments as well as the centred study once the heart is
 * located on the whole field first; the old image-centre crop loses it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evaluateCase, meanDice, synthCases } from '../src/pipeline/evaluate.js';
import { ModelRegistry } from '../src/model/registry.js';
import { loadModel } from '../src/pipeline/steps.js';
import { generateStudy, writeStudy, type SynthOptions } from '../src/synth/index.js';
import { locateHeart } from '../src/model/segment-stack.js';
import type { LoadedManifest } from '../src/model/manifest.js';
import type { SliceBatchOutputs } from '../src/model/session.js';
import type { CineGrid, SourceImage } from '../src/study/types.js';
import type { SOPClassUID, SOPInstanceUID, SeriesInstanceUID } from '../src/dicom/uid.js';
import { bundledManifest } from './support/paths.js';

const models = new ModelRegistry();
after(() => models.close());

async function diceOf(options: SynthOptions, locate: boolean): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-locate-'));
  try {
    const [source] = await synthCases(await writeStudy(dir, generateStudy(options)));
    return meanDice(await evaluateCase(await source!.load(), await loadModel(models, undefined, 1), null, { locate }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a heart a third of the field of view off centre on a 480 mm field (1.5 mm pixels) segments as well as a centred one', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async () => {
  const base: SynthOptions = { seed: 77001, group: 'NOR', slices: 6, phases: 4 };
  const centred = await diceOf(base, true);
  const far: SynthOptions = { ...base, heartOffset: [0.33, 0], fovMm: 480, pixelSpacingMm: 1.5 };
  const offCentre = await diceOf(far, true);
  const offCentreCentreCrop = await diceOf(far, false);
  assert.ok(centred > 0.8, `centred study mean Dice ${centred}`);
  assert.ok(offCentre >= centred - 0.02, `off centre ${offCentre} vs centred ${centred}`);
  assert.ok(offCentreCentreCrop < 0.5, `the image-centre crop loses the heart: ${offCentreCentreCrop} vs located ${offCentre}`);
  // A centred study is processed exactly as before: the window stays on the image centre.
  assert.equal(await diceOf(base, false), centred);
});

/**
 * The window placement itself, on a small hand-made study and a thresholding network function in
 * place of the model (what is under test is where the window goes, not the network): a bright disc
 * (the "heart") on a 240 x 320 mm image, a 128 mm model window at 2 mm.
 */
const small = { rows: 64, columns: 64, spacing: [2, 2] as [number, number] };

function smallManifest(): LoadedManifest {
  return {
    name: 'locate',
    input: { name: 'x', shape: [-1, 1, small.rows, small.columns], layout: 'NCHW', pixelSpacingMm: small.spacing, channels: 'slice', normalization: { type: 'zscore-per-slice', clipPercentiles: [0, 100] }, cropping: 'image-centre' },
    segments: [{ labelValue: 1, key: 'lv' }],
  } as unknown as LoadedManifest;
}

/** Three slices, one phase: a disc of radius 20 mm centred `at` (mm from the image centre, rows and columns). */
function discStudy(at: readonly [number, number]): CineGrid {
  const rows = 120, columns = 160, spacing: [number, number] = [2, 2];
  const images = Array.from({ length: 3 }, (_, s) => [
    ((): SourceImage => {
      const pixels = new Float32Array(rows * columns);
      for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) {
        const d = Math.hypot((r - (rows - 1) / 2) * spacing[0] - at[0], (c - (columns - 1) / 2) * spacing[1] - at[1]);
        pixels[r * columns + c] = d < 20 ? 600 : 40;
      }
      return {
        sopClassUID: '1.2.840.10008.5.1.4.1.1.4' as SOPClassUID,
        sopInstanceUID: `1.2.9.${s}` as SOPInstanceUID,
        seriesInstanceUID: '1.2.9' as SeriesInstanceUID,
        plane: { rows, columns, pixelSpacing: spacing, imagePositionPatient: [0, 0, 8 * s], imageOrientationPatient: [1, 0, 0, 0, 1, 0] },
        pixels,
      };
    })(),
  ]);
  return { slices: 3, phases: 1, images, sliceNormal: [0, 0, 1], slicePositionsMm: [0, 8, 16], phaseTimesMs: [0] };
}

/** Heart logit: the window's value minus its mid-range (positive on the bright disc), background 0. */
async function threshold(input: Float32Array, count: number): Promise<SliceBatchOutputs> {
  const plane = small.rows * small.columns;
  const logits = new Float32Array(count * 2 * plane);
  for (let b = 0; b < count; b++) {
    const window = input.subarray(b * plane, (b + 1) * plane);
    let lo = Infinity, hi = -Infinity;
    for (const v of window) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
    for (let i = 0; i < plane; i++) logits[(b * 2 + 1) * plane + i] = window[i]! - (lo + hi) / 2;
  }
  return { count, logits, embedding: new Float32Array(count) };
}

const locate = (at: readonly [number, number]) => locateHeart(discStudy(at), smallManifest(), { channels: 1, rows: small.rows, columns: small.columns }, threshold);

test('a heart well inside the centred window keeps the window on the image centre', async () => {
  assert.deepEqual((await locate([0, 0])).centreMm, [0, 0]);
});

test('a heart off centre moves the window onto it', async () => {
  const { centreMm } = await locate([-30, 70]);
  assert.ok(Math.abs(centreMm[0] + 30) < 4 && Math.abs(centreMm[1] - 70) < 4, `window centre ${centreMm.join(', ')}`);
});

test('a heart near the image edge: the window stops at the edge (no zero padding) and still holds the whole heart', async () => {
  // Heart rows -110..-70 mm, columns 105..145 mm; image half-extents 120 x 160 mm; window half 64 mm:
  // the window may move at most 56 x 96 mm (centred on the heart it would reach 34 and 29 mm beyond
  // the image).
  const { centreMm } = await locate([-90, 125]);
  assert.deepEqual(centreMm, [-56, 96]);
  const [r, c] = centreMm as [number, number];
  assert.ok(r - 64 <= -110 && r + 64 >= -70, `rows ${r - 64}..${r + 64} hold the heart`);
  assert.ok(c - 64 <= 105 && c + 64 >= 145, `columns ${c - 64}..${c + 64} hold the heart`);
});

test('a heart the image edge cuts: the window stops at that edge (nothing beyond it to hold, no zero padding)', async () => {
  // Heart rows -130..-90 mm, cut at -120 mm by the image edge; window half 64 mm: it may reach -56 mm.
  const { centreMm } = await locate([-110, 0]);
  const [r, c] = centreMm as [number, number];
  assert.ok(Math.abs(r + 56) < 1e-9, `window centre rows ${r}: its top edge on the image's (-120 mm)`);
  assert.ok(Math.abs(c) <= 5, `window centre columns ${c}`);
});
