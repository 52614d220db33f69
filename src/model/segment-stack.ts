/**
 * Segments a whole cine stack: pre-process every image once, run the network in batches (channels
 * assembled from the already normalised neighbours), post-process logits back onto each source grid,
 * clean up per phase. Returns label maps, per-slice embeddings and, on request, decoder features.
 */
import type { CineGrid, LabelMap, SourceImage } from '../study/types.js';
import type { LoadedManifest } from './manifest.js';
import type { ModelInputShape, RunOptions, SliceBatchOutputs } from './session.js';
import { channelSlices, mappingFor, preprocessImage, type ModelWindow } from './preprocess.js';
import { argmaxPlane, labelsFromLogits } from './postprocess.js';
import { cleanUpPhase } from './components.js';
import { foregroundEntropy, type ImageUncertainty, type SliceConfidence } from './confidence.js';

/**
 * What runs the network: a ModelRunner's `run`, bound (features fetched only when `withFeatures`).
 * segmentStack gives up each batch's input (`transfer`) and keeps several batches in flight.
 */
export type SliceInference = (input: Float32Array, count: number, withFeatures: boolean, options?: RunOptions) => Promise<SliceBatchOutputs>;

/**
 * A site calibration's segmentation adapter: rewrites one image's logits ([K, H, W] on the model
 * grid, in place) from those logits and the image's decoder features ([F, h, w]). The model stays
 * frozen; the adapter is pure maths on what it exports (src/calibration/).
 */
export interface LogitAdapter {
  apply(logits: Float32Array, features: Float32Array, featureDims: readonly [number, number, number], rows: number, columns: number): void;
}

export interface SegmentStackOptions {
  /** Slices per onnxruntime call. @defaultValue SEGMENTATION_BATCH_SIZE (4) */
  batchSize?: number;
  /**
   * Keep the decoder features (and the model-grid logits) of every image, or of the images the
   * predicate selects, for site calibration. @defaultValue false
   */
  keepFeatures?: boolean | ((slice: number, phase: number) => boolean);
  /** Calibration adapter applied to every image's logits before post-processing. */
  adapter?: LogitAdapter;
  /** Calibration intensity map applied to every normalised window before the network (in place). */
  inputTransform?: (window: Float32Array) => void;
  /** Run the clean-up (largest component, hole filling). @defaultValue true */
  cleanUp?: boolean;
  /**
   * Find the heart on the whole field of view first (a coarse pass of the model) and centre the
   * model window on it, instead of on the image centre. @defaultValue true
   */
  locate?: boolean;
  /**
   * What runs the location pass, when not the stack's own inference: the model without a
   * calibration's logit adapter folded into it (an adapter is fitted at the manifest spacing, not the
   * coarse one). @defaultValue the stack's inference
   */
  locateWith?: SliceInference;
  /**
   * The model window's centre (mm from the image centre, rows and columns) when already known: no
   * location pass. Site calibration locates the heart once and fits on that same window.
   */
  centreMm?: readonly [number, number];
  /** Checked before every batch: an aborted run stops with the abort reason. */
  signal?: AbortSignal;
  /** Batches handed to the network before the oldest is post-processed. @defaultValue BATCHES_IN_FLIGHT (2) */
  batchesInFlight?: number;
}

/** Where the heart was found: the model window's centre in mm from the image centre (rows, columns). */
export interface HeartLocation {
  readonly centreMm: readonly [number, number];
  /** Spacing of the coarse pass (mm), or undefined when the window already covered the field of view. */
  readonly coarseSpacingMm?: number;
  /** Slices of the coarse pass on which the model found any structure. */
  readonly slicesFound: number;
}

export interface StackSegmentation {
  /** [slice][phase], on each source image's own grid. */
  readonly labelMaps: LabelMap[][];
  /** [slice][phase]: the model's global embedding of that image. */
  readonly embeddings: Float32Array[][];
  /** [slice][phase]: predictive entropy over the image's foreground (model grid), for quality control. */
  readonly confidence: SliceConfidence[][];
  /** [slice][phase]: agreement across test-time transforms, when the inference ran them (tta.ts). */
  readonly uncertainty?: ImageUncertainty[][];
  /** Where the model window was centred (the located heart). */
  readonly location: HeartLocation;
  /**
   * [slice][phase] decoder features ([F, h, w] each) and the bare model's logits on the model grid
   * ([K, H, W], before any adapter), when asked for; unselected images are undefined.
   */
  readonly features?: {
    readonly dims: readonly [number, number, number];
    readonly data: Array<Array<Float32Array | undefined>>;
    readonly logits: Array<Array<Float32Array | undefined>>;
  };
  readonly timingsMs: { preprocess: number; inference: number; postprocess: number };
}

