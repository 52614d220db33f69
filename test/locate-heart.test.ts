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
