/**
 * Quality control of the stack's coverage and of image noise (issue 14 item 4; docs/quality-control.md,
 * "Coverage of the heart" and "Image noise"): a stack that stops with the heart cut at the apex or at
 * the base, or whose images are as noisy as the robustness table's Rician 8 %, asks for review; the
 * complete, clean stack does not. On the synthetic generator's own label maps (the rule reads the
 * segmentation, so its truth isolates the rule), on ACDC's expert labels where the data are here, and
 * once through the real model.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { assessQuality, COVERAGE_LIMITS, NOISE_REVIEW_ABOVE, qcSummary, stackCoverage, type QualityControlInput } from '../src/analysis/quality-control.js';
import { qcInputOf, synthInput } from './support/qc-input.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { partialCoverageStack } from '../src/pipeline/perturb.js';
import { loadModel, runStudy } from '../src/pipeline/steps.js';
import { ModelRegistry } from '../src/model/registry.js';
import { generateStudy, type SynthOptions } from '../src/synth/index.js';
import { seededRandom } from '../src/util/seeded-random.js';
import { bundledManifest, sharedData } from './support/paths.js';

const codes = (input: QualityControlInput) => assessQuality(input).details.map((d) => d.code);

test('a synthetic stack without its apical third is reviewed, naming the apical end and the section it stops on; the complete stack is not', () => {
  for (const [seed, group] of [[78000, 'NOR'], [78001, 'DCM'], [78004, 'RV']] as const) {
    const full = synthInput({ seed, group, phases: 2 });
    assert.ok(!codes(full).some((c) => c.endsWith('_not_covered')), `seed ${seed} complete: ${assessQuality(full).reasons.join('; ')}`);
    const cut = assessQuality(synthInput({ seed, group, phases: 2, coverage: 'no-apex' }));
    const reason = cut.details.find((d) => d.code === 'apex_not_covered');
    assert.ok(reason, `seed ${seed} without apex: ${cut.reasons.join('; ')}`);
    assert.equal(reason.severity, 'review');
    assert.equal(cut.status, 'review');
    assert.match(reason.text, /cut at the apical end of the stack: the (first|last) slice of the stack \(\d+ of \d+\) still holds an LV section .* \d+ % of the largest .*limit 50 %/);
    assert.ok(cut.metrics.apex_end_ratio! >= COVERAGE_LIMITS.apexEndRatio);
    // The SR and the narrative get the sentence without numbers.
    assert.doesNotMatch(qcSummary(cut), /\d/);
    assert.match(qcSummary(cut), /does not reach the apex/);
  }
});

test('the apex is found at either end of the stack (slice order follows the geometry, not the anatomy)', () => {
  const base = [40, 45, 42, 36, 28, 20, 10, 0];
  const profile = (areas: number[]) => ({ lv: areas.map((a) => a * 30), myo: areas.map((a) => a * 20), rv: areas.map((a) => a * 25) });
  const down = stackCoverage(profile(base), 10)!;
  const up = stackCoverage(profile([...base].reverse()), 10)!;
  assert.equal(down.apexAt, 'last');
  assert.equal(up.apexAt, 'first');
  assert.equal(down.apexEndRatio, 0);
  assert.equal(up.apexEndRatio, 0);
  // Cut after the sixth slice: the apical end holds 20/45 of the largest section, then 28/45.
  assert.ok(Math.abs(stackCoverage(profile(base.slice(0, 6)), 10)!.apexEndRatio - 20 / 45) < 1e-12);
  assert.ok(Math.abs(stackCoverage(profile(base.slice(0, 5).reverse()), 10)!.apexEndRatio - 28 / 45) < 1e-12);
  assert.equal(stackCoverage({ lv: [0, 0], myo: [0, 0], rv: [5, 5] }, 10), undefined, 'no LV: nothing to judge');
});

const acdc = join(sharedData, 'acdc', 'training', 'patient011');
test('an ACDC patient without the basal third of the heart is reviewed for the base; the stack as acquired is not', { skip: existsSync(acdc) ? false : 'no ACDC data' }, async () => {
  const input = async (transform?: Parameters<typeof importAcdcPatient>[1]) => {
    const p = await importAcdcPatient(acdc, transform ?? {});
    const ed = new Set(p.info.instances.filter((i) => i.phase === p.info.edPhase).map((i) => i.sopInstanceUID as string));
    return qcInputOf(p.files, (sop) => p.labels.get(sop as Parameters<typeof p.labels.get>[0]), ed, { lv: p.info.labelValues.lv!, myo: p.info.labelValues.myo!, rv: p.info.labelValues.rv! });
  };
  const clean = assessQuality(await input());
  assert.ok(!clean.details.some((d) => d.code.endsWith('_not_covered')), clean.reasons.join('; '));
  const noBase = assessQuality(await input({ transform: (stack) => partialCoverageStack(stack, 'base') }));
  const reason = noBase.details.find((d) => d.code === 'base_not_covered');
  assert.ok(reason, noBase.reasons.join('; '));
  assert.match(reason.text, /cut at the basal end of the stack: the slices with LV span \d+ mm, 0\.\d\d x the largest LV section's diameter \(\d+ mm; limit 0\.80\), and the (first|last) slice of the stack \(\d+ of \d+\) holds \d+ % of the largest section/);
  const noApex = assessQuality(await input({ transform: (stack) => partialCoverageStack(stack, 'apex') }));
  assert.ok(noApex.details.some((d) => d.code === 'apex_not_covered'), noApex.reasons.join('; '));
});

test('Rician noise of 8 % of the 99th percentile asks for review (noisy images); the same clean study does not', () => {
  const options = { seed: 78002, group: 'HCM', phases: 2 } as const;
  const clean = assessQuality(synthInput(options));
  assert.ok(!clean.details.some((d) => d.code === 'noisy_images'), clean.reasons.join('; '));
  assert.ok(clean.metrics.noise_rel! < NOISE_REVIEW_ABOVE, `clean noise ${clean.metrics.noise_rel}`);
  // Rician: the magnitude of the signal plus Gaussian noise in both channels (pipeline/perturb.ts).
  const random = seededRandom(14);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const p99 = (pixels: ArrayLike<number>) => [...Array.from(pixels)].sort((a, b) => a - b)[Math.floor(0.99 * (pixels.length - 1))]!;
  const noisy = assessQuality(
    synthInput(options, (image) => {
      const sigma = 0.08 * p99(image.pixels);
      return Float32Array.from(image.pixels, (v) => Math.hypot(v + sigma * gaussian(), sigma * gaussian()));
    }),
  );
  const reason = noisy.details.find((d) => d.code === 'noisy_images');
  assert.ok(reason, noisy.reasons.join('; '));
  assert.equal(reason.severity, 'review');
  assert.match(reason.text, /noise about \d+\.\d % of the blood-pool signal at ED \(above 6\.5 %\)/);
  assert.doesNotMatch(qcSummary(noisy), /\d/);
});

const models = new ModelRegistry();
after(() => models.close());
test('through the model: a synthetic study without its apex is reviewed for coverage, the complete one is not', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async () => {
  const model = await loadModel(models);
  const run = (coverage: SynthOptions['coverage']) => runStudy(generateStudy({ seed: 78004, group: 'RV', phases: 4, coverage }).files.map((f) => ({ source: f.name, bytes: f.bytes })), model);
  const full = await run('full');
  assert.ok(!full.qc.details.some((d) => d.code.endsWith('_not_covered') || d.code === 'noisy_images'), full.qc.reasons.join('; '));
  const cut = await run('no-apex');
  assert.ok(cut.qc.details.some((d) => d.code === 'apex_not_covered'), cut.qc.reasons.join('; '));
});

test('every reason has its number-free sentence for the SR: slices out of anatomical order (the apical slice moved into the middle)', () => {
  const input = synthInput({ seed: 78000, group: 'NOR', phases: 2 });
  const maps = [...input.labelMaps];
  const middle = Math.floor(maps.length / 2);
  const lvArea = (row: (typeof maps)[number]) => row[input.phases.ed]!.labels.filter((v) => v === input.labelValues.lv).length;
  // The last slice with LV (the apex) between two mid-ventricular ones.
  const areas = maps.map(lvArea);
  const apex = areas.length - 1 - [...areas].reverse().findIndex((a) => a > 0);
  const [moved] = maps.splice(apex, 1);
  maps.splice(middle, 0, moved!);
  const qc = assessQuality({ ...input, labelMaps: maps });
  assert.ok(qc.details.some((d) => d.code === 'slices_out_of_order'), qc.reasons.join('; '));
  for (const d of qc.details) assert.doesNotMatch(d.summary, /_/, `${d.code} has no sentence of its own`);
  assert.match(qcSummary(qc), /do not follow the heart from base to apex/);
});
