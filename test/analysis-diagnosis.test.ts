import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyseStudy, diagnose, softmaxWithTemperature } from '../src/analysis/index.js';
import { block, LV, makeContext, makeManifest, makeStudy, MYO, paint, RV, type ImageSpec } from './analysis-fixtures.js';

describe('diagnosis from the study head', () => {
  it('divides logits by the temperature before the softmax', () => {
    const logits = [2, 1, 0];
    const p1 = softmaxWithTemperature(logits, 1);
    const e = [Math.exp(2), Math.exp(1), 1];
    const s = e[0]! + e[1]! + e[2]!;
    p1.forEach((p, i) => assert.ok(Math.abs(p - e[i]! / s) < 1e-12));
    const p2 = softmaxWithTemperature(logits, 2);
    const e2 = [Math.exp(1), Math.exp(0.5), 1];
    const s2 = e2[0]! + e2[1]! + e2[2]!;
    p2.forEach((p, i) => assert.ok(Math.abs(p - e2[i]! / s2) < 1e-12));
    // A higher temperature flattens the distribution; the order is kept.
    assert.ok(p2[0]! < p1[0]! && p2[2]! > p1[2]!);
    assert.ok(Math.abs(p2.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.throws(() => softmaxWithTemperature(logits, 0), /temperature must be positive/);
    // Large logits do not overflow.
    assert.deepEqual(softmaxWithTemperature([1000, 0], 1).map((p) => Math.round(p)), [1, 0]);
  });

  it('names the argmax group and gives probabilities per group name', async () => {
    const sharp = makeManifest([{ name: 'lvef_pct' }], 1);
    const flat = makeManifest([{ name: 'lvef_pct' }], 4);
    const head = async (input: Float32Array, dims: readonly number[]) => {
      assert.deepEqual(dims, [1, input.length]);
      return Float32Array.of(0, 3, 1, 0, 0);
    };
    const a = await diagnose(Float32Array.of(0.5), sharp.diagnosis, head);
    const b = await diagnose(Float32Array.of(0.5), flat.diagnosis, head);
    assert.equal(a.label, 'DCM');
    assert.equal(b.label, 'DCM');
    assert.deepEqual(Object.keys(a.probabilities), ['NOR', 'DCM', 'HCM', 'MINF', 'RV']);
    const expected = Math.exp(3) / (Math.exp(3) + Math.exp(1) + 3);
    assert.equal(a.probabilities.DCM, Math.round(expected * 1000) / 1000);
    assert.ok(b.probabilities.DCM! < a.probabilities.DCM!);
    await assert.rejects(diagnose(Float32Array.of(0.5), sharp.diagnosis, async () => Float32Array.of(1, 2)), /returned 2 logits for 5 diagnosis groups/);
  });
});

describe('analyseStudy', () => {
  it('measures, diagnoses from the standardised features and writes the narrative in one call', async () => {
    const spec: ImageSpec = { rows: 32, columns: 32, pixelSpacing: [1.5, 1.5] };
    const lvCounts = [400, 300, 200, 250, 350];
    const { grid, labelMaps } = makeStudy([0, 10, 20], 5, [spec], (_s, t, labels) => {
      paint(labels, 32, block(lvCounts[t]!, 32, 0), LV);
      paint(labels, 32, block(150, 32, 14), MYO);
      paint(labels, 32, block(300 - t * 20, 32, 20), RV);
    });
    const manifest = makeManifest([{ name: 'lvef_pct' }, { name: 'lvedv_ml' }], 1.5);
    manifest.diagnosis.studyHead.mean = [50, 10];
    manifest.diagnosis.studyHead.std = [10, 5];
    let seen: number[] = [];
    const result = await analyseStudy({
      grid,
      labelMaps,
      manifest,
      context: makeContext({ patientSizeM: 1.8, patientWeightKg: 80 }, 'F'),
      runStudyHead: async (input) => {
        seen = Array.from(input);
        return Float32Array.of(0, 0, 0, 0, 6);
      },
    });
    // LV 400 -> 200 px at 2.25 mm², slabs 10 mm x 3 slices: EDV 27 ml, ESV 13.5 ml, EF 50 %.
    assert.deepEqual(result.phases, { ed: 0, es: 2 });
    assert.equal(result.measurements.lvedv_ml, 27);
    assert.equal(result.measurements.lvef_pct, 50);
    assert.equal(result.measurements.bsa_m2, 2);
    assert.ok(Math.abs(seen[0]! - 0) < 1e-6 && Math.abs(seen[1]! - 3.4) < 1e-5, `standardised input ${seen}`);
    assert.equal(result.diagnosis.label, 'RV');
    assert.ok(result.diagnosis.probabilities.RV! > 0.9);
    assert.match(result.narrative.impression, /consistent with abnormal right ventricle \(RV\)/);
    assert.match(result.narrative.impression, /LV end-diastolic volume below the reference range/);
    assert.ok(result.narrative.text.includes('27.0 ml'));
    // Woman, BSA 2: EDV 27 ml and EF 50 % lie below the women's ranges.
    assert.equal(result.flags.lvedv_ml, 'LOW');
    assert.equal(result.flags.lvef_pct, 'LOW');
    assert.equal(result.referenceRanges.lvedv_ml?.sex, 'F');
    assert.equal(result.referenceRanges.lvedv_ml?.sexNeutralFallback, false);
    assert.deepEqual(result.volumesMl.lv!.map((v) => Math.round(v * 100) / 100), [27, 20.25, 13.5, 16.88, 23.63]);
  });
});
