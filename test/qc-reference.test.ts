/**
 * `pulse qc-reference`'s maths (buildQcReference) on embeddings drawn from known Gaussians: the
 * fitted mean, the cross-fitted thresholds, their margins and what they say about new studies.
 * No model is run: the studies' embeddings and entropies are given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitEmbeddingReference, mahalanobis, quantile, studyOod } from '../src/analysis/ood.js';
import { buildQcReference, type ReferenceStudy } from '../src/pipeline/qc-reference.js';
import { Random } from '../src/synth/random.js';

const MEAN = [1, -2, 0.5, 3, 0, 4];
const SD = [1, 0.5, 2, 1, 0.3, 1.5];

function embeddings(rng: Random, count: number, shift = 0): Float32Array[] {
  return Array.from({ length: count }, () => Float32Array.from(MEAN, (m, i) => m + shift + rng.gaussian(0, SD[i]!)));
}

function trainingStudies(count = 12, imagesPerStudy = 30): ReferenceStudy[] {
  const rng = Random.from('qc-reference-test');
  return Array.from({ length: count }, (_, i) => ({ id: `train-${i}`, embeddings: embeddings(rng, imagesPerStudy), entropy: 0.1 + 0.01 * i }));
}

const model = { name: 'pulse-lite', version: '9.9.9' };

test('the reference records its model and source, and fits the mean and spread of the training embeddings', () => {
  const studies = trainingStudies();
  const reference = buildQcReference(studies, model, 'twelve synthetic studies');
  assert.equal(reference.format, 'pulse-qc-reference');
  assert.equal(reference.version, 1);
  assert.deepEqual(reference.model, model);
  assert.equal(reference.source, 'twelve synthetic studies');
  assert.equal(reference.embedding.dim, MEAN.length);
  reference.embedding.mean.forEach((m, i) => assert.ok(Math.abs(m - MEAN[i]!) < 0.25 * SD[i]!, `mean[${i}] ${m} near ${MEAN[i]}`));
  assert.equal(reference.training['studies'], 12);
  assert.equal(reference.training['images'], 360);
  // Values are rounded to 7 significant digits (a small, stable JSON file).
  for (const v of [...reference.embedding.mean, ...reference.embedding.precision, ...Object.values(reference.thresholds)]) {
    assert.equal(Number(v.toPrecision(7)), v);
  }
});

test('thresholds: image distance at the 99.5th percentile of cross-fitted distances, study scores from the largest training score', () => {
  const studies = trainingStudies();
  const reference = buildQcReference(studies, model, 'test');
  const { thresholds, training } = reference;
  const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
  assert.ok(close(thresholds.imageDistance, training['image_distance_p995']!));
  assert.ok(thresholds.imageDistance > training['image_distance_median']!);
  assert.ok(close(thresholds.studyScoreReview, training['study_score_max']! * 1.5), 'review: 1.5 x the largest training study score');
  assert.ok(close(thresholds.studyScoreFail, training['study_score_max']! * 2.5), 'fail: 2.5 x the largest training study score');
  assert.ok(close(thresholds.entropyReview, 0.21 * 1.25), 'entropy: 1.25 x the largest training entropy');
  assert.equal(thresholds.outlierFractionReview, 0.9);
  assert.ok(thresholds.outlierFractionFail > 1, 'the outlier share alone never fails a study');
  assert.ok(training['outlier_fraction_max']! <= 1);

  // Cross-fitted: each study's distances come from a fit without its fold, so they are not the
  // optimistic in-sample ones.
  const inSample = fitEmbeddingReference(studies.flatMap((s) => s.embeddings));
  const inSampleMedian = quantile(studies.flatMap((s) => s.embeddings.map((e) => mahalanobis(e, inSample))), 0.5);
  assert.ok(training['image_distance_median']! > inSampleMedian, `${training['image_distance_median']} > ${inSampleMedian}`);
});

test('options change the folds and the margins', () => {
  const studies = trainingStudies(8, 20);
  const reference = buildQcReference(studies, model, 'test', { folds: 2, reviewMargin: 2, failFactor: 4 });
  const max = reference.training['study_score_max']!;
  assert.ok(Math.abs(reference.thresholds.studyScoreReview - 2 * max) < 1e-5 * max);
  assert.ok(Math.abs(reference.thresholds.studyScoreFail - 4 * max) < 1e-5 * max);
  assert.notEqual(buildQcReference(studies, model, 'test', { folds: 4 }).training['study_score_max'], max, 'the folds change the cross-fitted scores');
});

test('a new study from the training distribution passes the study thresholds; a shifted one exceeds fail', () => {
  const reference = buildQcReference(trainingStudies(), model, 'test');
  const rng = Random.from('qc-reference-test-new');
  const same = studyOod([embeddings(rng, 30)], reference.embedding, reference.thresholds.imageDistance);
  assert.ok(same.score < reference.thresholds.studyScoreReview, `in distribution: ${same.score} < ${reference.thresholds.studyScoreReview}`);
  assert.ok(same.outlierFraction < reference.thresholds.outlierFractionReview);
  const shifted = studyOod([embeddings(rng, 30, 6)], reference.embedding, reference.thresholds.imageDistance);
  assert.ok(shifted.score > reference.thresholds.studyScoreFail, `shifted: ${shifted.score} > ${reference.thresholds.studyScoreFail}`);
  assert.equal(shifted.outlierFraction, 1);
});
