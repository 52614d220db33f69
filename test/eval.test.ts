/** `pulse eval` on real labelled data: an ACDC validation patient through the NIfTI import. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEval } from '../src/cli/commands/eval.js';
import { bundledManifest, projectRoot, sharedData } from './support/paths.js';

const acdc = join(sharedData, 'acdc', 'training');
const modelFile = join(projectRoot, 'models', 'pulse-lite', 'model.onnx');
const skip = !existsSync(modelFile) ? 'needs models/pulse-lite/model.onnx (the trained model)' : !existsSync(acdc) ? `no ACDC data at ${acdc}` : false;

/** The first validation patient of training/splits.json: never seen in training. */
function validationPatient(): string {
  const splits = JSON.parse(readFileSync(join(projectRoot, 'training', 'splits.json'), 'utf8')) as { validation: string[] };
  return splits.validation[0]!;
}

test('an imported ACDC validation patient is segmented above the Dice floor at ED and ES', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-eval-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const patient = validationPatient();
  const metrics = await runEval({ source: acdc, kind: 'acdc', patients: patient, model: bundledManifest, out: join(dir, 'metrics.json'), markdown: join(dir, 'EVAL.md'), quiet: true });
  assert.equal(metrics.cases, 1);
  // Floors for ONE patient: the model's targets are mean Dice LV 0.93, MYO 0.86, RV 0.88 over 20
  // validation patients; per-patient Dice spreads by a few points (SD ~0.03 LV/MYO, ~0.06 RV in
  // ACDC results), and ES is harder (small cavities): floors sit about two SDs below the targets.
  const floors: Record<string, number> = { lv: 0.85, myo: 0.75, rv: 0.7 };
  for (const phase of ['ed', 'es'] as const) {
    for (const [key, floor] of Object.entries(floors)) {
      const value = metrics.perCase[0]!.dice[phase][key]!;
      assert.ok(value >= floor, `${patient} ${phase} ${key}: Dice ${value.toFixed(3)} < ${floor}`);
    }
  }
  // ACDC has only the labelled frames: ED and ES come from Info.cfg, the same for prediction and truth.
  assert.deepEqual(metrics.perCase[0]!.phases.predicted, metrics.perCase[0]!.phases.truth);
  const written = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')) as { dice: unknown; hd95Mm: unknown; diagnosis: { confusion: number[][] } };
  assert.ok(written.dice && written.hd95Mm);
  assert.equal(written.diagnosis.confusion.flat().reduce((a, b) => a + b, 0), 1);
  assert.match(readFileSync(join(dir, 'EVAL.md'), 'utf8'), /## Segmentation/);
});
