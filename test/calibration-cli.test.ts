/**
 * `pulse synth --reference-seg`, `pulse calibrate --json`, `pulse calibration ...` and
 * `pulse infer --calibration` as users run them: the built CLI as child processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { bundledManifest, pulseBin, sharedData } from './support/paths.js';

function pulse(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [pulseBin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('synth --reference-seg, calibrate --json, then infer --calibration names the calibration everywhere', { skip: existsSync(bundledManifest) ? false : 'no bundled model' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cal-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cal = join(dir, 'cal');
  const data = join(dir, 'data');
  let r = pulse(['synth', '--domain', 'vendor-shifted-mri', '--count', '3', '--seed', '700', '--slices', '6', '--phases', '6', '--reference-seg', '--out', cal]);
  assert.equal(r.status, 0, r.stderr);
  const studies = readdirSync(cal).sort();
  assert.equal(studies.length, 3);
  for (const s of studies) assert.ok(existsSync(join(cal, s, 'reference-seg.dcm')), s);

  r = pulse(['calibrate', '--studies', cal, '--data', data, '--json', '--candidates', 'head', '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, 'exactly one line');
  const summary = JSON.parse(lines[0]!) as Record<string, any>;
  assert.deepEqual(Object.keys(summary), ['id', 'promoted', 'scope', 'k', 'before', 'after', 'reason']);
  assert.equal(summary.k, 3);
  assert.deepEqual(Object.keys(summary.before.dice), ['LV', 'MYO', 'RV']);
  assert.equal(typeof summary.after.lvef_mae, 'number');
  assert.equal(summary.scope.manufacturer, 'PULSE Synthetic B');
  assert.equal(typeof summary.reason, 'string');

  r = pulse(['calibration', 'list', '--data', data, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const listed = JSON.parse(r.stdout.trim()) as Record<string, any>;
  assert.equal(listed.id, summary.id);
  assert.equal(listed.status, summary.promoted ? 'active' : 'rejected');

  // Whatever the decision, the stored calibration can be applied explicitly.
  const out = join(dir, 'out');
  r = pulse(['infer', join(cal, studies[0]!), '--out', out, '--data', data, '--calibration', summary.id, '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Record<string, any>;
  // The bundled model's version, whatever it is now (a new study head changes it).
  const version = (JSON.parse(readFileSync(bundledManifest, 'utf8')) as { version: string }).version;
  assert.deepEqual(result.model, { name: 'pulse-lite', version, calibration: summary.id });
  const sr = readFileSync(join(out, 'sr.dcm')).toString('latin1');
  assert.ok(sr.includes(summary.id), 'the SR names the calibration');
  assert.ok(sr.includes(algorithmDeviceUid({ name: 'pulse-lite', version, calibration: summary.id })), 'the SR carries the calibration-specific Device UID');
  assert.ok(!sr.includes(algorithmDeviceUid({ name: 'pulse-lite', version, calibration: null })), 'not the bare model\'s Device UID');

  // Activation and roll-back by hand.
  r = pulse(['calibration', 'activate', summary.id, '--data', data]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`active: ${summary.id}`));
  r = pulse(['calibration', 'show', summary.id, '--data', data]);
  assert.match(r.stdout, /status: active/);
  r = pulse(['calibration', 'deactivate', summary.id, '--data', data]);
  assert.match(r.stdout, /active: \(none: the bare model\)/);
  r = pulse(['calibration', 'rollback', '--data', data]);
  assert.match(r.stdout, new RegExp(`active: ${summary.id}`));

  // Errors: an unknown id, and K = 0.
  r = pulse(['infer', join(cal, studies[0]!), '--out', out, '--data', data, '--calibration', 'cal-20200101-000000-abcdef']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /calibration cal-20200101-000000-abcdef is not in/);
  r = pulse(['calibrate', '--studies', out, '--data', data, '--json']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /K = 0/);
});

// ACDC training patients: the very data the bundled model was trained on, so it already segments them
// about as well as their annotators (ED and ES only: two phases, so the end-to-end check is cheap).
const ACDC_TRAINING = ['patient001', 'patient002', 'patient003'].map((p) => join(sharedData, 'acdc', 'training', p));

test('an in-domain calibration (ACDC training patients, which the bare model already segments well) is stored as rejected and nothing becomes active', { skip: !existsSync(bundledManifest) ? 'no bundled model' : ACDC_TRAINING.every((p) => existsSync(p)) ? false : 'no ACDC data' }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-cal-cli-indomain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const cal = join(dir, 'cal');
  const data = join(dir, 'data');
  for (const patient of ACDC_TRAINING) {
    const r = pulse(['import-nifti', patient, '--labels', '--out', join(cal, basename(patient))]);
    assert.equal(r.status, 0, r.stderr);
  }

  let r = pulse(['calibrate', '--studies', cal, '--data', data, '--json', '--candidates', 'head', '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim()) as Record<string, any>;
  assert.equal(summary.k, 3);
  // The bare model is already good on these studies (what "in-domain" means).
  for (const key of ['LV', 'MYO', 'RV']) assert.ok(summary.before.dice[key] > 0.85, `bare ${key} Dice ${summary.before.dice[key]}`);
  assert.equal(summary.promoted, false, `promoted: ${summary.reason}`);
  // It says why: one of the gate's rules, with the figures it judged.
  assert.match(summary.reason, /mean Dice gain .* below|Dice falls by more than|LVEF MAE rises|end to end/);

  r = pulse(['calibration', 'list', '--data', data, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const listed = JSON.parse(r.stdout.trim()) as Record<string, any>;
  assert.equal(listed.id, summary.id);
  assert.equal(listed.status, 'rejected');
  r = pulse(['calibration', 'show', summary.id, '--data', data]);
  assert.match(r.stdout, /status: rejected/);
  const statePath = join(data, 'calibrations', 'state.json');
  const active = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as { active: string[] }).active : [];
  assert.deepEqual(active, []);
});
