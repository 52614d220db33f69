/**
 * The segmentation adapter of a site calibration: a class-balanced multinomial logistic regression
 * on what the frozen model exports for every model-grid pixel, its decoder features (bilinear from
 * half resolution) and its own logits:
 *
 *     z'(x) = W_f · standardise(features(x)) + W_z · z(x) + b
 *
 * Initialised at W_f = 0, W_z = I, b = 0 (exactly the bare model) and regularised towards that start,
 * so the fitted head is the original head blended with a correction the annotations support. Because
 * the head is linear, W_f · upsample(features) = upsample(W_f · features): at inference the correction
 * is computed on the feature grid and interpolated, which costs a few multiply-adds per pixel.
 *
 * Pure: arrays in, arrays out. The training loop is full-batch Adam on the weighted cross-entropy
 * (deterministic: no sampling inside).
 */
import type { LogitAdapter } from '../model/segment-stack.js';

/** The parameters as stored in a calibration profile (plain numbers: JSON). */
export interface LinearHeadParameters {
  readonly kind: 'linear-logit-head';
  /**
   * Feature inputs F and logit channels K the head was fitted for. With `context` > 0 the inputs are
   * the decoder's channels followed by the same channels box-averaged over (2·context + 1)² feature
   * pixels (what surrounds the pixel: a cavity next to a wall), so F is twice the decoder's channels.
   */
  readonly features: number;
  /** Box radius (feature pixels) of the context channels; 0 or absent: none. */
  readonly context?: number;
  readonly classes: number;
  /** Per-feature mean and standard deviation used to standardise features (length F). */
  readonly featureMean: readonly number[];
  readonly featureStd: readonly number[];
  /** K rows of (F + K + 1) weights: feature part, logit part, bias. */
  readonly weights: readonly (readonly number[])[];
}

/** Training pixels: row-major [N, F] features, [N, K] bare logits, labels as channel indices 0..K-1. */
export interface HeadSamples {
  readonly count: number;
  readonly features: Float32Array;
  readonly logits: Float32Array;
  readonly labels: Uint8Array;
}

export interface FitHeadOptions {
  /** L2 pull towards the bare model (per sample, on standardised inputs). @defaultValue 1e-3 */
  readonly l2?: number;
  /** Adam iterations. @defaultValue 150 */
  readonly iterations?: number;
  /** Adam step size. @defaultValue 0.05 */
  readonly learningRate?: number;
  /**
   * Class weights: 'balanced' weighs each class by 1 / its frequency among the samples (normalised to
   * mean 1); 'none' keeps the samples' own balance, which the sampling already sets (trainingSamples:
   * every structure pixel, background at a fixed ratio). Measured on vendor-shifted-mri (K = 5, leave
   * one out): 'none' with background 3:1 keeps the myocardium, 'balanced' over-grows it. @defaultValue 'none'
   */
  readonly classWeights?: 'balanced' | 'none';
}

/** The bare model as a head: W_z = I, everything else 0. */
export function identityHead(features: number, classes: number, featureMean?: readonly number[], featureStd?: readonly number[]): LinearHeadParameters {
  const width = features + classes + 1;
  const weights = Array.from({ length: classes }, (_, k) => {
    const row = new Array<number>(width).fill(0);
    row[features + k] = 1;
    return row;
  });
  return {
    kind: 'linear-logit-head',
    features,
    classes,
    featureMean: featureMean ?? new Array<number>(features).fill(0),
    featureStd: featureStd ?? new Array<number>(features).fill(1),
    weights,
  };
}

function checkSamples(samples: HeadSamples, features: number, classes: number): void {
  if (samples.count < 1) throw new RangeError('the head needs at least one annotated pixel to fit');
  if (samples.features.length !== samples.count * features) throw new RangeError(`samples.features holds ${samples.features.length} values, expected ${samples.count} x ${features}`);
  if (samples.logits.length !== samples.count * classes) throw new RangeError(`samples.logits holds ${samples.logits.length} values, expected ${samples.count} x ${classes}`);
  if (samples.labels.length !== samples.count) throw new RangeError(`samples.labels holds ${samples.labels.length} values, expected ${samples.count}`);
  for (let i = 0; i < samples.count; i++) if (samples.labels[i]! >= classes) throw new RangeError(`samples.labels[${i}] = ${samples.labels[i]} is not a channel 0..${classes - 1}`);
}

