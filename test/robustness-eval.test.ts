/**
 * `pulse eval --perturb` (issue 14 item 3) on one real ACDC validation patient: the perturbed stack
 * goes through the NIfTI import and the whole production path, and the table compares it with clean.
 * The full table (20 patients, every perturbation) is `npm run robustness-eval`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runRobustnessEval, type RobustnessReport } from '../src/cli/commands/eval.js';
import { bundledManifest, projectRoot, sharedData } from './support/paths.js';

const acdc = join(sharedData, 'acdc', 'training');
const modelFile = join(projectRoot, 'models', 'pulse-lite', 'model.onnx');
const skip = !existsSync(modelFile) || !existsSync(bundledManifest) ? 'needs models/pulse-lite/model.onnx and manifest.json (the trained model)' : !existsSync(acdc) ? `no ACDC data at ${acdc}` : false;

test('a shifted heart keeps its labels through the DICOM import, a missing apex shrinks the reference volumes, and the table says so', { skip }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-robustness-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'robustness.json');
  const markdown = join(dir, 'robustness.md');
  const report = await runRobustnessEval({ source: acdc, kind: 'acdc', patients: 'patient005', model: bundledManifest, perturb: ['no-apex,shift-x'], seed: 3, out, markdown, quiet: true }, 'pulse eval --perturb no-apex,shift-x');
  // Table order, whatever order the names came in; clean first.
  assert.deepEqual(report.rows.map((r) => r.name), ['clean', 'shift-x', 'no-apex']);
  const [clean, shifted, noApex] = report.rows;
  // Labels that stayed behind the shifted images would score near zero: the shift moves a third of the field of view.
  assert.ok(shifted!.meanDice > clean!.meanDice - 0.05, `shift-x mean Dice ${shifted!.meanDice.toFixed(3)} vs clean ${clean!.meanDice.toFixed(3)}`);
  assert.ok(Math.abs(shifted!.referenceLvedvChange!) < 1e-6, 'the whole heart is still in the shifted field');
  // Without the apical third the reference holds less ventricle, and Dice is scored on the slices present.
  assert.ok(noApex!.referenceLvedvChange! < -0.05, `reference LV EDV change ${noApex!.referenceLvedvChange}`);
  assert.ok(noApex!.meanDice > 0.8);
  const written = JSON.parse(readFileSync(out, 'utf8')) as RobustnessReport;
  assert.equal(written.seed, 3);
  assert.deepEqual(Object.keys(written.perCase), ['clean', 'shift-x', 'no-apex']);
  const text = readFileSync(markdown, 'utf8');
  assert.match(text, /seed 3/);
  assert.match(text, /\| shift-x \| 0\.\d{3} \([+−±]0\.\d{3}\) \|/);
});

test('--perturb refuses synthetic studies and unknown names before any work', { skip }, async () => {
  await assert.rejects(runRobustnessEval({ source: acdc, kind: 'acdc', patients: 'patient005', perturb: ['sharpen'], quiet: true }), /unknown perturbation sharpen/);
  await assert.rejects(runRobustnessEval({ source: acdc, kind: 'synth', perturb: ['shift-x'], quiet: true }), /ACDC/);
});
