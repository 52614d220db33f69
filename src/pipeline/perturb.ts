/**
 * Perturbations of a labelled short-axis stack for the robustness evaluation (issue 14 item 3):
 * what real scanners send and what the heart localisation leaves, applied to an ACDC patient before
 * it is written as DICOM, so that `pulse eval --perturb` measures the whole production path on it.
 *
 * Pure and seeded: stack in, stack out; the same stack, perturbation and seed give the same voxels.
 * Spatial perturbations move the images and the expert labels together (images bilinear, labels
 * nearest neighbour, zero outside the stored field) and keep the grid's geometry unless they say
 * otherwise; intensity perturbations change the images only. Voxels are indexed as in NIfTI:
 * i + nx * (j + ny * k), i along the columns (x), j along the rows (y), k along the stack.
 */
import type { Affine, LabelledStack, PhaseVolume } from '../nifti/index.js';
import { seededRandom } from '../util/seeded-random.js';

export type Random = () => number;

interface PlaneSize {
  readonly nx: number;
  readonly ny: number;
}

// ---- geometry helpers ----

/** In-plane voxel sizes (mm) along i and j: the lengths of the affine's first two columns. */
export function inPlaneSpacing(affine: Affine): [number, number] {
  const length = (c: 0 | 1): number => Math.hypot(affine[0][c], affine[1][c], affine[2][c]);
  return [length(0), length(1)];
}

/** `affine` composed with a voxel-index map: world(new index) = affine * (m * new index). */
function composeAffine(affine: Affine, m: readonly (readonly number[])[]): Affine {
  const rows = affine.map((row) => [0, 1, 2, 3].map((c) => row[0]! * m[0]![c]! + row[1]! * m[1]![c]! + row[2]! * m[2]![c]! + row[3]! * m[3]![c]!));
  return rows as unknown as Affine;
}

/**
 * Centre of the heart in voxel coordinates (i, j): the centroid of every labelled voxel over the
 * phases that have labels; the image centre when nothing is labelled.
 */
export function heartCentre(stack: LabelledStack): [number, number] {
  const [nx, ny, nz] = stack.dims;
  let si = 0;
  let sj = 0;
  let n = 0;
  for (const phase of stack.phases) {
    if (!phase.labels) continue;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        const row = (k * ny + j) * nx;
        for (let i = 0; i < nx; i++) {
          if (phase.labels[row + i]! > 0) {
            si += i;
            sj += j;
            n++;
          }
        }
      }
    }
  }
  return n === 0 ? [(nx - 1) / 2, (ny - 1) / 2] : [si / n, sj / n];
}

// ---- resampling ----

/** Source position (continuous voxel coordinates i, j) of output pixel (i, j). */
type SourceOf = (i: number, j: number) => readonly [number, number];

