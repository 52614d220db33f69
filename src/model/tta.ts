/**
 * Test-time augmentation (TTA) with flips: an exported procedure that wraps the network's inference
 * function. Every model-grid window goes through the network as it is and under a small fixed set
 * of flips/transposes; each output is mapped back onto the window's own pixels, the softmax
 * probabilities are averaged, and the agreement of the transforms' arg-max labels gives a per-pixel
 * confidence. The wrapped function has the same signature as the bare one, so segment-stack.ts runs
 * it unchanged: its logits are log(mean probability), whose softmax is the averaged probability.
 *
 * Pure maths on arrays; the network itself stays behind the `SliceInference` it wraps.
 */
import { IDENTITY, NAMED_TRANSFORMS, sourceIndex, type InPlaneTransform } from '../core/in-plane.js';
import type { ModelInputShape, SliceBatchOutputs } from './session.js';
import type { LogitAdapter } from './segment-stack.js';
import { foregroundEntropy, type ImageUncertainty, type SliceConfidence } from './confidence.js';

import { TTA_TRANSFORMS, type TtaTransformName } from './tta-names.js';

export { TTA_MODES, TTA_TRANSFORMS, type TtaMode, type TtaTransformName } from './tta-names.js';

/** The function TTA wraps: a ModelSession's `run`, bound (segment-stack.ts's SliceInference). */
export type BatchInference = (input: Float32Array, count: number, withFeatures: boolean) => Promise<SliceBatchOutputs>;

/** Each transform as the in-plane transform it is (core/in-plane.ts). */
const IN_PLANE: Record<TtaTransformName, InPlaneTransform> = {
  identity: IDENTITY,
  'flip-columns': NAMED_TRANSFORMS.columns,
  'flip-rows': NAMED_TRANSFORMS.rows,
  transpose: NAMED_TRANSFORMS.transpose,
};

/**
 * `P` with transformed[i] = original[P[i]]: pixel i of the transformed window shows pixel P[i] of
 * the original (in-plane.ts's sourceIndex). A transpose needs a square window, so that the
 * transformed window has the model's shape.
 */
export function transformPermutation(name: TtaTransformName, rows: number, columns: number): Int32Array {
  if (name === 'transpose' && rows !== columns) throw new Error(`test-time transform 'transpose' needs a square model window, not ${rows}x${columns}`);
  return sourceIndex(rows, columns, IN_PLANE[name]);
}

/** transformed[i] = source[from + P[i]] for each plane of `planes` consecutive planes. */
function permutePlanes(source: Float32Array, from: number, planes: number, p: Int32Array, target: Float32Array, to: number): void {
  const n = p.length;
  for (let k = 0; k < planes; k++) {
    const s = from + k * n;
    const t = to + k * n;
    for (let i = 0; i < n; i++) target[t + i] = source[s + p[i]!]!;
  }
}

/** The inverse: original[P[i]] = transformed[i], plane by plane. */
function unpermutePlanes(transformed: Float32Array, from: number, planes: number, p: Int32Array, target: Float32Array, to: number): void {
  const n = p.length;
  for (let k = 0; k < planes; k++) {
    const s = from + k * n;
    const t = to + k * n;
    for (let i = 0; i < n; i++) target[t + p[i]!] = transformed[s + i]!;
  }
}

export interface TtaOptions {
  /** @defaultValue TTA_TRANSFORMS (identity, flip-columns, flip-rows, transpose) */
  readonly transforms?: readonly TtaTransformName[];
  /** Classes of the segmentation output (background + segments). */
  readonly classes: number;
  /** Keep the per-pixel disagreement map of every image in the outputs. @defaultValue false */
  readonly perPixel?: boolean;
  /**
   * A site calibration's logit adapter, applied to every pass's logits with that pass's decoder
   * features, in the frame the network saw, before they are mapped back and averaged: each pass is
   * then the calibrated model on a flipped window. (Applied after the averaging it would mix
   * log-probabilities, which it was not fitted on.)
   */
  readonly adapter?: LogitAdapter;
}

/** Smallest probability written as a logit: log(1e-12) keeps the averaged maps finite. */
const MIN_PROBABILITY = 1e-12;

/**
 * Wraps `infer` with test-time augmentation. The returned function runs `infer` once per transform
 * (the batch as given, so peak memory stays that of one batch), maps each output's logits back,
 * averages the softmax probabilities and returns:
 * - logits: log of the averaged probabilities ([N, K, H, W], arg-max = the averaged prediction);
 * - embedding and features: those of the identity pass (the OOD reference and site calibrations
 *   were fitted on untransformed windows), and the identity pass's foreground entropy per image
 *   (the entropy rule's threshold was fitted on the bare model's; with an adapter, on its calibrated
 *   logits, as segment-stack.ts computes it without TTA);
 * - uncertainty: per image, per class, the pixels any transform labels with the class (union) and
 *   those all transforms label with it (intersection), and, with `perPixel`, the share of transforms
 *   whose arg-max differs from the averaged prediction at every pixel.
 */
