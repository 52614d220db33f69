/**
 * The intensity side of a site calibration: a look-up table on the model's input (the clipped,
 * z-scored window) that maps the site's tissue intensities onto those of the training domain.
 *
 * From the annotated pixels, each class c (background, RV, myocardium, LV) gets a monotone map T_c
 * that sends the site's quantiles of c onto the training domain's quantiles of c (quantile matching,
 * per class). A pixel's class is unknown at inference, so the table mixes the maps by the class
 * posterior of its intensity at the site: LUT(v) = Σ_c p(c | v) · T_c(v). Where the site's contrast
 * is inverted (echo: dark blood, bright myocardium) the table is non-monotone and turns it back; where
 * it is merely weaker (another vendor) it stretches it. The window is z-scored again afterwards, as
 * the model expects. Pure maths.
 */
import { REFERENCE_CLASS_QUANTILES, REFERENCE_PROBABILITIES } from './reference-intensities.js';

export interface IntensityMapParameters {
  readonly kind: 'class-quantile-lut';
  /** The table samples z = lo + i·(hi − lo)/(n − 1); linear between them, held beyond the ends. */
  readonly lo: number;
  readonly hi: number;
  readonly values: readonly number[];
}

/** Intensities of annotated pixels (model input space) with their class channel. */
export interface IntensitySamples {
  readonly values: Float32Array;
  readonly labels: Uint8Array;
}

const LO = -4;
const HI = 6;
const POINTS = 121;
const BANDWIDTH = 0.2;

function quantiles(sorted: Float32Array, probabilities: readonly number[]): number[] {
  return probabilities.map((p) => {
    const position = p * (sorted.length - 1);
    const k = Math.floor(position);
    const next = sorted[Math.min(k + 1, sorted.length - 1)]!;
    return sorted[k]! + (position - k) * (next - sorted[k]!);
  });
}

/** Piecewise-linear through (x_i, y_i) with slope-1 extension beyond the ends (x ascending). */
function piecewise(xs: readonly number[], ys: readonly number[], v: number): number {
  const n = xs.length;
  if (v <= xs[0]!) return ys[0]! + (v - xs[0]!);
  if (v >= xs[n - 1]!) return ys[n - 1]! + (v - xs[n - 1]!);
  let i = 0;
  while (xs[i + 1]! < v) i++;
  const span = xs[i + 1]! - xs[i]!;
  return span > 0 ? ys[i]! + ((v - xs[i]!) / span) * (ys[i + 1]! - ys[i]!) : ys[i]!;
}

/**
 * Fits the table. Classes with fewer than `minPerClass` samples keep the identity for their share.
 * `reference` defaults to the training domain of the bundled model (scripts/intensity-reference.py).
 */
export function fitIntensityMap(
  samples: IntensitySamples,
  reference: { probabilities: readonly number[]; quantiles: readonly (readonly number[])[] } = { probabilities: REFERENCE_PROBABILITIES, quantiles: REFERENCE_CLASS_QUANTILES },
  minPerClass = 50,
): IntensityMapParameters {
  const classes = reference.quantiles.length;
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < samples.values.length; i++) {
    const c = samples.labels[i]!;
    if (c < classes) byClass[c]!.push(samples.values[i]!);
  }
  const step = (HI - LO) / (POINTS - 1);
  const density = byClass.map((values) => {
    // Gaussian-smoothed histogram on the table grid (counts, not normalised: p(c|v) keeps the priors).
    const d = new Float64Array(POINTS);
    for (const v of values) {
      const centre = (v - LO) / step;
      const from = Math.max(0, Math.floor(centre - (3 * BANDWIDTH) / step));
      const to = Math.min(POINTS - 1, Math.ceil(centre + (3 * BANDWIDTH) / step));
      for (let g = from; g <= to; g++) {
        const dz = (g - centre) * step;
        d[g]! += Math.exp((-0.5 * dz * dz) / (BANDWIDTH * BANDWIDTH));
      }
    }
    return d;
  });
  const maps = byClass.map((values, c) => {
    if (values.length < minPerClass) return undefined;
    const sorted = Float32Array.from(values).sort();
    const site = quantiles(sorted, reference.probabilities);
    // Quantiles may repeat (flat regions): nudge them apart so the map stays a function.
    for (let i = 1; i < site.length; i++) if (site[i]! <= site[i - 1]!) site[i] = site[i - 1]! + 1e-6;
    return { xs: site, ys: reference.quantiles[c]! };
  });
  const values: number[] = [];
  for (let g = 0; g < POINTS; g++) {
    const z = LO + g * step;
    let total = 0;
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      const w = density[c]![g]!;
      if (w <= 0) continue;
      const map = maps[c];
      sum += w * (map ? piecewise(map.xs, map.ys, z) : z);
      total += w;
    }
    values.push(total > 1e-9 ? sum / total : Number.NaN);
  }
  // Intensities no annotated pixel had: carry the nearest known value (held ends, bridged gaps).
  const known = values.map((v, i) => (Number.isNaN(v) ? -1 : i)).filter((i) => i >= 0);
  if (known.length === 0) return { kind: 'class-quantile-lut', lo: LO, hi: HI, values: Array.from({ length: POINTS }, (_, g) => LO + g * step) };
  for (let g = 0; g < POINTS; g++) {
    if (!Number.isNaN(values[g]!)) continue;
    const before = known.filter((i) => i < g).pop();
    const after = known.find((i) => i > g);
    values[g] = before === undefined ? values[after!]! : after === undefined ? values[before]! : values[before]! + ((g - before) / (after - before)) * (values[after]! - values[before]!);
  }
  return { kind: 'class-quantile-lut', lo: LO, hi: HI, values: values.map((v) => Math.round(v * 1e4) / 1e4) };
}

export function checkIntensityMap(map: IntensityMapParameters, where: string): IntensityMapParameters {
  if (map.kind !== 'class-quantile-lut' || !(map.hi > map.lo) || map.values.length < 2 || !map.values.every(Number.isFinite)) {
    throw new Error(`${where}: intensity map is malformed`);
  }
  return map;
}

/** Applies the table to one model window in place, then z-scores it again (a constant window becomes zeros). */
export function applyIntensityMap(map: IntensityMapParameters, window: Float32Array): void {
  const n = map.values.length;
  const scale = (n - 1) / (map.hi - map.lo);
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < window.length; i++) {
    const x = (window[i]! - map.lo) * scale;
    let v: number;
    if (x <= 0) v = map.values[0]!;
    else if (x >= n - 1) v = map.values[n - 1]!;
    else {
      const k = Math.floor(x);
      v = map.values[k]! + (x - k) * (map.values[k + 1]! - map.values[k]!);
    }
    window[i] = v;
    sum += v;
    squares += v * v;
  }
  const mean = sum / window.length;
  const sd = Math.sqrt(Math.max(squares / window.length - mean * mean, 0));
  if (!(sd > 1e-6)) {
    window.fill(0);
    return;
  }
  for (let i = 0; i < window.length; i++) window[i] = (window[i]! - mean) / sd;
}