function bilinear(plane: Float32Array, size: PlaneSize, offset: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (i: number, j: number): number => (i < 0 || j < 0 || i >= size.nx || j >= size.ny ? 0 : plane[offset + j * size.nx + i]!);
  const top = fx === 0 ? at(x0, y0) : at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx;
  if (fy === 0) return top;
  const bottom = fx === 0 ? at(x0, y0 + 1) : at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

function nearest(plane: Float32Array, size: PlaneSize, offset: number, x: number, y: number): number {
  const i = Math.round(x);
  const j = Math.round(y);
  return i < 0 || j < 0 || i >= size.nx || j >= size.ny ? 0 : plane[offset + j * size.nx + i]!;
}

/** Every slice of every phase resampled onto an `out`-sized grid through `sourceOf`. */
function resample(stack: LabelledStack, out: PlaneSize, sourceOf: SourceOf): PhaseVolume[] {
  const [nx, ny, nz] = stack.dims;
  const size = { nx, ny };
  const plane = out.nx * out.ny;
  return stack.phases.map((phase) => {
    const voxels = new Float32Array(plane * nz);
    const labels = phase.labels ? new Float32Array(plane * nz) : undefined;
    for (let k = 0; k < nz; k++) {
      const from = k * nx * ny;
      for (let j = 0; j < out.ny; j++) {
        for (let i = 0; i < out.nx; i++) {
          const [x, y] = sourceOf(i, j);
          const to = k * plane + j * out.nx + i;
          voxels[to] = bilinear(phase.voxels, size, from, x, y);
          if (labels) labels[to] = nearest(phase.labels!, size, from, x, y);
        }
      }
    }
    return { ...phase, voxels, ...(labels ? { labels } : {}) };
  });
}

/** The content shifted by (dx, dy) whole pixels (zero-filled where it came from outside); the grid is unchanged. */
export function shiftStack(stack: LabelledStack, dx: number, dy: number): LabelledStack {
  if (!Number.isInteger(dx) || !Number.isInteger(dy)) throw new Error(`shiftStack: shifts must be whole pixels, got ${dx}, ${dy}`);
  const [nx, ny] = stack.dims;
  return { ...stack, phases: resample(stack, { nx, ny }, (i, j) => [i - dx, j - dy]) };
}

/**
 * The heart moved so that its centre lies `fx`, `fy` of the field of view from the image centre
 * (0.33 = a third of the field of view; +x towards higher columns, +y towards lower rows of the display).
 */
export function placeHeart(stack: LabelledStack, fx: number, fy: number): LabelledStack {
  const [nx, ny] = stack.dims;
  const [ci, cj] = heartCentre(stack);
  return shiftStack(stack, Math.round((nx - 1) / 2 + fx * nx - ci), Math.round((ny - 1) / 2 + fy * ny - cj));
}

/** The anatomy resized by `factor` about `centre` (voxel coordinates), at the same pixel spacing. */
export function scaleStack(stack: LabelledStack, factor: number, centre: readonly [number, number] = heartCentre(stack)): LabelledStack {
  if (!(factor > 0)) throw new Error(`scaleStack: factor must be positive, got ${factor}`);
  const [nx, ny] = stack.dims;
  const [ci, cj] = centre;
  return { ...stack, phases: resample(stack, { nx, ny }, (i, j) => [ci + (i - ci) / factor, cj + (j - cj) / factor]) };
}

/**
 * The anatomy rotated by `degrees` (clockwise on the display) about the image centre, in millimetres
 * (so that non-square pixels keep the heart's shape); corners that come from outside are zero.
 */
export function rotateStack(stack: LabelledStack, degrees: number): LabelledStack {
  const [nx, ny] = stack.dims;
  const [sx, sy] = inPlaneSpacing(stack.affine);
  const ci = (nx - 1) / 2;
  const cj = (ny - 1) / 2;
  const t = (degrees * Math.PI) / 180;
  const cos = Math.cos(t);
  const sin = Math.sin(t);
  // Output -> source: the inverse rotation, in mm about the centre.
  return {
    ...stack,
    phases: resample(stack, { nx, ny }, (i, j) => {
      const x = (i - ci) * sx;
      const y = (j - cj) * sy;
      return [ci + (cos * x + sin * y) / sx, cj + (-sin * x + cos * y) / sy];
    }),
  };
}

// ---- exact reorientations ----

export type Reorientation = 'flip-columns' | 'flip-rows' | 'transpose' | 'rot90' | 'rot180' | 'rot270';

/** Old (i, j) = [a i' + b j' + c, d i' + e j' + f] of a reorientation of an nx x ny plane, and its new size. */
function reorientationMap(op: Reorientation, nx: number, ny: number): { m: [number, number, number, number, number, number]; out: PlaneSize } {
  switch (op) {
    case 'flip-columns':
      return { m: [-1, 0, nx - 1, 0, 1, 0], out: { nx, ny } };
    case 'flip-rows':
      return { m: [1, 0, 0, 0, -1, ny - 1], out: { nx, ny } };
    case 'transpose':
      return { m: [0, 1, 0, 1, 0, 0], out: { nx: ny, ny: nx } };
    case 'rot90': // clockwise on the display: old (i, j) lands on (ny - 1 - j, i)
      return { m: [0, 1, 0, -1, 0, ny - 1], out: { nx: ny, ny: nx } };
    case 'rot180':
      return { m: [-1, 0, nx - 1, 0, -1, ny - 1], out: { nx, ny } };
    case 'rot270':
      return { m: [0, -1, nx - 1, 1, 0, 0], out: { nx: ny, ny: nx } };
  }
}

/**
 * A flip, transpose or quarter turn of every image and label map, exactly (no interpolation).
 * `content` (default): the anatomy itself is mirrored or turned (the geometry keeps its directions;
 * the pixel sizes follow the pixels), what the model sees when a heart is stored so and the header
 * does not say it. `consistent`: the geometry is rewritten with the pixels, so every voxel keeps its
 * place in the patient (a scanner storing the same anatomy in another orientation); the pipeline's
 * canonical display (study/canonical.ts) can undo that one.
 */
export function reorientStack(stack: LabelledStack, op: Reorientation, geometry: 'content' | 'consistent' = 'content'): LabelledStack {
  const [nx, ny, nz] = stack.dims;
  const { m, out } = reorientationMap(op, nx, ny);
  const [a, b, c, d, e, f] = m;
  const phases = resample(stack, out, (i, j) => [a * i + b * j + c, d * i + e * j + f]);
  let affine: Affine;
  if (geometry === 'consistent') {
    affine = composeAffine(stack.affine, [
      [a, b, 0, c],
      [d, e, 0, f],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]);
  } else {
    // New i' reads old i when a != 0, else old j: the pixel sizes go with the pixels, directions stay.
    const [sx, sy] = inPlaneSpacing(stack.affine);
    const newSx = a !== 0 ? sx : sy;
    const newSy = e !== 0 ? sy : sx;
    affine = composeAffine(stack.affine, [
      [newSx / sx, 0, 0, 0],
      [0, newSy / sy, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]);
  }
  return { ...stack, dims: [out.nx, out.ny, nz], affine, phases };
}

// ---- intensity ----

function mapVoxels(stack: LabelledStack, f: (value: number, i: number, j: number, k: number, phase: number) => number): LabelledStack {
  const [nx, ny, nz] = stack.dims;
  return {
    ...stack,
    phases: stack.phases.map((phase, p) => {
      const voxels = new Float32Array(phase.voxels.length);
      for (let k = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const n = i + nx * (j + ny * k);
            voxels[n] = f(phase.voxels[n]!, i, j, k, p);
          }
        }
      }
      return { ...phase, voxels };
    }),
  };
}

