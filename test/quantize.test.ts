/**
 * The int8 variant: training/pulse_lite/quantize.py (dynamic quantisation as onnxruntime's
 * quantize_dynamic) turns the shipped float model into one that onnxruntime-node loads and whose
 * outputs stay close to the float model's; the committed models/pulse-lite-int8 is what the script
 * makes from models/pulse-lite, loads as a model of its own and runs a study like the float one.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { loadManifest } from '../src/model/manifest.js';
import { ModelRegistry } from '../src/model/registry.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { generateStudy } from '../src/synth/index.js';
import { projectRoot } from './support/paths.js';

const python = '/usr/bin/python3';
const hasOnnx = existsSync(python) && spawnSync(python, ['-c', 'import onnx, numpy'], { encoding: 'utf8' }).status === 0;
const skip = hasOnnx ? false : `skipped: ${python} with onnx and numpy is not available`;
const floatDir = join(projectRoot, 'models', 'pulse-lite');
const int8Dir = join(projectRoot, 'models', 'pulse-lite-int8');
const models = new ModelRegistry();
after(() => models.close());

const SIZE = 160;
/** The export's parity image (training/pulse_lite/export.py): x[b,0,i,j] = sin(0.11 i + 0.07 j + b) * 1.5. */
function parityImage(count: number): ort.Tensor {
  const data = new Float32Array(count * SIZE * SIZE);
  for (let b = 0; b < count; b++) for (let i = 0; i < SIZE; i++) for (let j = 0; j < SIZE; j++) data[b * SIZE * SIZE + i * SIZE + j] = Math.sin(0.11 * i + 0.07 * j + b) * 1.5;
  return new ort.Tensor('float32', data, [count, 1, SIZE, SIZE]);
}

async function outputs(file: string): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  try {
    const out = await session.run({ image: parityImage(2) });
    return Object.fromEntries(Object.entries(out).map(([name, t]) => [name, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

/** Share of pixels whose arg-max class is the same in both [N, K, H, W] logit tensors. */
function labelAgreement(a: Float32Array, b: Float32Array, classes: number): number {
  const plane = SIZE * SIZE;
  const images = a.length / (classes * plane);
  let same = 0;
  for (let n = 0; n < images; n++) {
    for (let p = 0; p < plane; p++) {
      let la = 0;
      let lb = 0;
      for (let c = 1; c < classes; c++) {
        if (a[n * classes * plane + c * plane + p]! > a[n * classes * plane + la * plane + p]!) la = c;
        if (b[n * classes * plane + c * plane + p]! > b[n * classes * plane + lb * plane + p]!) lb = c;
      }
      if (la === lb) same++;
    }
  }
  return same / (images * plane);
}

/** Root-mean-square of the difference relative to that of the reference. */
function relativeRmsError(reference: Float32Array, other: Float32Array): number {
  let difference = 0;
  let magnitude = 0;
  for (let i = 0; i < reference.length; i++) {
    difference += (reference[i]! - other[i]!) ** 2;
    magnitude += reference[i]! ** 2;
  }
  return Math.sqrt(difference / magnitude);
}
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function quantize(args: string[]): void {
  const run = spawnSync(python, ['-m', 'training.pulse_lite.quantize', ...args], { cwd: projectRoot, encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
}

test('the quantiser turns the shipped model into one onnxruntime-node runs, close to float on a synthetic image (int8 and uint8 weights)', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-quantize-'));
  try {
    const reference = await outputs(join(floatDir, 'model.onnx'));
    for (const weights of ['int8', 'uint8']) {
      const file = join(dir, `model-${weights}.onnx`);
      quantize([join(floatDir, 'model.onnx'), file, '--weight-type', weights]);
      const quantized = await outputs(file);
      assert.ok(labelAgreement(reference.segmentation!, quantized.segmentation!, 4) >= 0.99, `${weights}: the segmentation's arg-max agrees on at least 99 % of pixels`);
      for (const name of ['segmentation', 'embedding', 'features', 'diagnosis']) {
        assert.equal(quantized[name]!.length, reference[name]!.length, `${weights} ${name}: same shape`);
        const error = relativeRmsError(reference[name]!, quantized[name]!);
        // Measured with onnxruntime-node 1.30: 1.4-3.3 % for segmentation, embedding and features, 3-9 % for the slice diagnosis logits.
        assert.ok(error < 0.15, `${weights} ${name}: relative RMS error ${error.toFixed(4)}`);
        assert.ok(error > 0, `${weights} ${name}: the quantised model is not the float one`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('models/pulse-lite-int8 is what --variant makes from models/pulse-lite, with the study head in float and its own QC reference', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-variant-'));
  try {
    const committed = JSON.parse(readFileSync(join(int8Dir, 'manifest.json'), 'utf8')) as { quantization: { weights: string } };
    const weightType = committed.quantization.weights.split(',')[0]!;
    quantize(['--variant', floatDir, dir, '--weight-type', weightType]);
    assert.equal(sha256(join(dir, 'model.onnx')), sha256(join(int8Dir, 'model.onnx')), 'the committed int8 model is reproduced byte for byte');
    assert.equal(sha256(join(int8Dir, 'study-head.onnx')), sha256(join(floatDir, 'study-head.onnx')), 'the study head is the float one');
    const manifest = loadManifest(join(int8Dir, 'manifest.json'));
    assert.equal(manifest.name, 'pulse-lite-int8');
    assert.ok(manifest.qualityControl, 'the variant pins a quality-control reference');
    const reference = JSON.parse(readFileSync(join(int8Dir, manifest.qualityControl.reference.file), 'utf8')) as { model: { name: string; version: string; sha256: string } };
    assert.deepEqual(reference.model, { name: manifest.name, version: manifest.version, sha256: sha256(join(int8Dir, 'model.onnx')) }, 'the QC reference was computed on the int8 network');
    const float = loadManifest(join(floatDir, 'manifest.json'));
    assert.deepEqual(manifest.input, float.input);
    assert.deepEqual(manifest.outputs, float.outputs);
    assert.deepEqual(manifest.segments, float.segments);
    assert.deepEqual(manifest.diagnosis, float.diagnosis);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a study runs through the int8 variant by its manifest path, with measurements close to the float model', async () => {
  const study = generateStudy({ seed: 5, group: 'NOR', slices: 8, phases: 12 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const float = (await processStudy(instances, { models, manifestPath: join(floatDir, 'manifest.json') })).result;
  const int8 = (await processStudy(instances, { models, manifestPath: join(int8Dir, 'manifest.json') })).result;
  assert.deepEqual(int8.model, { name: 'pulse-lite-int8', version: float.model.version, calibration: null }, 'results name the variant that made them');
  assert.equal(int8.diagnosis.label, float.diagnosis.label);
  assert.deepEqual(int8.phases, float.phases);
  for (const key of ['lvedv_ml', 'lvesv_ml', 'rvedv_ml', 'rvesv_ml'] as const) {
    const [a, b] = [float.measurements[key], int8.measurements[key]];
    assert.ok(Math.abs(a - b) <= Math.max(2, 0.03 * a), `${key}: float ${a.toFixed(1)} ml, int8 ${b.toFixed(1)} ml`);
  }
  assert.ok(Math.abs(float.measurements.lvef_pct - int8.measurements.lvef_pct) <= 2, `LVEF float ${float.measurements.lvef_pct.toFixed(1)} %, int8 ${int8.measurements.lvef_pct.toFixed(1)} %`);
  assert.ok(int8.qc, 'quality control ran with the variant');
});
