/**
 * Out-of-distribution score of a study: how far its images' embeddings (the model's global token)
 * lie from the training images' embeddings, as a Mahalanobis distance under a Gaussian fitted to
 * the training images with Ledoit-Wolf shrinkage of the covariance (Ledoit & Wolf 2004, J Multivar
 * Anal 88:365; Lee et al. 2018, NeurIPS, for Mahalanobis OOD scores on network features).
 *
 * The reference (mean, precision, thresholds) is computed once per model from its training data
 * (`pulse qc-reference`) and shipped beside the manifest as qc-reference.json.
 */

export interface EmbeddingReference {
  readonly dim: number;
  readonly mean: readonly number[];
  /** Inverse of the shrunk covariance, row-major dim x dim. */
  readonly precision: readonly number[];
  /** Ledoit-Wolf shrinkage intensity used (0 = sample covariance, 1 = scaled identity). */
  readonly shrinkage: number;
}

/** Thresholds chosen on the training data (docs/quality-control.md says how). */
export interface QcThresholds {
  /** Per-image distance above which an image counts as an outlier (99.5th percentile of training images). */
  readonly imageDistance: number;
  /** Study score (median image distance) above which the study is out of distribution: review. */
  readonly studyScoreReview: number;
  /** Study score above which the study is far out of distribution: fail. */
  readonly studyScoreFail: number;
  /** Share of outlier images above which the study is reviewed (garbage in part of the files). */
  readonly outlierFractionReview: number;
  /** Share of outlier images above which the study fails. */
  readonly outlierFractionFail: number;
  /** Mean foreground predictive entropy above which the study is reviewed. */
  readonly entropyReview: number;
}

export interface QcReference {
  readonly format: 'pulse-qc-reference';
  readonly version: 1;
  /**
   * The model it was computed with; `sha256` is that model's network file (model.onnx): embeddings of
   * another network are not comparable, so a reference for other weights is refused at load.
   */
  readonly model: { readonly name: string; readonly version: string; readonly sha256?: string };
  /** What the reference was computed from, in words. */
  readonly source: string;
  readonly embedding: EmbeddingReference;
  readonly thresholds: QcThresholds;
  /** Distribution of the training studies' scores, for the documentation. */
  readonly training: Readonly<Record<string, number>>;
}

/** Fits mean and Ledoit-Wolf-shrunk covariance to the samples; returns the precision matrix. */
export function fitEmbeddingReference(samples: readonly Float32Array[]): EmbeddingReference {
  const n = samples.length;
  if (n < 2) throw new Error('at least two embeddings are needed to fit a reference');
  const p = samples[0]!.length;
  const mean = new Float64Array(p);
  for (const x of samples) for (let i = 0; i < p; i++) mean[i]! += x[i]! / n;
  const centred = samples.map((x) => Float64Array.from(x, (v, i) => v - mean[i]!));
  const S = new Float64Array(p * p);
  for (const x of centred) for (let i = 0; i < p; i++) for (let j = i; j < p; j++) S[i * p + j]! += (x[i]! * x[j]!) / n;
  for (let i = 0; i < p; i++) for (let j = 0; j < i; j++) S[i * p + j] = S[j * p + i]!;
  // Ledoit-Wolf: target m*I with m = tr(S)/p; shrinkage = min(b2, d2) / d2.
  let trace = 0;
  for (let i = 0; i < p; i++) trace += S[i * p + i]!;
  const m = trace / p;
  let d2 = 0;
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) d2 += (S[i * p + j]! - (i === j ? m : 0)) ** 2;
  let b2 = 0;
  for (const x of centred) {
    let s = 0;
    for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) s += (x[i]! * x[j]! - S[i * p + j]!) ** 2;
    b2 += s / (n * n);
  }
  const shrinkage = d2 > 0 ? Math.min(b2, d2) / d2 : 1;
  const sigma = new Float64Array(p * p);
  for (let i = 0; i < p; i++) for (let j = 0; j < p; j++) sigma[i * p + j] = (1 - shrinkage) * S[i * p + j]! + (i === j ? shrinkage * m : 0);
  return { dim: p, mean: Array.from(mean), precision: Array.from(invertSymmetric(sigma, p)), shrinkage };
}

/** Inverse of a symmetric positive-definite matrix through its Cholesky factor. */
function invertSymmetric(a: Float64Array, p: number): Float64Array {
  const L = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * p + j]!;
      for (let k = 0; k < j; k++) s -= L[i * p + k]! * L[j * p + k]!;
      if (i === j) {
        if (s <= 0) throw new Error('covariance is not positive definite');
        L[i * p + i] = Math.sqrt(s);
      } else L[i * p + j] = s / L[j * p + j]!;
    }
  }
  // inv(L) then inv(A) = inv(L)^T inv(L).
  const Li = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    Li[i * p + i] = 1 / L[i * p + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s -= L[i * p + k]! * Li[k * p + j]!;
      Li[i * p + j] = s / L[i * p + i]!;
    }
  }
  const inv = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < p; k++) s += Li[k * p + i]! * Li[k * p + j]!;
      inv[i * p + j] = s;
      inv[j * p + i] = s;
    }
  }
  return inv;
}

/** Mahalanobis distance of one embedding from the reference. */
export function mahalanobis(x: ArrayLike<number>, reference: EmbeddingReference): number {
  const p = reference.dim;
  if (x.length !== p) throw new Error(`embedding has ${x.length} values, the reference ${p}`);
  const d = new Float64Array(p);
  for (let i = 0; i < p; i++) d[i] = x[i]! - reference.mean[i]!;
  let q = 0;
  for (let i = 0; i < p; i++) {
    let row = 0;
    for (let j = 0; j < p; j++) row += reference.precision[i * p + j]! * d[j]!;
    q += d[i]! * row;
  }
  return Math.sqrt(Math.max(0, q));
}

export interface StudyOod {
  /** Median per-image distance: the study's OOD score (result.qc.ood). */
  readonly score: number;
  /** Share of images whose distance exceeds the per-image threshold. */
  readonly outlierFraction: number;
}

export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The study's score from its images' embeddings. */
export function studyOod(embeddings: ReadonlyArray<ReadonlyArray<ArrayLike<number> | undefined>>, reference: EmbeddingReference, imageThreshold: number): StudyOod {
  const distances: number[] = [];
  for (const row of embeddings) for (const e of row) if (e) distances.push(mahalanobis(e, reference));
  return { score: quantile(distances, 0.5), outlierFraction: distances.filter((d) => d > imageThreshold).length / Math.max(1, distances.length) };
}
