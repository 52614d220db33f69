/**
 * Test-time flips through the real pipeline and model (issue 14): with TTA off the result is the
 * one the pipeline gave before (no qc.uncertainty, the same label maps); with flips it carries the
 * per-structure disagreement, and the label maps come from the averaged probabilities.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { generateStudy } from '../src/synth/index.js';
import { ModelRegistry } from '../src/model/registry.js';
import { buildResult, loadModel, runStudy } from '../src/pipeline/steps.js';
import { bundledManifest } from './support/paths.js';

const models = new ModelRegistry();
after(() => models.close());
const skip = existsSync(bundledManifest) ? false : 'the bundled model is missing';

test('TTA off changes nothing; flips add qc.uncertainty per structure and keep the identity embedding', { skip }, async () => {
  const study = generateStudy({ seed: 14, group: 'NOR', slices: 5, phases: 4 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const model = await loadModel(models);
  const plain = await runStudy(instances, model);
  const off = await runStudy(instances, model, { tta: 'none' });
  const flips = await runStudy(instances, model, { tta: 'flips' });

  assert.equal(plain.segmentation.uncertainty, undefined);
  assert.equal(off.qc.uncertainty, undefined);
  off.segmentation.labelMaps.forEach((row, s) => row.forEach((m, p) => assert.deepEqual(m.labels, plain.segmentation.labelMaps[s]![p]!.labels, `slice ${s} phase ${p}`)));
  assert.deepEqual(off.analysis.measurements, plain.analysis.measurements);
  const offResult = buildResult(off.study, off.analysis, off.qc, model, off.timer, null);
  assert.equal(offResult.qc?.uncertainty, undefined, 'result.json has no uncertainty when TTA is off');

  const u = flips.qc.uncertainty!;
  assert.equal(u.method, 'test-time-flips');
  assert.equal(u.transforms, 4);
  assert.deepEqual(Object.keys(u.disagreement).sort(), ['lv', 'myo', 'rv']);
  for (const [key, v] of Object.entries(u.disagreement)) assert.ok(v !== null && v >= 0 && v < 1, `${key}: ${v}`);
  const result = buildResult(flips.study, flips.analysis, flips.qc, model, flips.timer, null);
  assert.deepEqual(result.qc?.uncertainty, u);
  // The OOD score reads the identity pass's embeddings: the same with and without flips.
  assert.equal(flips.qc.ood, plain.qc.ood);
  // The entropy rule reads the identity pass: the same study entropy as without TTA.
  assert.ok(Math.abs(flips.qc.metrics.entropy! - plain.qc.metrics.entropy!) < 1e-9, `${flips.qc.metrics.entropy} vs ${plain.qc.metrics.entropy}`);
  // A calibration's logit adapter runs inside TTA, once per pass and image (never again on the
  // averaged log-probabilities): one that changes nothing leaves the flips' labels as they were, one
  // that favours the LV cavity everywhere turns the whole window into it.
  let calls = 0;
  const neutral = await runStudy(instances, model, { tta: 'flips', adapter: { apply: () => void calls++ } });
  assert.equal(calls, 4 * 5 * 4, '4 passes x 5 slices x 4 phases');
  neutral.segmentation.labelMaps.forEach((row, s) => row.forEach((m, p) => assert.deepEqual(m.labels, flips.segmentation.labelMaps[s]![p]!.labels, `slice ${s} phase ${p}`)));
  const lvEverywhere = {
    apply(logits: Float32Array, _f: Float32Array, _d: readonly [number, number, number], rows: number, columns: number) {
      for (let i = 0; i < rows * columns; i++) logits[3 * rows * columns + i]! += 1000;
    },
  };
  const forced = await runStudy(instances, model, { tta: 'flips', adapter: lvEverywhere, locate: false });
  const labels = forced.segmentation.labelMaps[0]![0]!.labels;
  const lvValue = model.manifest.segments.find((s) => s.key === 'lv')!.labelValue;
  assert.ok(labels.filter((v) => v === lvValue).length > labels.length / 4, 'the adapter decided the labels');
  // The averaged segmentation stays close to the bare one on a study the model segments well.
  const ed = flips.analysis.phases.ed;
  let same = 0;
  let total = 0;
  flips.segmentation.labelMaps.forEach((row, s) => {
    const a = row[ed]!.labels;
    const b = plain.segmentation.labelMaps[s]![ed]!.labels;
    for (let i = 0; i < a.length; i++) if (a[i] !== 0 || b[i] !== 0) ((total += 1), (same += a[i] === b[i] ? 1 : 0));
  });
  assert.ok(same / total > 0.85, `agreement with the bare model on foreground pixels ${same / total}`);
});
