/**
 * Pre-processing after the manifest: each source image is resampled (bilinear) from its own grid to
 * the model's pixel spacing and input size, then clipped at the manifest's percentiles and z-scored.
 *
 * Cropping is 'image-centre': the model window sits on the centre of the image. We have no heart
 * locator; cine short-axis acquisitions are planned with the heart near the isocentre, ACDC images are
 * centred on the heart, and the synthetic generator keeps the heart within the central ~60 % of the
 * field of view. A model window of at least ~150 mm holds the whole heart in all of them.
 *
 * Order, as training does it: resample, pad with zeros where the window leaves the image, then
 * clip and z-score over the whole window (padding included), so each slice's statistics depend only
 * on what the network sees.
 */
import type { LoadedManifest } from './manifest.js';
import type { ModelInputShape } from './session.js';
import { gridMapping, resamplePlane, type GridMapping } from './resample.js';
import type { SourceImage } from '../study/types.js';

/** The mapping between one source image's grid and the model grid. */
export function mappingFor(image: SourceImage, shape: ModelInputShape, manifest: LoadedManifest, window: ModelWindow = {}): GridMapping {
  const { rows, columns, pixelSpacing } = image.plane;
  return gridMapping(rows, columns, pixelSpacing, shape.rows, shape.columns, window.spacingMm ?? manifest.input.pixelSpacingMm, window.centreMm ? [window.centreMm[0] / pixelSpacing[0], window.centreMm[1] / pixelSpacing[1]] : [0, 0]);
}

/**
 * Where the model looks in an image: its window centre, in mm from the image centre along the
 * image's rows and columns (the located heart; default the image centre), and its pixel spacing
 * (default the manifest's; the coarse localisation pass uses a larger one to see the whole field).
 */
export interface ModelWindow {
  readonly centreMm?: readonly [number, number];
  readonly spacingMm?: readonly [number, number];
}

/**
 * Quickselect: leaves the k-th smallest value of data[lo..hi] at data[k] (data is reordered).
 * Hoare partition with a median-of-three pivot; O(n) on average.
 */