/** The `p`-th percentile (0-100) of every voxel of every phase (nearest rank). */
export function stackPercentile(stack: LabelledStack, p: number): number {
  const all = new Float32Array(stack.phases.reduce((n, phase) => n + phase.voxels.length, 0));
  let at = 0;
  for (const phase of stack.phases) {
    all.set(phase.voxels, at);
    at += phase.voxels.length;
  }
  all.sort();
  return all.length === 0 ? 0 : all[Math.min(all.length - 1, Math.max(0, Math.round((p / 100) * (all.length - 1))))]!;
}

/** Gamma change: v -> max * (v / max)^gamma over the stack's range (max = its largest voxel), negatives kept at zero. */
export function gammaStack(stack: LabelledStack, gamma: number): LabelledStack {
  const max = stackPercentile(stack, 100);
  if (!(max > 0)) return stack;
  return mapVoxels(stack, (v) => Math.round(max * Math.max(0, v / max) ** gamma));
}

/**
 * A smooth multiplicative bias field (coil sensitivity), the same on every slice and phase: exp(a f)
 * with f a random quadratic over the plane scaled to |f| <= 1, so intensities change by a factor
 * between 1/(1 + amplitude) and 1 + amplitude.
 */
export function biasFieldStack(stack: LabelledStack, amplitude: number, random: Random): LabelledStack {
  const [nx, ny] = stack.dims;
  const c = Array.from({ length: 5 }, () => random() * 2 - 1);
  const u = (i: number) => (nx > 1 ? (2 * i) / (nx - 1) - 1 : 0);
  const v = (j: number) => (ny > 1 ? (2 * j) / (ny - 1) - 1 : 0);
  const raw = (i: number, j: number) => c[0]! * u(i) + c[1]! * v(j) + c[2]! * u(i) * v(j) + c[3]! * (u(i) ** 2 - 1 / 3) + c[4]! * (v(j) ** 2 - 1 / 3);
  let peak = 0;
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) peak = Math.max(peak, Math.abs(raw(i, j)));
  const a = Math.log(1 + amplitude) / (peak || 1);
  return mapVoxels(stack, (value, i, j) => Math.round(value * Math.exp(a * raw(i, j))));
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
function gaussian(random: Random): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/**
 * Rician noise (magnitude of a complex signal with Gaussian noise in both channels), sigma =
 * `fraction` of the stack's 99th percentile: MRI's noise, which lifts the dark background too.
 */
