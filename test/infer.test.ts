/** `pulse infer` as users run it: the built CLI as a child process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, writeStudy } from '../src/synth/index.js';
import { bundledManifest, pulseBin } from './support/paths.js';

const manifestPath = process.env.PULSE_TEST_MANIFEST ?? bundledManifest;
const noModel = existsSync(manifestPath) ? false : `no model at ${manifestPath} yet (models/pulse-lite arrives with the training work)`;

function pulse(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [pulseBin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('pulse infer writes result.json with exactly the keys of the DESIGN.md contract', { skip: noModel }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-infer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const studyDir = await writeStudy(dir, generateStudy({ seed: 7, group: 'HCM', slices: 6, phases: 8 }));
  const out = join(dir, 'out');
  const r = pulse(['infer', studyDir, '--out', out, '--model', manifestPath, '--threads', '1', '--overlay', '--pdf', '--fhir']);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as Record<string, any>;
  // DESIGN.md: the top-level keys, the nested keys of grid/phases/diagnosis/model, the 8 measurements.
  // Extensions of the contract: reference ranges and their population (always), wall thickness (when found),
  // the reader's series decisions (always).
  const extensions = ['reference_ranges', 'reference_population', 'wall_thickness', 'series_decisions'];
  assert.deepEqual(Object.keys(result).filter((k) => !extensions.includes(k)), ['studyInstanceUID', 'seriesInstanceUID', 'grid', 'phases', 'measurements', 'diagnosis', 'narrative', 'qc', 'model', 'timings_ms']);
  assert.equal(result.series_decisions[0].chosen, true, 'the chosen series first, with its reason');
  assert.equal(result.series_decisions[0].seriesInstanceUID, result.seriesInstanceUID);
  assert.equal(typeof result.reference_ranges, 'object');
  assert.equal(typeof result.reference_population.note, 'string');
  assert.deepEqual(Object.keys(result.grid), ['slices', 'phases']);
  assert.deepEqual(Object.keys(result.phases), ['ed', 'es']);
  assert.deepEqual(Object.keys(result.diagnosis), ['label', 'probabilities']);
  assert.deepEqual(Object.keys(result.model), ['name', 'version', 'calibration']);
  assert.deepEqual(Object.keys(result.qc), ['status', 'reasons', 'ood']);
  assert.match(result.qc.status, /^(pass|review|fail)$/);
  for (const key of ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct']) assert.equal(typeof result.measurements[key], 'number', key);
  const groups = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { diagnosis: { groups: Array<{ name: string }> } }).diagnosis.groups.map((g) => g.name);
  assert.deepEqual(Object.keys(result.diagnosis.probabilities), groups);
  assert.ok(groups.includes(result.diagnosis.label));
  assert.deepEqual(result.grid, { slices: 6, phases: 8 });
  assert.equal(typeof result.narrative, 'string');
  // The files written are listed on stdout; SEG, SR and (asked for) the overlay beside result.json.
  assert.match(r.stdout, /result\.json/);
  for (const name of ['seg.dcm', 'sr.dcm', 'overlay.dcm', 'pdf.dcm']) {
    const bytes = readFileSync(join(out, name));
    assert.equal(bytes.subarray(128, 132).toString('latin1'), 'DICM', name);
  }
  // --pdf and --fhir: the report, its Encapsulated PDF and the FHIR Bundle, from the same result.
  assert.equal(readFileSync(join(out, 'report.pdf')).subarray(0, 5).toString('latin1'), '%PDF-');
  const fhir = JSON.parse(readFileSync(join(out, 'diagnostic-report.json'), 'utf8')) as { resourceType: string; entry: Array<{ resource: Record<string, any> }> };
  assert.equal(fhir.resourceType, 'Bundle');
  const lvef = fhir.entry.map((e) => e.resource).find((res) => res.resourceType === 'Observation' && res.code.coding?.some((c: any) => c.code === '10230-1'));
  assert.equal(lvef?.valueQuantity.value, result.measurements.lvef_pct);
});

test('pulse infer on a folder without DICOM fails with one line and a non-zero exit', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-infer-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'study'));
  writeFileSync(join(dir, 'study', 'notes.txt'), 'not an image');
  const r = pulse(['infer', join(dir, 'study'), '--out', join(dir, 'out')]);
  assert.notEqual(r.status, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^pulse: no DICOM files in /);
  assert.equal(existsSync(join(dir, 'out', 'result.json')), false);
});

test('pulse infer on a broken file fails with one line naming the problem, not a stack trace', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-infer-bad-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = new Uint8Array(300);
  bytes.set([0x44, 0x49, 0x43, 0x4d], 128); // 'DICM' and then nothing usable
  writeFileSync(join(dir, 'broken.dcm'), bytes);
  const r = pulse(['infer', dir, '--out', join(dir, 'out'), '--model', manifestPath]);
  assert.notEqual(r.status, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^pulse: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('pulse infer rejects a bad --threads value with one line', () => {
  const r = pulse(['infer', '.', '--out', tmpdir(), '--threads', 'zero']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.trim(), /threads/);
});
