/**
 * The pipeline end to end on synthetic studies: the same study presented differently (file order,
 * slice order, orientation, matrix) must give the same measurements; result.json keeps its contract.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { generateStudy } from '../src/synth/index.js';
import type { StudyInstance } from '../src/core/study-instance.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { ModelRegistry } from '../src/model/registry.js';
import type { StudyResult } from '../src/core/result.js';
import { bundledManifest } from './support/paths.js';

/** The bundled model, or PULSE_TEST_MANIFEST (a development export) when set. */
const manifestPath = process.env.PULSE_TEST_MANIFEST ?? bundledManifest;
/** One registry for the file: the session is created once, as in the service. */
const models = new ModelRegistry();
after(() => models.close());
function modelMissing(): string | false {
  if (!existsSync(manifestPath)) return `no model at ${manifestPath} yet (models/pulse-lite arrives with the training work)`;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { model: { file: string } };
  const file = join(manifestPath, '..', manifest.model.file);
  return existsSync(file) ? false : `model file ${file} does not exist yet`;
}

type Dataset = Record<string, any>;

/** Rewrites one Part 10 instance through dcmjs's naturalized data set. */
function rewrite(bytes: Uint8Array, edit: (ds: Dataset) => void): Uint8Array {
  const { DicomMessage, DicomMetaDictionary, DicomDict } = dcmjs.data;
  const file = DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const ds = DicomMetaDictionary.naturalizeDataset(file.dict) as Dataset;
  edit(ds);
  const out = new DicomDict(file.meta);
  out.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  return new Uint8Array(out.write());
}

function read(bytes: Uint8Array): Dataset {
  const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
  return DicomMetaDictionary.naturalizeDataset(DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)).dict) as Dataset;
}

