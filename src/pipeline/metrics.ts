/**
 * Segmentation and classification metrics for `pulse eval` (pure).
 *
 * Dice and the 95 % Hausdorff distance are 3D, per patient per phase: one phase of a stack is a
 * volume (slices x rows x columns). Distances are measured between voxel centres in patient
 * coordinates (mm) computed from each source image's own geometry (ImagePositionPatient,
 * ImageOrientationPatient, PixelSpacing), so anisotropic and oblique grids are measured correctly.
 */
import type { ImagePlane } from '../study/types.js';

/** One phase of a stack: a label map per slice (ascending along the normal) with its plane. */
export interface PhaseVolume {
  readonly planes: readonly ImagePlane[];
  readonly labels: readonly Uint8Array[];
}

/** 2|A∩B| / (|A| + |B|) over the whole volume; null when the structure is absent from both. */
export function dice(predicted: PhaseVolume, truth: PhaseVolume, label: number, truthLabel = label): number | null {
  let both = 0;
  let a = 0;
  let b = 0;
  for (let s = 0; s < predicted.labels.length; s++) {
    const p = predicted.labels[s]!;
    const t = truth.labels[s]!;
    if (p.length !== t.length) throw new Error(`slice ${s}: predicted map has ${p.length} pixels, truth ${t.length}`);
    for (let i = 0; i < p.length; i++) {
      const inP = p[i] === label;
      const inT = t[i] === truthLabel;
      if (inP) a++;
      if (inT) b++;
      if (inP && inT) both++;
    }
  }
  return a + b === 0 ? null : (2 * both) / (a + b);
}

interface Surface {
  /** Points grouped per slice: x, y, z interleaved (mm). */
  readonly perSlice: Float64Array[];
  /** Position of each slice along the stack normal (mm). */
  readonly along: number[];
  readonly count: number;
}

/**
 * Surface voxels of a structure: voxels with at least one of their 6 face neighbours outside it
 * (outside the volume counts as outside), as in medpy's hd95 (erosion with connectivity 1).
 */
function surface(volume: PhaseVolume, label: number, normal: readonly [number, number, number]): Surface {
  const perSlice: Float64Array[] = [];
  const along: number[] = [];
  let count = 0;
  const depth = volume.labels.length;
  for (let s = 0; s < depth; s++) {
    const plane = volume.planes[s]!;
    const { rows, columns } = plane;
    const map = volume.labels[s]!;
    const below = s > 0 ? volume.labels[s - 1] : undefined;
    const above = s < depth - 1 ? volume.labels[s + 1] : undefined;
    const sameGrid = (m?: Uint8Array) => m !== undefined && m.length === map.length;
    const points: number[] = [];
    const [rx, ry, rz, cx, cy, cz] = plane.imageOrientationPatient;
    const [px, py, pz] = plane.imagePositionPatient;
    const [rowSpacing, columnSpacing] = plane.pixelSpacing;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const i = r * columns + c;
        if (map[i] !== label) continue;
        const onSurface =
          r === 0 || r === rows - 1 || c === 0 || c === columns - 1 ||
          map[i - 1] !== label || map[i + 1] !== label || map[i - columns] !== label || map[i + columns] !== label ||
          !sameGrid(below) || below![i] !== label || !sameGrid(above) || above![i] !== label;
        if (!onSurface) continue;
        // Column index runs along the row direction cosines, row index along the column cosines.
        points.push(
          px + c * columnSpacing * rx + r * rowSpacing * cx,
          py + c * columnSpacing * ry + r * rowSpacing * cy,
          pz + c * columnSpacing * rz + r * rowSpacing * cz,
        );
      }
    }
    perSlice.push(Float64Array.from(points));
    along.push(px * normal[0] + py * normal[1] + pz * normal[2]);
    count += points.length / 3;
  }
  return { perSlice, along, count };
}