function selectInPlace(data: Float32Array, k: number, lo = 0, hi = data.length - 1): number {
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    let a = data[lo]!, b = data[mid]!, c = data[hi]!;
    if (a > b) [a, b] = [b, a];
    if (b > c) [b, c] = [c, b];
    if (a > b) [a, b] = [b, a];
    const pivot = b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (data[i]! < pivot) i++;
      while (data[j]! > pivot) j--;
      if (i <= j) {
        const t = data[i]!;
        data[i] = data[j]!;
        data[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return data[k]!;
}

/** Percentile with linear interpolation between order statistics (numpy's default). `scratch` is reordered. */
export function percentileInPlace(scratch: Float32Array, p: number): number {
  const n = scratch.length;
  if (n === 0) return 0;
  const position = (p / 100) * (n - 1);
  const k = Math.floor(position);
  const low = selectInPlace(scratch, k);
  if (k + 1 >= n || position === k) return low;
  // After selection everything right of k is >= data[k]: the next order statistic is their minimum.
  let next = Infinity;
  for (let i = k + 1; i < n; i++) if (scratch[i]! < next) next = scratch[i]!;
  return low + (position - k) * (next - low);
}

const BINS = 4096;
const histogram = new Int32Array(BINS);
let binOf = new Uint16Array(0);

/**
 * The two percentiles of `values` (numpy's linear interpolation), exactly, in a few linear passes:
 * min/max, a histogram, then only the values of the bin holding the wanted rank are gathered into
 * `scratch` and selected there. Much faster than a full selection of the window.
 */
export function percentilePair(values: Float32Array, lowP: number, highP: number, scratch: Float32Array, range?: Float64Array): [number, number] {
  const n = values.length;
  let min = Infinity;
  let max = -Infinity;
  if (range) {
    min = range[0]!;
    max = range[1]!;
  } else {
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (!(max > min)) return [min, min];
  if (binOf.length < n) binOf = new Uint16Array(n);
  const scale = (BINS - 1) / (max - min);
  histogram.fill(0);
  for (let i = 0; i < n; i++) {
    const b = ((values[i]! - min) * scale) | 0;
    binOf[i] = b;
    histogram[b]!++;
  }
  // Where each wanted rank lies: its bin and how many values lie in lower bins.
  const locate = (p: number) => {
    const position = (p / 100) * (n - 1);
    const k = Math.floor(position);
    let below = 0;
    let bin = 0;
    while (below + histogram[bin]! <= k) below += histogram[bin++]!;
    return { position, k, bin, below };
  };
  const low = locate(lowP);
  const high = locate(highP);
  // One pass gathers both bins: the low one from the start of `scratch`, the high one after it.
  const highStart = low.bin === high.bin ? 0 : histogram[low.bin]!;
  let mLow = 0;
  let mHigh = 0;
  for (let i = 0; i < n; i++) {
    const b = binOf[i]!;
    if (b === low.bin) scratch[mLow++] = values[i]!;
    else if (b === high.bin) scratch[highStart + mHigh++] = values[i]!;
  }
  if (low.bin === high.bin) mHigh = mLow;
  const value = (at: { position: number; k: number; bin: number; below: number }, start: number, m: number): number => {
    const r = at.k - at.below;
    const v = selectInPlace(scratch, start + r, start, start + m - 1);
    if (!(at.k + 1 < n && at.position > at.k)) return v;
    // The next order statistic: the smallest value right of the selected one, in this bin or the next non-empty one.
    let next = Infinity;
    if (r + 1 < m) {
      for (let i = start + r + 1; i < start + m; i++) if (scratch[i]! < next) next = scratch[i]!;
    } else {
      let b = at.bin + 1;
      while (histogram[b] === 0) b++;
      for (let i = 0; i < n; i++) if (binOf[i] === b && values[i]! < next) next = values[i]!;
    }
    return v + (at.position - at.k) * (next - v);
  };
  // The high rank first: when both share a bin, selecting it leaves the low rank's values left of it.
  const highValue = value(high, highStart, mHigh);
  return [value(low, 0, mLow), highValue];
}

/**
 * Clips `values` at the given percentiles and z-scores them in place (population SD, as torch's
 * std(unbiased=False) in training). `scratch` (same length) is working memory. A constant window
 * becomes all zeros.
 */
export function clipAndZscore(values: Float32Array, clipPercentiles: readonly [number, number], scratch: Float32Array, range?: Float64Array): void {
  const n = values.length;
  const [low, high] = percentilePair(values, Math.min(...clipPercentiles), Math.max(...clipPercentiles), scratch, range);
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    const c = v < low ? low : v > high ? high : v;
    values[i] = c;
    sum += c;
    squares += c * c;
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(squares / n - mean * mean, 0));
  if (!(std > 1e-6 * Math.max(1, Math.abs(mean)))) {
    values.fill(0);
    return;
  }
  const inv = 1 / std;
  for (let i = 0; i < n; i++) values[i] = (values[i]! - mean) * inv;
}

const windowRange = new Float64Array(2);

/**
 * One normalised model-grid window per source image. `out` (rows x columns of the model) is filled;
 * `scratch` is working memory of the same length.
 */
export function preprocessImage(
  image: SourceImage,
  shape: ModelInputShape,
  manifest: LoadedManifest,
  out: Float32Array,
  scratch: Float32Array,
  window: ModelWindow = {},
): void {
  const mapping = mappingFor(image, shape, manifest, window);
  resamplePlane(image.pixels, image.plane.columns, mapping.toModelRows, mapping.toModelColumns, out, 0, windowRange);
  clipAndZscore(out, manifest.input.normalization.clipPercentiles, scratch, windowRange);
}

/**
 * Channel sources for slice `s` of a stack of `slices`: the slice itself for 'slice' input (repeated
 * when the model wants several channels), or its neighbours along the stack normal for
 * 'adjacent-slices' (s - h .. s + h, in ascending position; beyond the ends the edge slice repeats).
 */
export function channelSlices(s: number, slices: number, channels: number, mode: LoadedManifest['input']['channels']): number[] {
  if (mode === 'slice') return new Array<number>(channels).fill(s);
  const half = (channels - 1) / 2;
  const out: number[] = [];
  for (let d = -half; d <= half; d++) out.push(Math.min(Math.max(s + d, 0), slices - 1));
  return out;
}