const dot = (a: readonly number[], b: readonly number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;
const cross = (a: readonly number[], b: readonly number[]) => [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];

/** Deterministic shuffle (a small LCG): the test must not depend on Math.random. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Same images, slice positions handed out in reverse: the stack is read in the opposite order. */
function reverseSliceOrder(instances: readonly StudyInstance[]): StudyInstance[] {
  const sets = instances.map((i) => read(i.bytes));
  const iop = sets[0]!.ImageOrientationPatient as number[];
  const normal = cross(iop.slice(0, 3), iop.slice(3));
  const positions = [...new Map(sets.map((ds) => [dot(ds.ImagePositionPatient, normal).toFixed(3), ds.ImagePositionPatient as number[]])).values()].sort((a, b) => dot(a, normal) - dot(b, normal));
  return instances.map((inst, n) => ({
    source: inst.source,
    bytes: rewrite(inst.bytes, (ds) => {
      const k = positions.findIndex((p) => Math.abs(dot(p, normal) - dot(sets[n]!.ImagePositionPatient, normal)) < 1e-3);
      ds.ImagePositionPatient = [...positions[positions.length - 1 - k]!];
      delete ds.SliceLocation;
    }),
  }));
}

/** The whole acquisition rotated rigidly in patient space: pixels unchanged, geometry oblique. */
function rotate(instances: readonly StudyInstance[]): StudyInstance[] {
  // Rotation of 35° about an axis (1, 2, 2)/3.
  const [x, y, z] = [1 / 3, 2 / 3, 2 / 3];
  const a = (35 * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a), t = 1 - c;
  const R = [
    [t * x * x + c, t * x * y - s * z, t * x * z + s * y],
    [t * x * y + s * z, t * y * y + c, t * y * z - s * x],
    [t * x * z - s * y, t * y * z + s * x, t * z * z + c],
  ];
  const apply = (v: readonly number[]) => R.map((row) => dot(row, v));
  return instances.map((inst) => ({
    source: inst.source,
    bytes: rewrite(inst.bytes, (ds) => {
      const iop = ds.ImageOrientationPatient as number[];
      ds.ImageOrientationPatient = [...apply(iop.slice(0, 3)), ...apply(iop.slice(3))].map((v) => Number(v.toFixed(8)));
      ds.ImagePositionPatient = apply(ds.ImagePositionPatient).map((v) => Number(v.toFixed(5)));
      delete ds.SliceLocation;
    }),
  }));
}

/** `extra` zero columns added on each side, positions moved so every pixel keeps its place in space. */
function padColumns(instances: readonly StudyInstance[], extra: number): StudyInstance[] {
  return instances.map((inst) => ({
    source: inst.source,
    bytes: rewrite(inst.bytes, (ds) => {
      assert.equal(ds.BitsAllocated, 16, 'the padding helper handles 16-bit pixels');
      const rows = ds.Rows as number, columns = ds.Columns as number;
      const src = new Uint16Array((ds.PixelData as ArrayBuffer[])[0]!.slice(0));
      const wide = columns + 2 * extra;
      const out = new Uint16Array(rows * wide);
      for (let r = 0; r < rows; r++) out.set(src.subarray(r * columns, (r + 1) * columns), r * wide + extra);
      const iop = ds.ImageOrientationPatient as number[];
      const columnSpacing = (ds.PixelSpacing as number[])[1]!;
      ds.ImagePositionPatient = (ds.ImagePositionPatient as number[]).map((p, i) => Number((p - extra * columnSpacing * iop[i]!).toFixed(5)));
      ds.Columns = wide;
      ds.PixelData = [out.buffer];
    }),
  }));
}

/** Measurements and diagnosis agree within `tolerance` (ml, g, percentage points, probability). */
function assertSameResult(actual: StudyResult, expected: StudyResult, tolerance: number, what: string): void {
  assert.deepEqual(actual.grid, expected.grid, `${what}: grid`);
  assert.deepEqual(actual.phases, expected.phases, `${what}: ED/ES`);
  for (const [key, value] of Object.entries(expected.measurements)) {
    assert.ok(Math.abs(actual.measurements[key]! - value) <= tolerance, `${what}: ${key} ${actual.measurements[key]} vs ${value}`);
  }
  assert.equal(actual.diagnosis.label, expected.diagnosis.label, `${what}: diagnosis`);
}

const skip = modelMissing();

test('the same study read in any file order, slice order, orientation and matrix gives the same measurements', { skip }, async () => {
  const study = generateStudy({ seed: 11, group: 'NOR', slices: 8, phases: 10 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const options = { manifestPath, models };
  const baseline = (await processStudy(instances, options)).result;
  assert.ok(baseline.measurements.lvedv_ml > 0, 'the model finds a left ventricle');

  // File order and InstanceNumber carry no meaning: identical results.
  const order = (await processStudy(shuffled(instances, 7), options)).result;
  assertSameResult(order, baseline, 0, 'shuffled files');
  // A rigid rotation in patient space leaves every pixel and distance as it was.
  assertSameResult((await processStudy(rotate(instances), options)).result, baseline, 0.1, 'rotated (oblique) geometry');
  // Background columns added on both sides keep the image centre, hence the model window.
  assertSameResult((await processStudy(padColumns(instances, 16), options)).result, baseline, 0.3, 'non-square padded matrix');
  // Reversed slice order: a 1-channel model sees the same images; a 2.5D model sees its neighbours
  // swapped, which its training (slice flips) makes nearly, not exactly, irrelevant.
  const channels = (JSON.parse(readFileSync(manifestPath, 'utf8')) as { input: { channels: string } }).input.channels;
  const reversed = (await processStudy(reverseSliceOrder(instances), options)).result;
  if (channels === 'slice') assertSameResult(reversed, baseline, 0.3, 'reversed slice order');
  else {
    assert.deepEqual(reversed.grid, baseline.grid);
    assert.ok(Math.abs(reversed.measurements.lvef_pct - baseline.measurements.lvef_pct) < 3, `reversed slice order: LVEF ${reversed.measurements.lvef_pct} vs ${baseline.measurements.lvef_pct}`);
  }
});

test('result.json carries the keys of the contract, stage timings and the model identity', { skip }, async () => {
  const study = generateStudy({ seed: 12, group: 'DCM', slices: 6, phases: 8 });
  const { result, seg, sr } = await processStudy(study.files.map((f) => ({ source: f.name, bytes: f.bytes })), { manifestPath, models });
  const extensions = ['reference_ranges', 'reference_population', 'wall_thickness', 'series_decisions'];
  assert.deepEqual(Object.keys(result).filter((k) => !extensions.includes(k)).sort(), ['diagnosis', 'grid', 'measurements', 'model', 'narrative', 'phases', 'qc', 'seriesInstanceUID', 'studyInstanceUID', 'timings_ms'].sort());
  // Every flagged measurement's range is in result.json, and the flag agrees with the limits.
  for (const [key, range] of Object.entries(result.reference_ranges ?? {})) {
    const value = result.measurements[key]!;
    const expected = range.low !== undefined && value < range.low ? 'LOW' : range.high !== undefined && value > range.high ? 'HIGH' : 'NORMAL';
    assert.equal(range.flag, expected, key);
  }
  assert.ok(result.reference_ranges?.lvef_pct, 'LVEF has a range');
  assert.equal(result.studyInstanceUID, study.truth.studyInstanceUID);
  assert.equal(result.seriesInstanceUID, study.truth.seriesInstanceUID);
  assert.deepEqual(result.grid, { slices: 6, phases: 8 });
  for (const stage of ['read', 'preprocess', 'inference', 'postprocess', 'analysis', 'dicom', 'total']) assert.equal(typeof result.timings_ms[stage], 'number', stage);
  for (const key of ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct']) assert.equal(typeof result.measurements[key], 'number', key);
  const probabilities = Object.values(result.diagnosis.probabilities);
  assert.ok(Math.abs(probabilities.reduce((a, b) => a + b, 0) - 1) < 0.01);
  assert.equal(result.model.calibration, null);
  // The DICOM outputs: a SEG holding ED and ES frames and a Comprehensive 3D SR, both in this study.
  const segDs = read(seg!);
  assert.equal(segDs.SOPClassUID, '1.2.840.10008.5.1.4.1.1.66.4');
  assert.equal(segDs.StudyInstanceUID, result.studyInstanceUID);
  const phasesInSeg = new Set((segDs.PerFrameFunctionalGroupsSequence as Dataset[]).map((f) => f.FrameContentSequence.TemporalPositionIndex ?? f.FrameContentSequence[0]?.TemporalPositionIndex));
  assert.ok(phasesInSeg.size <= 2 && phasesInSeg.size >= 1, `SEG phases ${[...phasesInSeg]}`);
  const srDs = read(sr);
  assert.equal(srDs.SOPClassUID, '1.2.840.10008.5.1.4.1.1.88.34');
  assert.equal(srDs.StudyInstanceUID, result.studyInstanceUID);
  // Idempotent writes: the same study and model give the same SOP Instance UIDs.
  const again = await processStudy(study.files.map((f) => ({ source: f.name, bytes: f.bytes })), { manifestPath, models, segPhases: 'all' });
  assert.equal(read(again.seg!).SOPInstanceUID, segDs.SOPInstanceUID);
  assert.equal(read(again.sr).SOPInstanceUID, srDs.SOPInstanceUID);
  assert.ok((read(again.seg!).NumberOfFrames as number) >= (segDs.NumberOfFrames as number));
});

// The real model against synthetic truth (ED/ES, measurements, SEG/SR references, validators): test/pipeline-output.test.ts.