/** Label value written for each logit channel: 0 for background, then the manifest's segments in order. */
export function channelLabelValues(manifest: LoadedManifest): Uint8Array {
  return Uint8Array.from([0, ...manifest.segments.map((s) => s.labelValue)]);
}

function checkStackGeometry(grid: CineGrid): void {
  const first = grid.images[0]?.[0];
  if (!first) throw new Error('the cine grid holds no images');
  for (const row of grid.images) {
    for (const image of row) {
      if (image.pixels.length !== image.plane.rows * image.plane.columns) {
        throw new Error(`image ${image.sopInstanceUID}: pixel data holds ${image.pixels.length} values for ${image.plane.rows}x${image.plane.columns}`);
      }
    }
  }
}

/** True when every image of the stack shares rows and columns (3D clean-up possible). */
function sharedMatrix(grid: CineGrid): boolean {
  const { rows, columns } = grid.images[0]![0]!.plane;
  return grid.images.every((row) => row.every((i) => i.plane.rows === rows && i.plane.columns === columns));
}

/**
 * Images per inference batch. onnxruntime holds the activations of a whole batch: peak RSS of one
 * PULSE-lite session (88 MB before its first run) was 565 MB running batches of 16 with the memory
 * arena, 354 MB without it, 197 MB with batches of 4 and no arena; time per image was no worse with 4
 * in the same run on 2 cores (`npm run bench` measures it).
 */
export const SEGMENTATION_BATCH_SIZE = 4;

/**
 * Batches waiting on the network at a time: one running, one ready to start the moment it ends,
 * while this thread post-processes the one before and prepares the one after. More would only hold
 * more memory (each batch of 4 is 0.4 MB in and 1.6 MB out on PULSE-lite's window).
 */
export const BATCHES_IN_FLIGHT = 2;