export function ricianNoiseStack(stack: LabelledStack, fraction: number, random: Random): LabelledStack {
  const sigma = fraction * stackPercentile(stack, 99);
  return mapVoxels(stack, (value) => Math.round(Math.hypot(value + sigma * gaussian(random), sigma * gaussian(random))));
}

/** Separable Gaussian blur in the plane (sigma in pixels, edges repeated). */
export function blurStack(stack: LabelledStack, sigmaPx: number): LabelledStack {
  const [nx, ny, nz] = stack.dims;
  const radius = Math.max(1, Math.ceil(3 * sigmaPx));
  const kernel = Array.from({ length: 2 * radius + 1 }, (_, n) => Math.exp(-((n - radius) ** 2) / (2 * sigmaPx * sigmaPx)));
  const total = kernel.reduce((s, w) => s + w, 0);
  const w = kernel.map((x) => x / total);
  const clamp = (x: number, n: number) => (x < 0 ? 0 : x >= n ? n - 1 : x);
  return {
    ...stack,
    phases: stack.phases.map((phase) => {
      const along = new Float32Array(phase.voxels.length);
      const voxels = new Float32Array(phase.voxels.length);
      for (let k = 0; k < nz; k++) {
        const o = k * nx * ny;
        for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
          let s = 0;
          for (let t = -radius; t <= radius; t++) s += w[t + radius]! * phase.voxels[o + j * nx + clamp(i + t, nx)]!;
          along[o + j * nx + i] = s;
        }
        for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
          let s = 0;
          for (let t = -radius; t <= radius; t++) s += w[t + radius]! * along[o + clamp(j + t, ny) * nx + i]!;
          voxels[o + j * nx + i] = Math.round(s);
        }
      }
      return { ...phase, voxels };
    }),
  };
}

// ---- resolution ----

/** Block means of `factor` x `factor` pixels (partial blocks at the far edges average what they hold). */
function blockMeans(values: Float32Array, size: PlaneSize, nz: number, factor: number, out: PlaneSize): Float32Array {
  const result = new Float32Array(out.nx * out.ny * nz);
  for (let k = 0; k < nz; k++) {
    for (let bj = 0; bj < out.ny; bj++) {
      for (let bi = 0; bi < out.nx; bi++) {
        let s = 0;
        let n = 0;
        for (let j = bj * factor; j < Math.min(size.ny, (bj + 1) * factor); j++) {
          for (let i = bi * factor; i < Math.min(size.nx, (bi + 1) * factor); i++) {
            s += values[(k * size.ny + j) * size.nx + i]!;
            n++;
          }
        }
        result[(k * out.ny + bj) * out.nx + bi] = n ? s / n : 0;
      }
    }
  }
  return result;
}

/**
 * Acquired at `factor` x coarser pixels (each coarse pixel the mean of its block), then interpolated
 * back onto the stored grid (bilinear, as a scanner's interpolation to a finer display matrix would);
 * labels and geometry unchanged: the anatomy is the same, the images lost detail.
 */
export function lowerResolutionStack(stack: LabelledStack, factor: number): LabelledStack {
  if (!Number.isInteger(factor) || factor < 2) throw new Error(`lowerResolutionStack: factor must be an integer >= 2, got ${factor}`);
  const [nx, ny, nz] = stack.dims;
  const coarse = { nx: Math.ceil(nx / factor), ny: Math.ceil(ny / factor) };
  const clamp = (x: number, n: number) => Math.min(n - 1, Math.max(0, x));
  return {
    ...stack,
    phases: stack.phases.map((phase) => {
      const small = blockMeans(phase.voxels, { nx, ny }, nz, factor, coarse);
      const voxels = new Float32Array(phase.voxels.length);
      for (let k = 0; k < nz; k++) {
        for (let j = 0; j < ny; j++) {
          for (let i = 0; i < nx; i++) {
            const x = clamp((i + 0.5) / factor - 0.5, coarse.nx);
            const y = clamp((j + 0.5) / factor - 0.5, coarse.ny);
            voxels[(k * ny + j) * nx + i] = Math.round(bilinear(small, coarse, k * coarse.nx * coarse.ny, x, y));
          }
        }
      }
      return { ...phase, voxels };
    }),
  };
}

/**
 * Stored at `factor` x coarser pixels: a smaller matrix whose PixelSpacing says so (the field of view
 * kept, the last pixels dropped when the size does not divide). Image pixels are block means; the
 * label of a coarse pixel is its block's most frequent label (ties to the lower value).
 */