/** Fits the head on annotated pixels. */
export function fitLinearHead(samples: HeadSamples, features: number, classes: number, options: FitHeadOptions = {}): LinearHeadParameters {
  checkSamples(samples, features, classes);
  const n = samples.count;
  const l2 = options.l2 ?? 1e-3;
  const iterations = options.iterations ?? 150;
  const rate = options.learningRate ?? 0.05;
  const width = features + classes + 1;

  // Standardisation of the features (the logits keep their scale: W_z = I must mean "bare model").
  const mean = new Float64Array(features);
  const sq = new Float64Array(features);
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < features; f++) {
      const v = samples.features[i * features + f]!;
      mean[f]! += v;
      sq[f]! += v * v;
    }
  }
  const std = new Float64Array(features);
  for (let f = 0; f < features; f++) {
    mean[f] = mean[f]! / n;
    std[f] = Math.sqrt(Math.max(sq[f]! / n - mean[f]! * mean[f]!, 0)) || 1;
  }
  const x = new Float32Array(n * width);
  for (let i = 0; i < n; i++) {
    const row = i * width;
    for (let f = 0; f < features; f++) x[row + f] = (samples.features[i * features + f]! - mean[f]!) / std[f]!;
    for (let k = 0; k < classes; k++) x[row + features + k] = samples.logits[i * classes + k]!;
    x[row + width - 1] = 1;
  }

  // Class weights, normalised so that the average sample weight is 1.
  const counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) counts[samples.labels[i]!]! += 1;
  const present = [...counts].filter((c) => c > 0).length;
  const classWeight = new Float64Array(classes);
  for (let k = 0; k < classes; k++) classWeight[k] = options.classWeights !== 'balanced' ? 1 : counts[k]! > 0 ? n / (present * counts[k]!) : 0;

  const start = identityHead(features, classes).weights;
  const w = new Float64Array(classes * width);
  const w0 = new Float64Array(classes * width);
  for (let k = 0; k < classes; k++) for (let j = 0; j < width; j++) w[k * width + j] = w0[k * width + j] = start[k]![j]!;
  const m = new Float64Array(w.length);
  const v = new Float64Array(w.length);
  const grad = new Float64Array(w.length);
  const z = new Float64Array(classes);
  const beta1 = 0.9;
  const beta2 = 0.999;
  for (let it = 1; it <= iterations; it++) {
    grad.fill(0);
    for (let i = 0; i < n; i++) {
      const row = i * width;
      let max = -Infinity;
      for (let k = 0; k < classes; k++) {
        let s = 0;
        const wk = k * width;
        for (let j = 0; j < width; j++) s += w[wk + j]! * x[row + j]!;
        z[k] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let k = 0; k < classes; k++) {
        z[k] = Math.exp(z[k]! - max);
        sum += z[k]!;
      }
      const label = samples.labels[i]!;
      const weight = classWeight[label]! / n;
      for (let k = 0; k < classes; k++) {
        const d = weight * (z[k]! / sum - (k === label ? 1 : 0));
        if (d === 0) continue;
        const wk = k * width;
        for (let j = 0; j < width; j++) grad[wk + j]! += d * x[row + j]!;
      }
    }
    const c1 = 1 - beta1 ** it;
    const c2 = 1 - beta2 ** it;
    for (let q = 0; q < w.length; q++) {
      const g = grad[q]! + l2 * (w[q]! - w0[q]!);
      m[q] = beta1 * m[q]! + (1 - beta1) * g;
      v[q] = beta2 * v[q]! + (1 - beta2) * g * g;
      w[q]! -= (rate * (m[q]! / c1)) / (Math.sqrt(v[q]! / c2) + 1e-8);
    }
  }
  return {
    kind: 'linear-logit-head',
    features,
    classes,
    featureMean: [...mean],
    featureStd: [...std],
    weights: Array.from({ length: classes }, (_, k) => [...w.subarray(k * width, (k + 1) * width)]),
  };
}