export async function segmentStack(
  grid: CineGrid,
  manifest: LoadedManifest,
  shape: ModelInputShape,
  infer: SliceInference,
  options: SegmentStackOptions = {},
): Promise<StackSegmentation> {
  checkStackGeometry(grid);
  const batchSize = options.batchSize ?? SEGMENTATION_BATCH_SIZE;
  const { slices, phases } = grid;
  const plane = shape.rows * shape.columns;
  const timingsMs = { preprocess: 0, inference: 0, postprocess: 0 };

  // 0. Where is the heart? A coarse pass over the whole field of view of the mid-ventricular slices.
  let t = performance.now();
  const location: HeartLocation = options.centreMm
    ? { centreMm: options.centreMm, slicesFound: 0 }
    : (options.locate ?? true)
      ? await locateHeart(grid, manifest, shape, options.locateWith ?? infer, options.inputTransform)
      : { centreMm: [0, 0], slicesFound: 0 };
  const modelWindow: ModelWindow = { centreMm: location.centreMm };
  timingsMs.inference += performance.now() - t;

  // 1. Every image normalised once, a phase at a time as the batches ([phase][slice] order) reach it:
  // only the phases the current batch spans are held, not the whole study's windows (12 x 30 images
  // of 160 x 160 took 37 MB). A phase's windows are all there before a batch assembles its channels.
  const scratch = new Float32Array(plane);
  const phaseWindows = new Map<number, Float32Array>();
  const spare: Float32Array[] = [];
  const windowsOf = (p: number): Float32Array => {
    let windows = phaseWindows.get(p);
    if (windows) return windows;
    windows = spare.pop() ?? new Float32Array(slices * plane);
    for (let s = 0; s < slices; s++) {
      const window = windows.subarray(s * plane, (s + 1) * plane);
      preprocessImage(grid.images[s]![p]!, shape, manifest, window, scratch, modelWindow);
      options.inputTransform?.(window);
    }
    phaseWindows.set(p, windows);
    return windows;
  };
  const channelsOf = Array.from({ length: slices }, (_, s) => channelSlices(s, slices, shape.channels, manifest.input.channels));

  const labelValues = channelLabelValues(manifest);
  const classes = labelValues.length;
  const labels: Uint8Array[][] = Array.from({ length: slices }, () => new Array<Uint8Array>(phases));
  const embeddings: Float32Array[][] = Array.from({ length: slices }, () => new Array<Float32Array>(phases));
  const confidence: SliceConfidence[][] = Array.from({ length: slices }, () => new Array<SliceConfidence>(phases));
  let uncertainty: ImageUncertainty[][] | undefined;
  const keep = typeof options.keepFeatures === 'function' ? options.keepFeatures : options.keepFeatures ? () => true : undefined;
  const featureData: Array<Array<Float32Array | undefined>> | undefined = keep ? Array.from({ length: slices }, () => new Array<Float32Array | undefined>(phases)) : undefined;
  const keptLogits: Array<Array<Float32Array | undefined>> | undefined = keep ? Array.from({ length: slices }, () => new Array<Float32Array | undefined>(phases)) : undefined;
  const adapter = options.adapter;
  let featureDims: readonly [number, number, number] = [0, 0, 0];

  const total = slices * phases;
  const argmax = new Uint8Array(plane);
  const withFeatures = featureData !== undefined || adapter !== undefined;
  const cleaner = (options.cleanUp ?? true) ? phaseCleaner(grid, labels) : undefined;
  let cleanedPhases = 0;
  const outPlane = classes * plane;
  const batchValues = shape.channels * plane;

  // Batches handed to the network and not yet post-processed, oldest first. With the model on a
  // thread of its own (inference-thread.ts), batch k+1 is prepared and batch k-1 post-processed while
  // batch k runs; at most `depth` batches wait on the network at a time, so memory holds that many
  // batches' inputs and outputs, not the study's.
  const depth = options.batchesInFlight ?? BATCHES_IN_FLIGHT;
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`batchesInFlight must be a positive integer, got ${depth}`);
  const inFlight: Array<{ readonly start: number; readonly count: number; readonly outputs: Promise<SliceBatchOutputs> }> = [];

  const postprocessOldest = async (): Promise<void> => {
    const { start, count, outputs } = inFlight.shift()!;
    // The time the pipeline waits for the network: with batches in flight, the part of the inference
    // that its own pre- and post-processing did not cover.
    t = performance.now();
    const out = await outputs;
    timingsMs.inference += performance.now() - t;

    t = performance.now();
    if (out.logits.length !== count * outPlane) {
      throw new Error(`model ${manifest.name}: segmentation output holds ${out.logits.length} values, expected ${count} x ${classes} x ${shape.rows} x ${shape.columns}`);
    }
    const d = out.embedding.length / count;
    if (withFeatures && (!out.features || !out.featureDims)) throw new Error(`model ${manifest.name}: decoder features were asked for and not returned`);
    const f = out.featureDims ? out.featureDims[0] * out.featureDims[1] * out.featureDims[2] : 0;
    if (out.featureDims) featureDims = out.featureDims;
    for (let b = 0; b < count; b++) {
      const index = start + b;
      const p = Math.floor(index / slices);
      const s = index - p * slices;
      const image = grid.images[s]![p]!;
      const map = new Uint8Array(image.plane.rows * image.plane.columns);
      const kept = keep?.(s, p) ?? false;
      if (kept) {
        featureData![s]![p] = out.features!.slice(b * f, (b + 1) * f);
        keptLogits![s]![p] = out.logits.slice(b * outPlane, (b + 1) * outPlane);
      }
      if (adapter) {
        const imageLogits = out.logits.subarray(b * outPlane, (b + 1) * outPlane);
        adapter.apply(imageLogits, out.features!.subarray(b * f, (b + 1) * f), out.featureDims!, shape.rows, shape.columns);
      }
      // One arg-max pass per image serves the label maps and the confidence.
      argmaxPlane(out.logits, b * outPlane, classes, plane, argmax);
      labelsFromLogits(out.logits, b * outPlane, classes, mappingFor(image, shape, manifest, modelWindow), labelValues, map, argmax);
      labels[s]![p] = map;
      embeddings[s]![p] = out.embedding.slice(b * d, (b + 1) * d);
      // On the logits as predicted (after a calibration's adapter): what the label maps come from.
      confidence[s]![p] = foregroundEntropy(out.logits, b * outPlane, classes, plane, argmax);
      const u = out.uncertainty?.[b];
      if (u) (uncertainty ??= Array.from({ length: slices }, () => new Array<ImageUncertainty>(phases)))[s]![p] = u;
    }
    // A phase whose every slice is labelled is cleaned up now, while the network runs the next batches.
    const labelledPhases = Math.floor((start + count) / slices);
    for (; cleaner && cleanedPhases < labelledPhases; cleanedPhases++) cleaner(cleanedPhases);
    timingsMs.postprocess += performance.now() - t;
  };

  for (let start = 0; start < total; start += batchSize) {
    options.signal?.throwIfAborted();
    const count = Math.min(batchSize, total - start);
    t = performance.now();
    // Phases before this batch are done: their buffers serve the next phases.
    const firstPhase = Math.floor(start / slices);
    for (const [p, windows] of phaseWindows) {
      if (p >= firstPhase) continue;
      phaseWindows.delete(p);
      spare.push(windows);
    }
    // A buffer of its own per batch: it moves to the inference thread (no copy) and stays there.
    const input = new Float32Array(count * batchValues);
    for (let b = 0; b < count; b++) {
      const index = start + b;
      const p = Math.floor(index / slices);
      const s = index - p * slices;
      const windows = windowsOf(p);
      const sources = channelsOf[s]!;
      for (let ch = 0; ch < sources.length; ch++) {
        const from = sources[ch]! * plane;
        input.set(windows.subarray(from, from + plane), (b * shape.channels + ch) * plane);
      }
    }
    timingsMs.preprocess += performance.now() - t;

    const outputs = infer(input, count, withFeatures, { transfer: true });
    // Awaited in order below; one that fails while an earlier batch is awaited is not unhandled.
    outputs.catch(() => undefined);
    inFlight.push({ start, count, outputs });
    if (inFlight.length >= depth) await postprocessOldest();
  }
  while (inFlight.length > 0) {
    options.signal?.throwIfAborted();
    await postprocessOldest();
  }

  t = performance.now();
  const labelMaps = labels.map((row, s) => row.map((map, p): LabelMap => ({ image: grid.images[s]![p]! as SourceImage, labels: map })));
  timingsMs.postprocess += performance.now() - t;

  return {
    labelMaps,
    embeddings,
    confidence,
    ...(uncertainty ? { uncertainty } : {}),
    location,
    ...(featureData && keptLogits ? { features: { dims: featureDims, data: featureData, logits: keptLogits } } : {}),
    timingsMs,
  };
}

