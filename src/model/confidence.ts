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

let exps = new Float64Array(0);

/**
 * Entropy of one image's logits ([classes, planeSize] from `offset`), over its foreground pixels.
 * `argmax`, when given, is the image's arg-max channel per pixel (postprocess.ts argmaxPlane), so
 * that the logits are read once for it and only the foreground pixels' are read again here.
 */
export function foregroundEntropy(logits: Float32Array, offset: number, classes: number, planeSize: number, argmax?: Uint8Array): SliceConfidence {
  let sum = 0;
  let count = 0;
  const norm = Math.log(classes);
  if (exps.length < classes) exps = new Float64Array(classes);
  for (let i = 0; i < planeSize; i++) {
    let best = 0;
    if (argmax) best = argmax[i]!;
    else {
      let bestValue = logits[offset + i]!;
      for (let k = 1; k < classes; k++) {
        const v = logits[offset + k * planeSize + i]!;
        if (v > bestValue) {
          bestValue = v;
          best = k;
        }
      }
    }
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