/** Checks stored parameters (a profile read from disk) before they touch a study. */
export function checkHeadParameters(head: LinearHeadParameters, features: number, classes: number, where: string): LinearHeadParameters {
  if (head.kind !== 'linear-logit-head') throw new Error(`${where}: head kind '${String(head.kind)}' is not 'linear-logit-head'`);
  if (head.features !== features || head.classes !== classes) {
    throw new Error(`${where}: head fitted for ${head.features} features x ${head.classes} classes, the model exports ${features} x ${classes}`);
  }
  const width = features + classes + 1;
  const finite = (a: readonly number[], length: number) => a.length === length && a.every((v) => Number.isFinite(v));
  if (!finite(head.featureMean, features) || !finite(head.featureStd, features) || head.featureStd.some((s) => !(s > 0))) throw new Error(`${where}: head feature standardisation is malformed`);
  if (head.weights.length !== classes || !head.weights.every((row) => finite(row, width))) throw new Error(`${where}: head weights must be ${classes} rows of ${width} finite numbers`);
  return head;
}

/**
 * The head as the model's LogitAdapter. For each image: the feature correction is computed on the
 * feature grid (W_f · standardised features, per class), then bilinearly interpolated onto the model
 * grid (half-pixel centres, as the decoder's upsampling), and added to W_z · z + b.
 */
export function linearHeadAdapter(head: LinearHeadParameters): LogitAdapter {
  const { features: F, classes: K } = head;
  const context = head.context ?? 0;
  const width = F + K + 1;
  // Fold the standardisation into the weights: W_f · (f - μ)/σ = (W_f/σ) · f - W_f·μ/σ.
  const wf = new Float32Array(K * F);
  const bias = new Float64Array(K);
  const wz = new Float32Array(K * K);
  for (let k = 0; k < K; k++) {
    const row = head.weights[k]!;
    let b = row[width - 1]!;
    for (let f = 0; f < F; f++) {
      const scaled = row[f]! / head.featureStd[f]!;
      wf[k * F + f] = scaled;
      b -= scaled * head.featureMean[f]!;
    }
    for (let j = 0; j < K; j++) wz[k * K + j] = row[F + j]!;
    bias[k] = b;
  }
  let correction = new Float32Array(0);
  let zin = new Float32Array(0);
  return {
    apply(logits, rawFeatures, rawDims, rows, columns) {
      const { data: featureData, dims } = withContext(rawFeatures, rawDims, context);
      const [f, h, w] = dims;
      if (f !== F) throw new Error(`calibration head expects ${F} decoder feature channels, the model returned ${f}`);
      const plane = rows * columns;
      if (logits.length !== K * plane) throw new Error(`calibration head expects ${K} logit channels`);
      const small = h * w;
      if (correction.length < K * small) correction = new Float32Array(K * small);
      for (let k = 0; k < K; k++) {
        const out = k * small;
        correction.fill(bias[k]!, out, out + small);
        for (let c = 0; c < F; c++) {
          const weight = wf[k * F + c]!;
          if (weight === 0) continue;
          const src = c * small;
          for (let i = 0; i < small; i++) correction[out + i]! += weight * featureData[src + i]!;
        }
      }
      if (zin.length < K * plane) zin = new Float32Array(K * plane);
      zin.set(logits.subarray(0, K * plane));
      const rowTable = upsampleTable(rows, h);
      const colTable = upsampleTable(columns, w);
      for (let r = 0; r < rows; r++) {
        const r0 = rowTable.index[r]!;
        const r1 = Math.min(r0 + 1, h - 1);
        const wr = rowTable.weight[r]!;
        for (let c = 0; c < columns; c++) {
          const c0 = colTable.index[c]!;
          const c1 = Math.min(c0 + 1, w - 1);
          const wc = colTable.weight[c]!;
          const p = r * columns + c;
          for (let k = 0; k < K; k++) {
            const base = k * small;
            const top = correction[base + r0 * w + c0]! + wc * (correction[base + r0 * w + c1]! - correction[base + r0 * w + c0]!);
            const bottom = correction[base + r1 * w + c0]! + wc * (correction[base + r1 * w + c1]! - correction[base + r1 * w + c0]!);
            let s = top + wr * (bottom - top);
            for (let j = 0; j < K; j++) s += wz[k * K + j]! * zin[j * plane + p]!;
            logits[k * plane + p] = s;
          }
        }
      }
    },
  };
}

