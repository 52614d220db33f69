/**
 * The model on a thread of its own (model/inference-thread.ts): the same outputs as onnxruntime on
 * the calling thread, bit for bit; inputs that move instead of being copied; an onnxruntime error
 * that fails its call (and the study) with onnxruntime's reason while the thread goes on; a thread
 * that dies mid-study fails that study with a reason and is started again for the next; closing the
 * registry ends it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelSession, type ModelRunner } from '../src/model/session.js';
import { InferenceThread } from '../src/model/inference-thread.js';
import { loadManifest, type LoadedManifest } from '../src/model/manifest.js';
import { ModelRegistry } from '../src/model/registry.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { PipelineThreads } from '../src/service/pipeline-thread.js';
import { generateStudy } from '../src/synth/index.js';
import { bundledManifest } from './support/paths.js';

const manifest = loadManifest(bundledManifest);
let direct: ModelSession;
let threaded: InferenceThread;
const folder = mkdtempSync(join(tmpdir(), 'pulse-inference-thread-'));

before(async () => {
  direct = await ModelSession.create(manifest);
  threaded = await InferenceThread.create(manifest);
});
after(async () => {
  await direct.release();
  await threaded.release();
  rmSync(folder, { recursive: true, force: true });
});

/** A deterministic batch of `count` windows: smooth blobs and noise, z-scored values as the model sees. */
function batchOf(runner: ModelRunner, count: number, seed: number): Float32Array {
  const { channels, rows, columns } = runner.shape;
  const input = new Float32Array(count * channels * rows * columns);
  let state = seed;
  for (let i = 0; i < input.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const x = i % columns;
    const y = Math.floor(i / columns) % rows;
    const blob = Math.exp(-((x - columns / 2) ** 2 + (y - rows / 2) ** 2) / (2 * 25 ** 2));
    input[i] = 3 * blob - 1 + (state / 2147483648 - 0.5);
  }
  return input;
}

/** A copy of the bundled manifest beside the same model files, with `change` applied. */
function changedManifest(name: string, change: (raw: Record<string, any>) => void): string {
  const dir = join(folder, name);
  const raw = JSON.parse(readFileSync(bundledManifest, 'utf8')) as Record<string, any>;
  change(raw);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of [raw['model'].file, raw['diagnosis'].studyHead.file, raw['qualityControl']?.reference.file].filter(Boolean) as string[]) {
    symlinkSync(join(manifest.directory, file), join(dir, file));
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(raw));
  return join(dir, 'manifest.json');
}


test('the threaded session gives exactly the logits, embeddings and features of session.run on this thread', async () => {
  for (const [count, withFeatures] of [[4, false], [3, true], [1, false]] as const) {
    const input = batchOf(direct, count, 17 + count);
    const expected = await direct.run(input, count, withFeatures);
    const actual = await threaded.run(input.slice(), count, withFeatures, { transfer: true });
    assert.equal(actual.count, count);
    assert.deepEqual(actual.logits, expected.logits, `logits of a batch of ${count}`);
    assert.deepEqual(actual.embedding, expected.embedding, `embeddings of a batch of ${count}`);
    assert.deepEqual(actual.features, expected.features, `features of a batch of ${count}`);
    assert.deepEqual(actual.featureDims, expected.featureDims);
  }
  const width = manifest.diagnosis.studyHead.mean.length;
  const features = Float32Array.from({ length: width }, (_, i) => Math.sin(i));
  assert.deepEqual(await threaded.runStudyHead(features), await direct.runStudyHead(features), 'the study head too');
});

test('a batch given up moves to the thread; one that is not stays with the caller', async () => {
  const kept = batchOf(threaded, 2, 5);
  await threaded.run(kept, 2);
  assert.equal(kept.length, 2 * 160 * 160, 'copied: the caller still holds its batch');
  const given = batchOf(threaded, 2, 5);
  const out = await threaded.run(given, 2, false, { transfer: true });
  assert.equal(given.length, 0, 'transferred: the caller view is detached');
  assert.equal(out.logits.length, 2 * 4 * 160 * 160);
});

test('batches sent together come back in order, each its own', async () => {
  const inputs = [1, 2, 3].map((seed) => batchOf(direct, 2, seed));
  const expected = await Promise.all(inputs.map((input) => direct.run(input, 2)));
  const actual = await Promise.all(inputs.map((input) => threaded.run(input.slice(), 2, false, { transfer: true })));
  actual.forEach((out, i) => assert.deepEqual(out.logits, expected[i]!.logits, `batch ${i}`));
});

test("an onnxruntime error fails that call with onnxruntime's reason, and the thread goes on", async () => {
  // A manifest whose input window does not fit the network: onnxruntime refuses the batch.
  const path = changedManifest('wrong-window', (raw) => {
    raw['input'].shape = [-1, 1, 128, 128];
  });
  const wrong: LoadedManifest = loadManifest(path);
  const runner = await InferenceThread.create(wrong);
  try {
    const input = new Float32Array(2 * 128 * 128);
    await assert.rejects(runner.run(input, 2, false, { transfer: true }), /invalid dimensions|Got: 128/i);
    // The same thread still answers: the study head runs on it.
    const width = wrong.diagnosis.studyHead.mean.length;
    assert.equal((await runner.runStudyHead(new Float32Array(width))).length, wrong.diagnosis.groups.length);
  } finally {
    await runner.release();
  }
});

test('a study whose model refuses its batches fails with the reason, in the service pipeline thread too', async () => {
  const path = changedManifest('wrong-window-study', (raw) => {
    raw['input'].shape = [-1, 1, 128, 128];
  });
  const instances = generateStudy({ seed: 4, slices: 3, phases: 3 }).files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  try {
    await assert.rejects(processStudy(instances, { models, manifestPath: path }), /invalid dimensions|Got: 128/i);
  } finally {
    await models.close();
  }
  const threads = new PipelineThreads({ manifestPath: path }, 1);
  try {
    await assert.rejects(threads.process(instances), /invalid dimensions|Got: 128/i);
    // The pipeline thread lives on: the next study gets the same clear failure, not a hang.
    await assert.rejects(threads.process(instances), /invalid dimensions|Got: 128/i);
  } finally {
    await threads.close();
  }
});

test('an inference thread that dies mid-study fails that study with a reason; the next study starts a new one', async () => {
  const models = new ModelRegistry();
  try {
    const { session } = await models.load(bundledManifest);
    assert.ok(session instanceof InferenceThread, 'the registry runs the model on a thread of its own');
    const instances = generateStudy({ seed: 9, slices: 4, phases: 6 }).files.map((f) => ({ source: f.name, bytes: f.bytes }));
    const expected = await processStudy(instances, { models });
    // The thread ends while the study's third batch is in flight.
    const run = session.run.bind(session);
    let calls = 0;
    session.run = (...args) => {
      const answer = run(...args);
      if (++calls === 3) void session.stop();
      return answer;
    };
    await assert.rejects(processStudy(instances, { models }), /inference thread of model pulse-lite .* stopped .*started again/);
    session.run = run;
    const again = await processStudy(instances, { models });
    assert.deepEqual(again.result.measurements, expected.result.measurements, 'the restarted thread gives the same result');
  } finally {
    await models.close();
  }
});

test('closing the registry ends the thread: a batch in flight fails instead of waiting', async () => {
  const models = new ModelRegistry();
  const { session } = await models.load(bundledManifest);
  const inFlight = assert.rejects(session.run(batchOf(session, 4, 3), 4), /inference thread of model pulse-lite .* was released/);
  await models.close();
  await inFlight;
});
