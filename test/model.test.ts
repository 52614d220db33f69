import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { loadManifest, type LoadedManifest } from '../src/model/manifest.js';
import { bundledManifest, projectRoot } from './support/paths.js';

const manifest: LoadedManifest = loadManifest(bundledManifest);
const options: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1 };

/** The deterministic image the Python export used for its parity fixture. */
function parityInput(batch: number, rows: number, columns: number): Float32Array {
  const x = new Float32Array(batch * rows * columns);
  for (let b = 0; b < batch; b++)
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < columns; j++) x[(b * rows + i) * columns + j] = Math.sin(0.11 * i + 0.07 * j + b) * 1.5;
  return x;
}

function assertShape(actual: readonly number[], expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: rank ${actual.length}, manifest says ${expected.length}`);
  expected.forEach((d, i) => {
    if (d !== -1) assert.equal(actual[i], d, `${what}: dimension ${i} is ${actual[i]}, manifest says ${d}`);
  });
}

test('the bundled manifest validates and names files that exist within the size budget', () => {
  assert.equal(manifest.name, 'pulse-lite');
  assert.deepEqual(manifest.segments.map((s) => s.key).sort(), ['lv', 'myo', 'rv']);
  assert.deepEqual(manifest.diagnosis.groups.map((g) => g.name), ['NOR', 'DCM', 'HCM', 'MINF', 'RV']);
  const bytes = statSync(join(manifest.directory, manifest.model.file)).size + statSync(join(manifest.directory, manifest.diagnosis.studyHead.file)).size;
  assert.ok(bytes <= 20 * 1024 * 1024, `ONNX files take ${bytes} bytes, budget is 20 MB`);
});

test('the slice network runs a batch of 2 with the shapes the manifest declares and matches the PyTorch export', async () => {
  const session = await ort.InferenceSession.create(join(manifest.directory, manifest.model.file), options);
  assert.deepEqual(session.inputNames, [manifest.input.name]);
  const declared = [manifest.outputs.segmentation, manifest.outputs.embedding, manifest.outputs.features, manifest.outputs.diagnosis!];
  for (const o of declared) assert.ok(session.outputNames.includes(o.name), `output ${o.name} missing from the ONNX graph`);
  const [, channels, rows, columns] = manifest.input.shape as [number, number, number, number];
  assert.equal(channels, 1);
  const input = new ort.Tensor('float32', parityInput(2, rows, columns), [2, channels, rows, columns]);
  const out = await session.run({ [manifest.input.name]: input });
  const parity = JSON.parse(readFileSync(join(projectRoot, 'training', 'fixtures', 'onnx-parity.json'), 'utf8')) as {
    outputs: Record<string, { shape: number[]; mean: number[]; first: number[][] }>;
  };
  for (const o of declared) {
    const tensor = out[o.name]!;
    assert.equal(tensor.dims[0], 2, `${o.name}: batch dimension`);
    assertShape(tensor.dims, o.shape, o.name);
    // values: PyTorch's outputs for the same input (float32 tolerance)
    const data = tensor.data as Float32Array;
    const per = data.length / 2;
    const expected = parity.outputs[o.name]!;
    assert.deepEqual([...tensor.dims], expected.shape, `${o.name}: shape differs from the PyTorch export`);
    for (let b = 0; b < 2; b++) {
      let sum = 0;
      for (let k = 0; k < per; k++) sum += data[b * per + k]!;
      assert.ok(Math.abs(sum / per - expected.mean[b]!) < 1e-3 * (1 + Math.abs(expected.mean[b]!)), `${o.name}[${b}] mean ${sum / per} vs ${expected.mean[b]}`);
      expected.first[b]!.forEach((v, k) => assert.ok(Math.abs(data[b * per + k]! - v) < 2e-3 * (1 + Math.abs(v)), `${o.name}[${b}][${k}] ${data[b * per + k]} vs ${v}`));
    }
  }
  const logits = out[manifest.outputs.segmentation.name]!;
  assert.equal(logits.dims[1], manifest.segments.length + 1, 'one logit channel per segment plus background');
});

test('the study head maps a batch of 2 standardised feature vectors to one logit per group', async () => {
  const head = manifest.diagnosis.studyHead;
  const session = await ort.InferenceSession.create(join(manifest.directory, head.file), options);
  assert.deepEqual(session.inputNames, [head.input]);
  assert.deepEqual(session.outputNames, [head.output]);
  const width = head.features.reduce((n, f) => n + f.size, 0);
  const x = new Float32Array(2 * width);
  x.fill(0.5, width); // row 0: the training mean; row 1: half a standard deviation above it
  const out = await session.run({ [head.input]: new ort.Tensor('float32', x, [2, width]) });
  const logits = out[head.output]!;
  assert.deepEqual([...logits.dims], [2, manifest.diagnosis.groups.length]);
  const values = [...(logits.data as Float32Array)];
  assert.ok(values.every(Number.isFinite), 'finite logits');
  assert.notDeepEqual(values.slice(0, 5), values.slice(5), 'the head responds to its input');
});