const tables = new Map<string, { index: Int32Array; weight: Float32Array }>();

/**
 * Target sample t of `target` on a source axis of `source` samples covering the same extent
 * (half-pixel centres, align_corners = false): x = (t + 0.5)·source/target − 0.5, clamped.
 */
export function upsampleTable(target: number, source: number): { index: Int32Array; weight: Float32Array } {
  const key = `${target},${source}`;
  let table = tables.get(key);
  if (!table) {
    const index = new Int32Array(target);
    const weight = new Float32Array(target);
    for (let t = 0; t < target; t++) {
      const x = Math.min(Math.max(((t + 0.5) * source) / target - 0.5, 0), source - 1);
      const i = Math.min(Math.floor(x), Math.max(source - 2, 0));
      index[t] = i;
      weight[t] = source > 1 ? x - i : 0;
    }
    table = { index, weight };
    tables.set(key, table);
  }
  return table;
}

/** Features of model-grid pixel (r, c) interpolated from [F, h, w] (the same rule as the adapter). */
export function featuresAt(featureData: Float32Array, dims: readonly [number, number, number], rows: number, columns: number, r: number, c: number, out: Float32Array, offset: number): void {
  const [F, h, w] = dims;
  const rt = upsampleTable(rows, h);
  const ct = upsampleTable(columns, w);
  const r0 = rt.index[r]!;
  const r1 = Math.min(r0 + 1, h - 1);
  const c0 = ct.index[c]!;
  const c1 = Math.min(c0 + 1, w - 1);
  const wr = rt.weight[r]!;
  const wc = ct.weight[c]!;
  const small = h * w;
  for (let f = 0; f < F; f++) {
    const base = f * small;
    const top = featureData[base + r0 * w + c0]! + wc * (featureData[base + r0 * w + c1]! - featureData[base + r0 * w + c0]!);
    const bottom = featureData[base + r1 * w + c0]! + wc * (featureData[base + r1 * w + c1]! - featureData[base + r1 * w + c0]!);
    out[offset + f] = top + wr * (bottom - top);
  }
}

/**
 * The decoder features followed by their box averages over (2·radius + 1)² pixels (edges: the mean of
 * what lies inside), [2F, h, w]; the features unchanged when radius is 0.
 */
export function withContext(data: Float32Array, dims: readonly [number, number, number], radius: number): { data: Float32Array; dims: readonly [number, number, number] } {
  if (radius <= 0) return { data, dims };
  const [F, h, w] = dims;
  const plane = h * w;
  const out = new Float32Array(2 * F * plane);
  out.set(data.subarray(0, F * plane));
  const integral = new Float64Array((h + 1) * (w + 1));
  for (let f = 0; f < F; f++) {
    const base = f * plane;
    for (let r = 0; r < h; r++) {
      let rowSum = 0;
      for (let c = 0; c < w; c++) {
        rowSum += data[base + r * w + c]!;
        integral[(r + 1) * (w + 1) + c + 1] = integral[r * (w + 1) + c + 1]! + rowSum;
      }
    }
    const target = (F + f) * plane;
    for (let r = 0; r < h; r++) {
      const r0 = Math.max(0, r - radius);
      const r1 = Math.min(h, r + radius + 1);
      for (let c = 0; c < w; c++) {
        const c0 = Math.max(0, c - radius);
        const c1 = Math.min(w, c + radius + 1);
        const sum = integral[r1 * (w + 1) + c1]! - integral[r0 * (w + 1) + c1]! - integral[r1 * (w + 1) + c0]! + integral[r0 * (w + 1) + c0]!;
        out[target + r * w + c] = sum / ((r1 - r0) * (c1 - c0));
      }
    }
  }
  return { data: out, dims: [2 * F, h, w] };
}
