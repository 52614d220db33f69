/**
 * One annotated study as the calibration maths sees it: for every phase that holds annotations, every
 * slice's decoder features and bare logits (model grid), its source-grid geometry and, where a person
 * annotated it, the reference label map. Built at the pipeline edge (src/pipeline/calibrate.ts);
 * everything here is pure: training pixels, predictions with or without an adapter, and scores.
 */
import { slabThicknessesMm, volumeMl, ejectionFractionPct } from '../analysis/conventions.js';
import { cleanUpPhase } from '../model/components.js';
import { labelsFromLogits } from '../model/postprocess.js';
import type { GridMapping } from '../model/resample.js';
import type { LogitAdapter } from '../model/segment-stack.js';
import type { ImagePlane } from '../study/types.js';
import { featuresAt, withContext, type HeadSamples } from './head.js';
import { seededRandom } from '../util/seeded-random.js';

export interface CalibrationImage {
  readonly slice: number;
  /** [F, h, w] decoder features and [K, H, W] bare logits of this image, on the model grid. */
  readonly features: Float32Array;
  readonly logits: Float32Array;
  readonly mapping: GridMapping;
  readonly plane: ImagePlane;
  /** The person's label map on the source grid (manifest label values), when this image is annotated. */
  readonly reference?: Uint8Array;
}

export interface CalibrationPhase {
  readonly phase: number;
  /** Every slice of the stack, in stack order. */
  readonly images: readonly CalibrationImage[];
}

export interface CalibrationCase {
  /** Hashed StudyInstanceUID (never the UID itself in stored profiles). */
  readonly key: string;
  readonly featureDims: readonly [number, number, number];
  readonly modelRows: number;
  readonly modelColumns: number;
  /** Label value of each logit channel (0 = background, then the manifest's segments). */
  readonly labelValues: Uint8Array;
  /** Manifest segment keys ('lv', 'myo', 'rv') and their label values. */
  readonly segmentLabels: Readonly<Record<string, number>>;
  readonly slicePositionsMm: readonly number[];
  /** Slice thickness for a single-slice stack (volumes). */
  readonly sliceThicknessMm?: number;
  readonly phases: readonly CalibrationPhase[];
}

/** How much a set of cases holds: annotated images, phases, slices. */
export interface AnnotationCoverage {
  readonly studies: number;
  readonly annotatedImages: number;
  readonly totalImagesOfAnnotatedPhases: number;
  readonly annotatedPhases: number;
  /** Studies whose ED and ES (the largest and smallest reference LV volume) are annotated on every slice. */
  readonly studiesWithFullEdEs: number;
}

export function coverageOf(cases: readonly CalibrationCase[]): AnnotationCoverage {
  let annotatedImages = 0;
  let total = 0;
  let phases = 0;
  let full = 0;
  for (const c of cases) {
    for (const p of c.phases) {
      total += p.images.length;
      const n = p.images.filter((i) => i.reference).length;
      annotatedImages += n;
      if (n > 0) phases++;
    }
    if (referenceEdEs(c) !== undefined) full++;
  }
  return { studies: cases.length, annotatedImages, totalImagesOfAnnotatedPhases: total, annotatedPhases: phases, studiesWithFullEdEs: full };
}

// ---------------------------------------------------------------- training pixels

/** Context radius of the head by default (feature pixels: 3 -> a 7x7 box, about 21 mm). */
export const DEFAULT_CONTEXT = 3;

/** The source pixel nearest to a model-grid sample, or -1 outside the image. */
function nearestSource(mapping: GridMapping, r: number, c: number): number {
  const ri = mapping.toModelRows.index[r]!;
  const ci = mapping.toModelColumns.index[c]!;
  if (ri < 0 || ci < 0) return -1;
  const row = Math.min(ri + (mapping.toModelRows.weight[r]! >= 0.5 ? 1 : 0), mapping.sourceRows - 1);
  const column = Math.min(ci + (mapping.toModelColumns.weight[c]! >= 0.5 ? 1 : 0), mapping.sourceColumns - 1);
  return row * mapping.sourceColumns + column;
}

export interface SampleOptions {
  /** Most pixels taken from one study (foreground first, background fills the rest). @defaultValue 3000 */
  readonly perStudy?: number;
  /**
   * Background pixels per structure pixel: far fewer than in the images (about 20:1 in the window),
   * which balances the classes by sampling. @defaultValue 3
   */
  readonly backgroundRatio?: number;
  readonly seed?: number;
  /** Context radius of the head (head.ts withContext); 0: the decoder features alone. @defaultValue 3 */
  readonly context?: number;
}