/**
 * Finds the heart on the whole field of view: the mid-ventricular slices (first phase) through the
 * model at a pixel spacing coarse enough for its window to hold the whole image, then the median
 * centroid of everything it calls heart, in mm from the image centre. When the window at the
 * manifest spacing already holds the whole image, or the heart lies well inside the centred window,
 * the image centre is kept (the model's training crop). A moved window is kept inside the image
 * where the image is larger than it. A site calibration's intensity map, when
 * given, is applied to the coarse input as to the model window.
 */
export async function locateHeart(
  grid: CineGrid,
  manifest: LoadedManifest,
  shape: ModelInputShape,
  infer: SliceInference,
  inputTransform?: (window: Float32Array) => void,
): Promise<HeartLocation> {
  const first = grid.images[0]![0]!.plane;
  const [sr, sc] = first.pixelSpacing;
  const [mr, mc] = manifest.input.pixelSpacingMm;
  const coarse = Math.max(mr, mc, (first.rows * sr) / shape.rows, (first.columns * sc) / shape.columns);
  if (coarse <= Math.max(mr, mc) * 1.05) return { centreMm: [0, 0], slicesFound: 0 };
  const window: ModelWindow = { spacingMm: [coarse, coarse] };
  const plane = shape.rows * shape.columns;
  // The middle third of the stack (at least one slice, at most three).
  const mid = Math.floor(grid.slices / 2);
  const picks = [...new Set([mid - 1, mid, mid + 1].map((s) => Math.min(Math.max(s, 0), grid.slices - 1)))];
  const input = new Float32Array(picks.length * shape.channels * plane);
  const one = new Float32Array(plane);
  const scratch = new Float32Array(plane);
  picks.forEach((s, b) => {
    preprocessImage(grid.images[s]![0]!, shape, manifest, one, scratch, window);
    // A site calibration's intensity map: the model sees the intensities it was calibrated on. Its
    // logit adapter is not applied here (it was fitted at the manifest spacing, not the coarse one).
    inputTransform?.(one);
    for (let ch = 0; ch < shape.channels; ch++) input.set(one, (b * shape.channels + ch) * plane);
  });
  const out = await infer(input, picks.length, false);
  const classes = manifest.segments.length + 1;
  // The heart's box over the picked slices (mm from the image centre) and its centroid per slice.
  const box = { top: Infinity, bottom: -Infinity, left: Infinity, right: -Infinity };
  const rows: number[] = [];
  const columns: number[] = [];
  const toMm = (index: number, count: number): number => (index - (count - 1) / 2) * coarse;
  picks.forEach((_, b) => {
    const offset = b * classes * plane;
    const found: number[] = [];
    for (let i = 0; i < plane; i++) {
      let best = 0;
      let bestValue = out.logits[offset + i]!;
      for (let k = 1; k < classes; k++) {
        const v = out.logits[offset + k * plane + i]!;
        if (v > bestValue) ((bestValue = v), (best = k));
      }
      if (best !== 0) found.push(i);
    }
    // A handful of pixels is noise, not a heart.
    if (found.length < 20) return;
    let sumR = 0;
    let sumC = 0;
    for (const i of found) {
      const r = toMm(Math.floor(i / shape.columns), shape.rows);
      const c = toMm(i % shape.columns, shape.columns);
      sumR += r;
      sumC += c;
      box.top = Math.min(box.top, r);
      box.bottom = Math.max(box.bottom, r);
      box.left = Math.min(box.left, c);
      box.right = Math.max(box.right, c);
    }
    rows.push(sumR / found.length);
    columns.push(sumC / found.length);
  });
  if (rows.length === 0) return { centreMm: [0, 0], coarseSpacingMm: coarse, slicesFound: 0 };
  // The centred window (the model's training crop) is kept whenever the heart, with a margin for the
  // slices not looked at and the cardiac motion, lies inside it: a centred study is processed
  // exactly as before. Otherwise the window moves onto the heart.
  const margin = 20;
  const halfRows = (shape.rows * mr) / 2;
  const halfColumns = (shape.columns * mc) / 2;
  const inside = box.top - margin >= -halfRows && box.bottom + margin <= halfRows && box.left - margin >= -halfColumns && box.right + margin <= halfColumns;
  if (inside) return { centreMm: [0, 0], coarseSpacingMm: coarse, slicesFound: rows.length };
  const median = (v: number[]): number => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  // The window stays inside the image where the image is larger than it. Centred on a heart near
  // the image edge it would be partly zero padding, which the model rarely saw in training (ACDC
  // images are larger than its window) and which moves the window's percentiles and z-score. The
  // clamped window still holds the heart: the heart lies inside the image and is smaller than the
  // window, and the window only moves back from the edge the heart is near. Measured on
  // bench/locate-eval.ts (EVAL.md): it helps most where the image edge cuts the heart and costs
  // some Dice where a whole heart then lies at the window's very edge.
  const place = (centroid: number, imageHalf: number, windowHalf: number): number => {
    const room = Math.max(imageHalf - windowHalf, 0);
    return Math.min(Math.max(centroid, -room), room);
  };
  const imageHalfRows = (first.rows * sr) / 2;
  const imageHalfColumns = (first.columns * sc) / 2;
  return {
    centreMm: [place(median(rows), imageHalfRows, halfRows), place(median(columns), imageHalfColumns, halfColumns)],
    coarseSpacingMm: coarse,
    slicesFound: rows.length,
  };
}

/**
 * Clean-up of one phase (called once per phase, as its label maps are complete): in 3D over the
 * stack when its images share a matrix, else slice by slice.
 */
function phaseCleaner(grid: CineGrid, labels: Uint8Array[][]): (phase: number) => void {
  const { slices } = grid;
  if (sharedMatrix(grid)) {
    const { rows, columns } = grid.images[0]![0]!.plane;
    const size = rows * columns;
    const volume = new Uint8Array(slices * size);
    return (p) => {
      for (let s = 0; s < slices; s++) volume.set(labels[s]![p]!, s * size);
      cleanUpPhase(volume, slices, rows, columns);
      for (let s = 0; s < slices; s++) labels[s]![p]!.set(volume.subarray(s * size, (s + 1) * size));
    };
  }
  return (p) => {
    for (let s = 0; s < slices; s++) {
      const { rows, columns } = grid.images[s]![p]!.plane;
      cleanUpPhase(labels[s]![p]!, 1, rows, columns);
    }
  };
}