export function coarseStack(stack: LabelledStack, factor: number): LabelledStack {
  if (!Number.isInteger(factor) || factor < 2) throw new Error(`coarseStack: factor must be an integer >= 2, got ${factor}`);
  const [nx, ny, nz] = stack.dims;
  const out = { nx: Math.floor(nx / factor), ny: Math.floor(ny / factor) };
  const half = (factor - 1) / 2;
  const affine = composeAffine(stack.affine, [
    [factor, 0, 0, half],
    [0, factor, 0, half],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ]);
  const phases = stack.phases.map((phase) => {
    const voxels = blockMeans(phase.voxels, { nx, ny }, nz, factor, out).map(Math.round);
    if (!phase.labels) return { ...phase, voxels };
    const labels = new Float32Array(out.nx * out.ny * nz);
    const counts = new Map<number, number>();
    for (let k = 0; k < nz; k++) {
      for (let bj = 0; bj < out.ny; bj++) {
        for (let bi = 0; bi < out.nx; bi++) {
          counts.clear();
          for (let j = bj * factor; j < (bj + 1) * factor; j++) {
            for (let i = bi * factor; i < (bi + 1) * factor; i++) {
              const label = phase.labels[(k * ny + j) * nx + i]!;
              counts.set(label, (counts.get(label) ?? 0) + 1);
            }
          }
          let best = 0;
          let bestCount = -1;
          for (const [label, count] of [...counts].sort((x, y) => x[0] - y[0])) {
            if (count > bestCount) {
              best = label;
              bestCount = count;
            }
          }
          labels[(k * out.ny + bj) * out.nx + bi] = best;
        }
      }
    }
    return { ...phase, voxels, labels };
  });
  return { ...stack, dims: [out.nx, out.ny, nz], affine, phases };
}

// ---- coverage ----

/** Labelled voxels per slice, summed over the phases. */
function labelledPerSlice(stack: LabelledStack): number[] {
  const [nx, ny, nz] = stack.dims;
  const counts = new Array<number>(nz).fill(0);
  for (const phase of stack.phases) {
    if (!phase.labels) continue;
    for (let k = 0; k < nz; k++) {
      let n = 0;
      for (let v = k * nx * ny; v < (k + 1) * nx * ny; v++) if (phase.labels[v]! > 0) n++;
      counts[k] = counts[k]! + n;
    }
  }
  return counts;
}

/** Slices kept from `from` to `to` inclusive; the geometry moves with the first kept slice. */
export function keepSlices(stack: LabelledStack, from: number, to: number): LabelledStack {
  const [nx, ny, nz] = stack.dims;
  if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to < nz && from <= to)) throw new Error(`keepSlices: ${from}..${to} is not a slice range of a ${nz}-slice stack`);
  const plane = nx * ny;
  const affine = composeAffine(stack.affine, [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, from],
    [0, 0, 0, 1],
  ]);
  const phases = stack.phases.map((phase) => ({
    ...phase,
    voxels: phase.voxels.slice(from * plane, (to + 1) * plane),
    ...(phase.labels ? { labels: phase.labels.slice(from * plane, (to + 1) * plane) } : {}),
  }));
  return { ...stack, dims: [nx, ny, to - from + 1], affine, phases };
}

/**
 * Partial coverage: the apical or basal `fraction` of the heart's slices (those with labels) missing,
 * with every slice beyond them. The base is the end whose slices hold more labelled area (the
 * ventricles narrow towards the apex).
 */
export function partialCoverageStack(stack: LabelledStack, missing: 'apex' | 'base', fraction = 1 / 3): LabelledStack {
  const counts = labelledPerSlice(stack);
  const heart = counts.flatMap((n, k) => (n > 0 ? [k] : []));
  if (heart.length < 2) throw new Error('partialCoverageStack: fewer than two labelled slices');
  const first = heart[0]!;
  const last = heart[heart.length - 1]!;
  const drop = Math.max(1, Math.round((last - first + 1) * fraction));
  const sum = (from: number, to: number) => counts.slice(from, to + 1).reduce((s, n) => s + n, 0);
  const baseAtStart = sum(first, first + drop - 1) >= sum(last - drop + 1, last);
  const dropStart = (missing === 'base') === baseAtStart;
  return dropStart ? keepSlices(stack, first + drop, stack.dims[2] - 1) : keepSlices(stack, 0, last - drop);
}