/**
 * Training pixels from the annotated images of `cases`: the model-grid pixels inside each image,
 * labelled with the nearest source pixel of the reference; foreground and an equal share of
 * background, drawn without replacement, at most `perStudy` per study.
 */
export function trainingSamples(cases: readonly CalibrationCase[], options: SampleOptions = {}): HeadSamples {
  const perStudy = options.perStudy ?? 3000;
  const ratio = options.backgroundRatio ?? 3;
  const first = cases[0];
  if (!first) throw new RangeError('no annotated study to fit on');
  const context = options.context ?? DEFAULT_CONTEXT;
  const F = first.featureDims[0] * (context > 0 ? 2 : 1);
  const K = first.labelValues.length;
  const expanded = new Map<CalibrationImage, { data: Float32Array; dims: readonly [number, number, number] }>();
  const featuresOf = (image: CalibrationImage, c: CalibrationCase) => {
    let e = expanded.get(image);
    if (!e) {
      e = withContext(image.features, c.featureDims, context);
      expanded.set(image, e);
    }
    return e;
  };
  const picked: Array<{ image: CalibrationImage; c: CalibrationCase; pixel: number; label: number }> = [];
  cases.forEach((c, ci) => {
    const random = seededRandom((options.seed ?? 1) * 1009 + ci);
    const channelOf = new Int16Array(256).fill(-1);
    c.labelValues.forEach((v, k) => (channelOf[v] = k));
    const foreground: Array<{ image: CalibrationImage; pixel: number; label: number }> = [];
    const background: Array<{ image: CalibrationImage; pixel: number; label: number }> = [];
    for (const phase of c.phases) {
      for (const image of phase.images) {
        if (!image.reference) continue;
        for (let r = 0; r < c.modelRows; r++) {
          for (let col = 0; col < c.modelColumns; col++) {
            const source = nearestSource(image.mapping, r, col);
            if (source < 0) continue;
            const label = channelOf[image.reference[source]!]!;
            if (label < 0) continue; // a label value the model has no channel for: not trained on
            (label === 0 ? background : foreground).push({ image, pixel: r * c.modelColumns + col, label });
          }
        }
      }
    }
    const take = <T>(from: T[], count: number): T[] => {
      // Partial Fisher-Yates: the first `count` items become a uniform draw.
      const n = Math.min(count, from.length);
      for (let i = 0; i < n; i++) {
        const j = i + Math.floor(random() * (from.length - i));
        [from[i], from[j]] = [from[j]!, from[i]!];
      }
      return from.slice(0, n);
    };
    const fg = take(foreground, Math.floor(perStudy / (1 + ratio)));
    const bg = take(background, Math.min(perStudy - fg.length, Math.max(Math.round(fg.length * ratio), Math.floor(perStudy / 4))));
    for (const s of [...fg, ...bg]) picked.push({ ...s, c });
  });
  const count = picked.length;
  const features = new Float32Array(count * F);
  const logits = new Float32Array(count * K);
  const labels = new Uint8Array(count);
  picked.forEach((s, i) => {
    const r = Math.floor(s.pixel / s.c.modelColumns);
    const col = s.pixel - r * s.c.modelColumns;
    const e = featuresOf(s.image, s.c);
    featuresAt(e.data, e.dims, s.c.modelRows, s.c.modelColumns, r, col, features, i * F);
    const plane = s.c.modelRows * s.c.modelColumns;
    for (let k = 0; k < K; k++) logits[i * K + k] = s.image.logits[k * plane + s.pixel]!;
    labels[i] = s.label;
  });
  return { count, features, logits, labels };
}

// ---------------------------------------------------------------- prediction and scores

/** Label maps (source grids) of one phase, through the adapter (or the bare head), cleaned up as the pipeline does. */
export function predictPhase(c: CalibrationCase, phase: CalibrationPhase, adapter?: LogitAdapter): Uint8Array[] {
  const K = c.labelValues.length;
  const maps = phase.images.map((image) => {
    let logits = image.logits;
    if (adapter) {
      logits = Float32Array.from(image.logits);
      adapter.apply(logits, image.features, c.featureDims, c.modelRows, c.modelColumns);
    }
    const map = new Uint8Array(image.plane.rows * image.plane.columns);
    labelsFromLogits(logits, 0, K, image.mapping, c.labelValues, map);
    return map;
  });
  const { rows, columns } = phase.images[0]!.plane;
  if (phase.images.every((i) => i.plane.rows === rows && i.plane.columns === columns)) {
    const volume = new Uint8Array(maps.length * rows * columns);
    maps.forEach((m, s) => volume.set(m, s * rows * columns));
    cleanUpPhase(volume, maps.length, rows, columns);
    return maps.map((_, s) => volume.slice(s * rows * columns, (s + 1) * rows * columns));
  }
  for (const [s, m] of maps.entries()) cleanUpPhase(m, 1, phase.images[s]!.plane.rows, phase.images[s]!.plane.columns);
  return maps;
}

