/**
 * Computes a model's quality-control reference from its training studies: the Gaussian of the
 * image embeddings (Ledoit-Wolf shrunk) and the thresholds, chosen on the training data with
 * patient-level cross-fitting (each patient's distances come from a reference fitted without its
 * fold), so that they are not the optimistic in-sample distances. docs/quality-control.md.
 */
import { fitEmbeddingReference, mahalanobis, quantile, type QcReference } from '../analysis/ood.js';
import type { EvalCase } from './evaluate.js';
import { runStudy, type LoadedModel } from './steps.js';

/** What one training study contributes. */
export interface ReferenceStudy {
  readonly id: string;
  readonly embeddings: Float32Array[];
  /** Mean foreground entropy of the study (pixel-weighted). */
  readonly entropy: number;
}

/** Runs one labelled case (as `pulse eval` does) and keeps what the reference needs. */
export async function referenceStudy(c: EvalCase, model: LoadedModel): Promise<ReferenceStudy> {
  const run = await runStudy(c.instances, model, c.seriesRules ? { seriesRules: c.seriesRules } : {});
  let sum = 0;
  let count = 0;
  for (const row of run.segmentation.confidence) for (const x of row) ((sum += x.meanEntropy * x.foregroundPixels), (count += x.foregroundPixels));
  return { id: c.id, embeddings: run.segmentation.embeddings.flat(), entropy: count > 0 ? sum / count : 0 };
}

export interface ReferenceOptions {
  /** Patient-level folds for cross-fitting. @defaultValue 4 */
  readonly folds?: number;
  /**
   * Study-score margin over the largest cross-fitted training score for `review`. 1.5: the
   * synthetic cine-mri domain, which the model segments well (EVAL.md), scores up to about 1.4 x the
   * training maximum; a shifted vendor domain scores more. @defaultValue 1.5
   */
  readonly reviewMargin?: number;
  /** `fail` study score as a multiple of the largest training score. @defaultValue 2.5 */
  readonly failFactor?: number;
}

export function buildQcReference(studies: readonly ReferenceStudy[], model: { name: string; version: string; sha256?: string }, source: string, options: ReferenceOptions = {}): QcReference {
  const folds = options.folds ?? 4;
  const imageDistances: number[][] = studies.map(() => []);
  for (let f = 0; f < folds; f++) {
    const fit = fitEmbeddingReference(studies.filter((_, i) => i % folds !== f).flatMap((s) => s.embeddings));
    studies.forEach((s, i) => {
      if (i % folds === f) imageDistances[i] = s.embeddings.map((e) => mahalanobis(e, fit));
    });
  }
  const allImages = imageDistances.flat();
  const imageDistance = quantile(allImages, 0.995);
  const scores = imageDistances.map((d) => quantile(d, 0.5));
  const outlierFractions = imageDistances.map((d) => d.filter((x) => x > imageDistance).length / Math.max(1, d.length));
  const entropies = studies.map((s) => s.entropy);
  const studyScoreReview = Math.max(...scores) * (options.reviewMargin ?? 1.5);
  const reference = fitEmbeddingReference(studies.flatMap((s) => s.embeddings));
  const round = (v: number): number => Number(v.toPrecision(7));
  return {
    format: 'pulse-qc-reference',
    version: 1,
    model: { name: model.name, version: model.version, ...(model.sha256 ? { sha256: model.sha256 } : {}) },
    source,
    embedding: { dim: reference.dim, mean: reference.mean.map(round), precision: reference.precision.map(round), shrinkage: round(reference.shrinkage) },
    thresholds: {
      imageDistance: round(imageDistance),
      studyScoreReview: round(studyScoreReview),
      studyScoreFail: round(Math.max(...scores) * (options.failFactor ?? 2.5)),
      // The share of outlier images moves with any domain shift (a well-segmented synthetic study
      // has half its images above the training 99.5th percentile): only a study of which nearly
      // every image is foreign is reviewed on this ground; failing is left to the study score.
      outlierFractionReview: 0.9,
      outlierFractionFail: 1.01,
      // 1.25 x the training maximum: a well-segmented synthetic study reaches 1.04 x (EVAL.md).
      entropyReview: round(Math.max(...entropies) * 1.25),
    },
    training: {
      studies: studies.length,
      images: allImages.length,
      image_distance_median: round(quantile(allImages, 0.5)),
      image_distance_p995: round(imageDistance),
      study_score_median: round(quantile(scores, 0.5)),
      study_score_max: round(Math.max(...scores)),
      outlier_fraction_max: round(Math.max(...outlierFractions)),
      entropy_median: round(quantile(entropies, 0.5)),
      entropy_max: round(Math.max(...entropies)),
    },
  };
}