export function withTestTimeAugmentation(infer: BatchInference, shape: ModelInputShape, options: TtaOptions): BatchInference {
  const transforms = options.transforms ?? TTA_TRANSFORMS;
  if (transforms[0] !== 'identity') throw new Error("test-time augmentation must run 'identity' first");
  if (new Set(transforms).size !== transforms.length) throw new Error('test-time augmentation repeats a transform');
  const { rows, columns, channels } = shape;
  const plane = rows * columns;
  const classes = options.classes;
  const permutations = transforms.map((t) => transformPermutation(t, rows, columns));
  const count = transforms.length;
  const adapter = options.adapter;

  return async (input, n, withFeatures) => {
    const outPlane = classes * plane;
    const probabilities = new Float32Array(n * outPlane);
    // votes[(b * classes + k) * plane + i]: transforms whose arg-max at pixel i of image b is k.
    const votes = new Uint8Array(n * outPlane);
    const mapped = new Float32Array(n * outPlane);
    const transformed = new Float32Array(n * channels * plane);
    let identity: SliceBatchOutputs | undefined;
    const identityConfidence: SliceConfidence[] = [];
    for (let t = 0; t < count; t++) {
      const p = permutations[t]!;
      const isIdentity = transforms[t] === 'identity';
      if (!isIdentity) for (let b = 0; b < n; b++) permutePlanes(input, b * channels * plane, channels, p, transformed, b * channels * plane);
      const out = await infer(isIdentity ? input : transformed, n, (isIdentity && withFeatures) || adapter !== undefined);
      if (out.logits.length !== n * outPlane) throw new Error(`test-time augmentation: the segmentation output holds ${out.logits.length} values, expected ${n} x ${classes} x ${rows} x ${columns}`);
      if (adapter) {
        if (!out.features || !out.featureDims) throw new Error('test-time augmentation with a calibration adapter: the model returned no decoder features');
        const f = out.featureDims[0] * out.featureDims[1] * out.featureDims[2];
        for (let b = 0; b < n; b++) adapter.apply(out.logits.subarray(b * outPlane, (b + 1) * outPlane), out.features.subarray(b * f, (b + 1) * f), out.featureDims, rows, columns);
      }
      if (isIdentity) {
        identity = out;
        for (let b = 0; b < n; b++) identityConfidence.push(foregroundEntropy(out.logits, b * outPlane, classes, plane));
      }
      const logits = isIdentity ? out.logits : mapped;
      if (!isIdentity) for (let b = 0; b < n; b++) unpermutePlanes(out.logits, b * outPlane, classes, p, mapped, b * outPlane);
      accumulate(logits, n, classes, plane, probabilities, votes);
    }
    const logits = new Float32Array(n * outPlane);
    const uncertainty: ImageUncertainty[] = [];
    for (let b = 0; b < n; b++) uncertainty.push({ ...summariseImage(probabilities, votes, b, classes, plane, count, logits, options.perPixel ?? false), identityConfidence: identityConfidence[b]! });
    const base = identity!;
    return { ...base, logits, uncertainty };
  };
}

/** Adds one transform's softmax probabilities and arg-max votes (logits already mapped back). */
function accumulate(logits: Float32Array, n: number, classes: number, plane: number, probabilities: Float32Array, votes: Uint8Array): void {
  const e = new Float64Array(classes);
  for (let b = 0; b < n; b++) {
    const offset = b * classes * plane;
    for (let i = 0; i < plane; i++) {
      let max = -Infinity;
      let best = 0;
      for (let k = 0; k < classes; k++) {
        const v = logits[offset + k * plane + i]!;
        if (v > max) ((max = v), (best = k));
      }
      let z = 0;
      for (let k = 0; k < classes; k++) z += e[k] = Math.exp(logits[offset + k * plane + i]! - max);
      for (let k = 0; k < classes; k++) probabilities[offset + k * plane + i]! += e[k]! / z;
      votes[offset + best * plane + i]!++;
    }
  }
}

/** One image: averaged log-probabilities into `logits`, union/intersection per class, disagreement map. */
function summariseImage(probabilities: Float32Array, votes: Uint8Array, b: number, classes: number, plane: number, transforms: number, logits: Float32Array, perPixel: boolean): Omit<ImageUncertainty, 'identityConfidence'> {
  const offset = b * classes * plane;
  const union = new Array<number>(classes).fill(0);
  const intersection = new Array<number>(classes).fill(0);
  const disagreement = perPixel ? new Float32Array(plane) : undefined;
  let disagreeing = 0;
  for (let i = 0; i < plane; i++) {
    let best = 0;
    let bestP = -1;
    for (let k = 0; k < classes; k++) {
      const p = probabilities[offset + k * plane + i]! / transforms;
      logits[offset + k * plane + i] = Math.log(Math.max(p, MIN_PROBABILITY));
      if (p > bestP) ((bestP = p), (best = k));
      const v = votes[offset + k * plane + i]!;
      if (v > 0) union[k]!++;
      if (v === transforms) intersection[k]!++;
    }
    const against = transforms - votes[offset + best * plane + i]!;
    if (against > 0) disagreeing++;
    if (disagreement) disagreement[i] = against / transforms;
  }
  return { transforms, union, intersection, disagreeingPixels: disagreeing, ...(disagreement ? { disagreement } : {}) };
}

/**
 * Per-pixel normalised entropy (0 certain, 1 uniform) of image `b`'s probabilities from logits
 * ([N, K, H, W]); on the output of `withTestTimeAugmentation`, the entropy of the averaged
 * probabilities, the per-pixel confidence that complements the disagreement map.
 */
export function pixelEntropy(logits: Float32Array, b: number, classes: number, plane: number): Float32Array {
  const out = new Float32Array(plane);
  const offset = b * classes * plane;
  const norm = Math.log(classes);
  for (let i = 0; i < plane; i++) {
    let max = -Infinity;
    for (let k = 0; k < classes; k++) max = Math.max(max, logits[offset + k * plane + i]!);
    let z = 0;
    for (let k = 0; k < classes; k++) z += Math.exp(logits[offset + k * plane + i]! - max);
    let h = 0;
    for (let k = 0; k < classes; k++) {
      const p = Math.exp(logits[offset + k * plane + i]! - max) / z;
      if (p > 0) h -= p * Math.log(p);
    }
    out[i] = h / norm;
  }
  return out;
}