/** Scores of one study: Dice per structure over its annotated images, LVEF error when ED and ES are fully annotated. */
export interface CaseScore {
  readonly key: string;
  readonly dice: Readonly<Record<string, number | null>>;
  /** |predicted − reference| LVEF (points), at the reference's ED and ES phases; null when not fully annotated. */
  readonly lvefError: number | null;
}

function areaMm2(map: Uint8Array, label: number, plane: ImagePlane): number {
  let n = 0;
  for (let i = 0; i < map.length; i++) if (map[i] === label) n++;
  return n * plane.pixelSpacing[0] * plane.pixelSpacing[1];
}

/** The phases holding the largest and smallest reference LV volume among phases annotated on every slice. */
export function referenceEdEs(c: CalibrationCase): { ed: CalibrationPhase; es: CalibrationPhase } | undefined {
  const lv = c.segmentLabels['lv'];
  if (lv === undefined) return undefined;
  const full = c.phases.filter((p) => p.images.every((i) => i.reference));
  if (full.length < 2) return undefined;
  const slabs = slabThicknessesMm(c.slicePositionsMm, c.sliceThicknessMm);
  const volumes = full.map((p) => volumeMl(p.images.map((i) => areaMm2(i.reference!, lv, i.plane)), slabs));
  const ed = volumes.indexOf(Math.max(...volumes));
  const es = volumes.indexOf(Math.min(...volumes));
  if (ed === es || !(volumes[ed]! > 0)) return undefined;
  return { ed: full[ed]!, es: full[es]! };
}

export function scoreCase(c: CalibrationCase, adapter?: LogitAdapter): CaseScore {
  const keys = Object.keys(c.segmentLabels);
  const both: Record<string, number> = {};
  const sums: Record<string, number> = {};
  const predictions = new Map<CalibrationPhase, Uint8Array[]>();
  for (const phase of c.phases) {
    if (!phase.images.some((i) => i.reference)) continue;
    const predicted = predictPhase(c, phase, adapter);
    predictions.set(phase, predicted);
    phase.images.forEach((image, s) => {
      if (!image.reference) return;
      const p = predicted[s]!;
      for (const key of keys) {
        const label = c.segmentLabels[key]!;
        let inter = 0;
        let total = 0;
        for (let i = 0; i < p.length; i++) {
          const a = p[i] === label;
          const b = image.reference[i] === label;
          if (a && b) inter++;
          if (a) total++;
          if (b) total++;
        }
        both[key] = (both[key] ?? 0) + inter;
        sums[key] = (sums[key] ?? 0) + total;
      }
    });
  }
  const dice: Record<string, number | null> = {};
  for (const key of keys) dice[key] = (sums[key] ?? 0) > 0 ? (2 * both[key]!) / sums[key]! : null;
  let lvefError: number | null = null;
  const phases = referenceEdEs(c);
  const lv = c.segmentLabels['lv'];
  if (phases && lv !== undefined) {
    const slabs = slabThicknessesMm(c.slicePositionsMm, c.sliceThicknessMm);
    const volume = (phase: CalibrationPhase, maps: readonly Uint8Array[]) => volumeMl(maps.map((m, s) => areaMm2(m, lv, phase.images[s]!.plane)), slabs);
    const refEf = ejectionFractionPct(volume(phases.ed, phases.ed.images.map((i) => i.reference!)), volume(phases.es, phases.es.images.map((i) => i.reference!)));
    const edv = volume(phases.ed, predictions.get(phases.ed)!);
    const predEf = edv > 0 ? ejectionFractionPct(edv, volume(phases.es, predictions.get(phases.es)!)) : 0;
    lvefError = Math.abs(predEf - refEf);
  }
  return { key: c.key, dice, lvefError };
}

/** Mean Dice per structure and LVEF MAE over studies (null structures and errors left out). */
export interface SummaryMetrics {
  readonly dice: Readonly<Record<string, number | null>>;
  readonly lvefMae: number | null;
}