/** Distance from every point of `from` to the nearest point of `to`, appended to `out`. */
function nearestDistances(from: Surface, to: Surface, out: number[]): void {
  const order = to.along.map((_, i) => i);
  for (let s = 0; s < from.perSlice.length; s++) {
    const pts = from.perSlice[s]!;
    if (pts.length === 0) continue;
    const z = from.along[s]!;
    // Parallel planes: a slice Δ away along the normal holds no point closer than Δ.
    const sorted = order.filter((i) => to.perSlice[i]!.length > 0).sort((a, b) => Math.abs(to.along[a]! - z) - Math.abs(to.along[b]! - z));
    for (let p = 0; p < pts.length; p += 3) {
      const x = pts[p]!, y = pts[p + 1]!, w = pts[p + 2]!;
      let best = Infinity;
      for (const t of sorted) {
        const dz = to.along[t]! - z;
        if (dz * dz >= best) break;
        const q = to.perSlice[t]!;
        for (let k = 0; k < q.length; k += 3) {
          const dx = q[k]! - x, dy = q[k + 1]! - y, dw = q[k + 2]! - w;
          const d = dx * dx + dy * dy + dw * dw;
          if (d < best) best = d;
        }
      }
      out.push(Math.sqrt(best));
    }
  }
}

/** Percentile with linear interpolation (numpy's default). */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = (p / 100) * (sorted.length - 1);
  const k = Math.floor(position);
  return k + 1 < sorted.length ? sorted[k]! + (position - k) * (sorted[k + 1]! - sorted[k]!) : sorted[k]!;
}

/**
 * 95 % Hausdorff distance (mm): the 95th percentile of the surface distances in both directions
 * pooled (medpy's hd95). null when the structure is missing from either volume.
 */
export function hausdorff95(predicted: PhaseVolume, truth: PhaseVolume, label: number, normal: readonly [number, number, number], truthLabel = label): number | null {
  const a = surface(predicted, label, normal);
  const b = surface(truth, truthLabel, normal);
  if (a.count === 0 || b.count === 0) return null;
  const distances: number[] = [];
  nearestDistances(a, b, distances);
  nearestDistances(b, a, distances);
  return percentile(distances, 95);
}

export interface ClassificationMetrics {
  readonly labels: readonly string[];
  /** confusion[truth][predicted], in `labels` order. */
  readonly confusion: number[][];
  readonly accuracy: number;
  /** Mean over classes present in truth or predictions of F1 = 2PR/(P+R) (0 when P+R = 0). */
  readonly macroF1: number;
  readonly perClass: Record<string, { precision: number; recall: number; f1: number; support: number }>;
}

export function classification(pairs: ReadonlyArray<{ truth: string; predicted: string }>, labels: readonly string[]): ClassificationMetrics {
  const all = [...labels];
  for (const { truth, predicted } of pairs) for (const l of [truth, predicted]) if (!all.includes(l)) all.push(l);
  const index = new Map(all.map((l, i) => [l, i]));
  const confusion = all.map(() => all.map(() => 0));
  for (const { truth, predicted } of pairs) confusion[index.get(truth)!]![index.get(predicted)!]!++;
  const correct = all.reduce((n, _, i) => n + confusion[i]![i]!, 0);
  const perClass: ClassificationMetrics['perClass'] = {};
  const f1s: number[] = [];
  all.forEach((label, i) => {
    const tp = confusion[i]![i]!;
    const support = confusion[i]!.reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((n, row) => n + row[i]!, 0);
    if (support === 0 && predictedCount === 0) return;
    const precision = predictedCount ? tp / predictedCount : 0;
    const recall = support ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    perClass[label] = { precision, recall, f1, support };
    f1s.push(f1);
  });
  return {
    labels: all,
    confusion,
    accuracy: pairs.length ? correct / pairs.length : 0,
    macroF1: f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : 0,
    perClass,
  };
}

/** Mean absolute error, bias (mean of predicted - truth) and SD of the error. */
export function errorSummary(pairs: ReadonlyArray<{ truth: number; predicted: number }>): { mae: number; bias: number; sd: number; n: number } {
  const n = pairs.length;
  if (n === 0) return { mae: 0, bias: 0, sd: 0, n };
  const errors = pairs.map((p) => p.predicted - p.truth);
  const bias = errors.reduce((a, b) => a + b, 0) / n;
  const mae = errors.reduce((a, b) => a + Math.abs(b), 0) / n;
  const sd = Math.sqrt(errors.reduce((a, b) => a + (b - bias) ** 2, 0) / n);
  return { mae, bias, sd, n };
}
