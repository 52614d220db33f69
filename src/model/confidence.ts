/**
 * Model confidence from the segmentation logits: the predictive entropy of the softmax at every
 * model-grid pixel the model calls foreground, normalised by log(classes) so that 0 is certain and
 * 1 is uniform. Quality control averages it over a study (docs/quality-control.md).
 */
import { argmaxPlane } from './postprocess.js';

export interface SliceConfidence {
  /** Pixels (model grid) whose arg-max is not background. */
  readonly foregroundPixels: number;
  /** Mean normalised entropy over those pixels (0 when there are none). */
  readonly meanEntropy: number;
}

let exps = new Float64Array(0);
let argmaxScratch = new Uint8Array(0);

/**
 * Entropy of one image's logits ([classes, planeSize] from `offset`), over its foreground pixels.
 * `argmax`, when given, is the image's arg-max channel per pixel (postprocess.ts argmaxPlane), so
 * that the logits are read once for it and only the foreground pixels' are read again here; without
 * it, argmaxPlane computes it (one arg-max for the whole pipeline, ties to the lower channel).
 */
export function foregroundEntropy(logits: Float32Array, offset: number, classes: number, planeSize: number, argmax?: Uint8Array): SliceConfidence {
  let sum = 0;
  let count = 0;
  const norm = Math.log(classes);
  if (exps.length < classes) exps = new Float64Array(classes);
  let labels = argmax;
  if (labels === undefined) {
    if (argmaxScratch.length < planeSize) argmaxScratch = new Uint8Array(planeSize);
    labels = argmaxPlane(logits, offset, classes, planeSize, argmaxScratch);
  }
  for (let i = 0; i < planeSize; i++) {
    const best = labels[i]!;
    if (best === 0) continue;
    const max = logits[offset + best * planeSize + i]!;
    // Each exponential once (it was computed twice: for the sum, then for each p): same values.
    let z = 0;
    for (let k = 0; k < classes; k++) {
      const e = Math.exp(logits[offset + k * planeSize + i]! - max);
      exps[k] = e;
      z += e;
    }
    let h = 0;
    for (let k = 0; k < classes; k++) {
      const p = exps[k]! / z;
      if (p > 0) h -= p * Math.log(p);
    }
    sum += h / norm;
    count++;
  }
  return { foregroundPixels: count, meanEntropy: count > 0 ? sum / count : 0 };
}

/**
 * One image's agreement across test-time transforms (tta.ts), on the model grid. Per class k
 * (channel order, background first): `union[k]` pixels that any transform labels k,
 * `intersection[k]` pixels that every transform labels k. 1 - intersection / union is the share of
 * the structure's pixels on which the transforms disagree: it lies on the structure's boundary band
 * and grows where the model is unsure where the boundary is.
 */
export interface ImageUncertainty {
  /** Transforms run (identity included). */
  readonly transforms: number;
  readonly union: readonly number[];
  readonly intersection: readonly number[];
  /** Pixels where at least one transform's arg-max differs from the averaged prediction. */
  readonly disagreeingPixels: number;
  /**
   * Foreground entropy of the identity pass alone (the bare model's logits): what the entropy rule's
   * threshold was fitted on, so quality control reads it whether or not TTA ran.
   */
  readonly identityConfidence: SliceConfidence;
  /** Per pixel: share of transforms whose arg-max differs from the averaged prediction (when asked for). */
  readonly disagreement?: Float32Array;
}

/** A study's disagreement per structure: 1 - Σ intersection / Σ union over its images (null: structure never seen). */
export function studyDisagreement(images: ReadonlyArray<ReadonlyArray<ImageUncertainty | undefined>>, channels: ReadonlyArray<{ readonly key: string; readonly channel: number }>): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const { key, channel } of channels) {
    let union = 0;
    let intersection = 0;
    for (const row of images) for (const u of row) if (u) ((union += u.union[channel] ?? 0), (intersection += u.intersection[channel] ?? 0));
    out[key] = union > 0 ? 1 - intersection / union : null;
  }
  return out;
}