// ---- the named perturbations of the robustness table ----

export interface Perturbation {
  readonly name: string;
  readonly description: string;
  readonly apply: (stack: LabelledStack, random: Random) => LabelledStack;
}

/**
 * The robustness table's conditions (issue 14 item 3's list, one or two strengths each), in table
 * order. Strengths: translations to a third of the field of view, scale at the ends of 0.6-1.6.
 */
export const PERTURBATIONS: readonly Perturbation[] = [
  { name: 'shift-x', description: 'heart centre moved to +1/3 of the field of view along x (content shifted, zero-filled)', apply: (s) => placeHeart(s, 1 / 3, 0) },
  { name: 'shift-y', description: 'heart centre moved to −1/3 of the field of view along y', apply: (s) => placeHeart(s, 0, -1 / 3) },
  { name: 'scale-0.6', description: 'anatomy × 0.6 about the heart centre, same pixel spacing', apply: (s) => scaleStack(s, 0.6) },
  { name: 'scale-1.6', description: 'anatomy × 1.6 about the heart centre, same pixel spacing', apply: (s) => scaleStack(s, 1.6) },
  { name: 'rotate-30', description: 'anatomy rotated 30° about the image centre', apply: (s) => rotateStack(s, 30) },
  { name: 'rotate-90', description: 'anatomy turned a quarter (exact), geometry unchanged', apply: (s) => reorientStack(s, 'rot90') },
  { name: 'flip-x', description: 'anatomy mirrored left-right, geometry unchanged (a mirrored heart)', apply: (s) => reorientStack(s, 'flip-columns') },
  { name: 'transpose', description: 'rows and columns swapped, geometry unchanged', apply: (s) => reorientStack(s, 'transpose') },
  { name: 'gamma-0.5', description: 'gamma 0.5 (dark tissue brighter)', apply: (s) => gammaStack(s, 0.5) },
  { name: 'gamma-2', description: 'gamma 2 (dark tissue darker)', apply: (s) => gammaStack(s, 2) },
  { name: 'bias-0.5', description: 'smooth multiplicative bias field, ×0.67 to ×1.5 across the plane', apply: (s, r) => biasFieldStack(s, 0.5, r) },
  { name: 'noise-0.08', description: 'Rician noise, σ 8 % of the 99th percentile', apply: (s, r) => ricianNoiseStack(s, 0.08, r) },
  { name: 'blur-1.5', description: 'Gaussian blur, σ 1.5 pixels', apply: (s) => blurStack(s, 1.5) },
  { name: 'lowres-3', description: 'acquired at 3× coarser pixels, interpolated back (bilinear) to the stored grid', apply: (s) => lowerResolutionStack(s, 3) },
  { name: 'coarse-2', description: 'stored at 2× coarser pixels (half the matrix, PixelSpacing doubled); labels by block majority', apply: (s) => coarseStack(s, 2) },
  { name: 'no-apex', description: 'apical third of the heart’s slices (and beyond) missing', apply: (s) => partialCoverageStack(s, 'apex') },
  { name: 'no-base', description: 'basal third of the heart’s slices (and beyond) missing', apply: (s) => partialCoverageStack(s, 'base') },
];

/** The named perturbations, in table order; `all` expands to every one. Unknown names throw, listing the known ones. */
export function perturbationsNamed(names: readonly string[]): Perturbation[] {
  const wanted = names.flatMap((n) => (n === 'all' ? PERTURBATIONS.map((p) => p.name) : [n]));
  const unknown = wanted.filter((n) => !PERTURBATIONS.some((p) => p.name === n));
  if (unknown.length) throw new Error(`unknown perturbation ${unknown.join(', ')}; known: all, ${PERTURBATIONS.map((p) => p.name).join(', ')}`);
  return PERTURBATIONS.filter((p) => wanted.includes(p.name));
}

/** 32-bit FNV-1a of a string: a seed per (seed, case, perturbation). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let n = 0; n < text.length; n++) h = Math.imul(h ^ text.charCodeAt(n), 0x01000193) >>> 0;
  return h;
}

/** Applies `perturbation` to one case's stack; random draws depend only on (seed, case id, perturbation name). */
export function perturbStack(stack: LabelledStack, perturbation: Perturbation, seed: number, caseId: string): LabelledStack {
  return perturbation.apply(stack, seededRandom(hash(`${seed}/${caseId}/${perturbation.name}`)));
}
