/**
 * Model confidence from the segmentation logits: the predictive entropy of the softmax at every
 * model-grid pixel the model calls foreground, normalised by log(classes) so that 0 is certain and
 * 1 is uniform. Quality control averages it over a study (docs/quality-control.md).
 */

export interface SliceConfidence {
  /** Pixels (model grid) whose arg-max is not background. */
  readonly foregroundPixels: number;
  /** Mean normalised entropy over those pixels (0 when there are none). */
  readonly meanEntropy: number;
}

/** Entropy of one image's logits ([classes, planeSize] from `offset`), over its foreground pixels. */
export function foregroundEntropy(logits: Float32Array, offset: number, classes: number, planeSize: number): SliceConfidence {
  let sum = 0;
  let count = 0;
  const norm = Math.log(classes);
  for (let i = 0; i < planeSize; i++) {
    let max = logits[offset + i]!;
    let best = 0;
    for (let k = 1; k < classes; k++) {
      const v = logits[offset + k * planeSize + i]!;
      if (v > max) {
        max = v;
        best = k;
      }
    }
    if (best === 0) continue;
    let z = 0;
    for (let k = 0; k < classes; k++) z += Math.exp(logits[offset + k * planeSize + i]! - max);
    let h = 0;
    for (let k = 0; k < classes; k++) {
      const p = Math.exp(logits[offset + k * planeSize + i]! - max) / z;
      if (p > 0) h -= p * Math.log(p);
    }
    sum += h / norm;
    count++;
  }
  return { foregroundPixels: count, meanEntropy: count > 0 ? sum / count : 0 };
}
