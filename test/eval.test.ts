/** `pulse eval` on real labelled data: an ACDC validation patient through the NIfTI import. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEval } from '../src/cli/commands/eval.js';
import { generateStudy, writeStudy } from '../src/synth/index.js';
import { bundledManifest, projectRoot, sharedData } from './support/paths.js';

const acdc = join(sharedData, 'acdc', 'training');
const modelFile = join(projectRoot, 'models', 'pulse-lite', 'model.onnx');
const skip = !existsSync(modelFile) || !existsSync(bundledManifest) ? 'needs models/pulse-lite/model.onnx and manifest.json (the trained model)' : !existsSync(acdc) ? `no ACDC data at ${acdc}` : false;

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

const manifestPath = process.env.PULSE_TEST_MANIFEST ?? bundledManifest;

/**
 * Dice floors on these two synthetic studies (6 slices x 8 phases). Measured with pulse-lite 1.0.0
 * (synth generator 1.1.0), lowest of the two: LV 0.972 ED / 0.777 ES, MYO 0.702 / 0.753, RV 0.880 /
 * 0.780 (8 coarse phases make ES hard; the synthetic myocardium reads thin to the model). Floors sit
 * about 0.05 below: a label map off its image, a label swap or a scored phase off by one falls far below.
 */
const SYNTH_DICE_FLOORS: Record<'ed' | 'es', Record<string, number>> = {
  ed: { lv: 0.92, myo: 0.65, rv: 0.83 },
  es: { lv: 0.72, myo: 0.7, rv: 0.73 },
};

test('pulse eval scores synthetic studies against their truth.json', { skip: existsSync(manifestPath) ? false : `no model at ${manifestPath} yet` }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-eval-synth-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const a = generateStudy({ seed: 31, group: 'DCM', slices: 6, phases: 8 });
  const b = generateStudy({ seed: 32, group: 'NOR', slices: 6, phases: 8 });
  await writeStudy(dir, a);
  await writeStudy(dir, b);
  const metrics = await runEval({ source: dir, model: manifestPath, quiet: true, out: join(dir, 'metrics.json') });
  assert.equal(metrics.kind, 'synth');
  assert.equal(metrics.cases, 2);
  const byId = new Map(metrics.perCase.map((c) => [c.id, c]));
  for (const study of [a, b]) {
    const c = byId.get(study.name)!;
    assert.equal(c.group, study.truth.group);
    // The reference is truth.json itself, and the labelled phases are the truth's ED and ES.
    assert.equal(c.truth.lvef_pct, study.truth.measurements.lvef_pct);
    assert.deepEqual(c.phases.truth, study.truth.phases);
    for (const phase of ['ed', 'es'] as const) for (const key of ['lv', 'myo', 'rv']) {
      const d = c.dice[phase][key];
      assert.ok(typeof d === 'number', `${study.name} ${phase} ${key}: scored`);
      assert.ok(d >= SYNTH_DICE_FLOORS[phase][key]!, `${study.name} ${phase} ${key}: Dice ${d.toFixed(3)} < ${SYNTH_DICE_FLOORS[phase][key]}`);
    }
  }
  // The summary is the mean of the cases.
  const lvEd = metrics.perCase.map((c) => c.dice.ed.lv).filter((v): v is number => v !== null);
  assert.ok(Math.abs(metrics.dice.ed!.lv!.mean - lvEd.reduce((x, y) => x + y, 0) / lvEd.length) < 1e-12);
  const efErrors = metrics.perCase.map((c) => c.predicted.lvef_pct! - c.truth.lvef_pct!);
  assert.ok(Math.abs(metrics.measurements.lvef_pct!.bias - efErrors.reduce((x, y) => x + y, 0) / 2) < 1e-9);
  assert.equal(metrics.diagnosis.confusion.flat().reduce((x, y) => x + y, 0), 2);
});