export function summarise(scores: readonly CaseScore[]): SummaryMetrics {
  const dice: Record<string, number | null> = {};
  const keys = [...new Set(scores.flatMap((s) => Object.keys(s.dice)))];
  for (const key of keys) {
    const values = scores.map((s) => s.dice[key]).filter((v): v is number => typeof v === 'number');
    dice[key] = values.length ? values.reduce((a, b) => a + b, 0) / values.length : null;
  }
  const errors = scores.map((s) => s.lvefError).filter((v): v is number => v !== null);
  return { dice, lvefMae: errors.length ? errors.reduce((a, b) => a + b, 0) / errors.length : null };
}

/**
 * Intensities of annotated pixels in the model's input space (each image's normalised window) with
 * their class channel, at most `perStudy` drawn evenly: what the intensity map is fitted on.
 */
export function intensitySamples(
  images: ReadonlyArray<{ readonly window: Float32Array; readonly reference: Uint8Array; readonly mapping: GridMapping }>,
  modelRows: number,
  modelColumns: number,
  labelValues: Uint8Array,
  perStudy = 20000,
): { values: Float32Array; labels: Uint8Array } {
  const channelOf = new Int16Array(256).fill(-1);
  labelValues.forEach((v, k) => (channelOf[v] = k));
  const values: number[] = [];
  const labels: number[] = [];
  for (const image of images) {
    for (let r = 0; r < modelRows; r++) {
      for (let c = 0; c < modelColumns; c++) {
        const source = nearestSource(image.mapping, r, c);
        if (source < 0) continue;
        const label = channelOf[image.reference[source]!]!;
        if (label < 0) continue;
        values.push(image.window[r * modelColumns + c]!);
        labels.push(label);
      }
    }
  }
  const stride = Math.max(1, Math.ceil(values.length / perStudy));
  const keep = Math.ceil(values.length / stride);
  const outValues = new Float32Array(keep);
  const outLabels = new Uint8Array(keep);
  for (let i = 0, j = 0; i < values.length; i += stride, j++) {
    outValues[j] = values[i]!;
    outLabels[j] = labels[i]!;
  }
  return { values: outValues, labels: outLabels };
}

// ---------------------------------------------------------------- end to end

/** LV figures of a study: the reference's at its ED and ES, or the pipeline's at the ED and ES it chose. */
export interface LvFigures {
  readonly lvedvMl: number;
  readonly lvesvMl: number;
  readonly lvefPct: number;
}

/** The reference's LV volumes and ejection fraction (its ED and ES annotated on every slice), or undefined. */
export function referenceLvFigures(c: CalibrationCase): LvFigures | undefined {
  const phases = referenceEdEs(c);
  const lv = c.segmentLabels['lv'];
  if (!phases || lv === undefined) return undefined;
  const slabs = slabThicknessesMm(c.slicePositionsMm, c.sliceThicknessMm);
  const volume = (phase: CalibrationPhase) => volumeMl(phase.images.map((i) => areaMm2(i.reference!, lv, i.plane)), slabs);
  const lvedvMl = volume(phases.ed);
  const lvesvMl = volume(phases.es);
  return { lvedvMl, lvesvMl, lvefPct: ejectionFractionPct(lvedvMl, lvesvMl) };
}

/** One study end to end against its reference: LVEF error (points) and the relative error of EDV and ESV (mean of the two). */
export interface EndToEndScore {
  readonly key: string;
  readonly lvefError: number;
  readonly volumeError: number;
}

/** The pipeline's figures (null: it found no LV, scored as the worst case) against the reference's. */
export function scoreEndToEnd(key: string, reference: LvFigures, pipeline: LvFigures | null): EndToEndScore {
  if (!pipeline) return { key, lvefError: reference.lvefPct, volumeError: 1 };
  const relative = (a: number, b: number) => (b > 0 ? Math.abs(a - b) / b : a > 0 ? 1 : 0);
  return {
    key,
    lvefError: Math.abs(pipeline.lvefPct - reference.lvefPct),
    volumeError: (relative(pipeline.lvedvMl, reference.lvedvMl) + relative(pipeline.lvesvMl, reference.lvesvMl)) / 2,
  };
}

/** Mean LVEF error (points) and mean relative volume error over studies scored end to end. */
export interface EndToEndSummary {
  readonly studies: number;
  readonly lvefMae: number;
  readonly volumeError: number;
}

export function summariseEndToEnd(scores: readonly EndToEndScore[]): EndToEndSummary | null {
  if (scores.length === 0) return null;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  return { studies: scores.length, lvefMae: mean(scores.map((s) => s.lvefError)), volumeError: mean(scores.map((s) => s.volumeError)) };
}
