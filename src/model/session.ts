/**
 * The ONNX edge: one onnxruntime-node session for the per-slice network and one for the study head,
 * created once per (manifest, threads) by a ModelRegistry (registry.ts) and reused. Everything else in
 * src/model/ is pure.
 */
import { resolve } from 'node:path';
import ort from 'onnxruntime-node';
import type { LoadedManifest } from './manifest.js';
import type { ImageUncertainty } from './confidence.js';

/**
 * onnxruntime intra-op threads of a session unless told otherwise: 1. Measured on the 2-core
 * machine (bench/README table, docs/performance.md): PULSE-lite's convolutions are too small for a
 * second thread to pay; with 2 threads one study's inference cost 1.85x the CPU time of 1 thread
 * (the second thread mostly spins at the barriers) and was no faster in wall time, and slower as
 * soon as anything else ran. Run more studies at once (queue.concurrency, replicas) instead.
 */
export const DEFAULT_INTRA_OP_THREADS = 1;

export interface ModelSessionOptions {
  /** onnxruntime intra-op threads. @defaultValue DEFAULT_INTRA_OP_THREADS (1) */
  threads?: number;
}

/** Outputs of one batch, flat row-major as onnxruntime returns them. */
export interface SliceBatchOutputs {
  readonly count: number;
  /** [N, K, H, W] segmentation logits. */
  readonly logits: Float32Array;
  /** [N, D] global embedding. */
  readonly embedding: Float32Array;
  /** [N, F, h, w] decoder features, when asked for (fetching them copies megabytes per batch). */
  readonly features?: Float32Array;
  readonly featureDims?: readonly [number, number, number];
  /** Per image: agreement across test-time transforms, when the inference runs them (tta.ts). */
  readonly uncertainty?: readonly ImageUncertainty[];
}

/** Shape of the model input after the manifest: channels, rows, columns. */
export interface ModelInputShape {
  readonly channels: number;
  readonly rows: number;
  readonly columns: number;
}

export function inputShape(manifest: LoadedManifest): ModelInputShape {
  const [, channels, rows, columns] = manifest.input.shape;
  if (manifest.input.shape.length !== 4 || !(channels! > 0 && rows! > 0 && columns! > 0)) {
    throw new Error(`model manifest ${manifest.name}: input.shape must be [N, C, H, W] with fixed C, H, W`);
  }
  if (manifest.input.channels === 'adjacent-slices' && channels! % 2 !== 1) {
    throw new Error(`model manifest ${manifest.name}: 'adjacent-slices' needs an odd channel count, got ${channels}`);
  }
  return { channels: channels!, rows: rows!, columns: columns! };
}

/** How a caller hands a batch to `run`. */
export interface RunOptions {
  /**
   * The caller gives up `input`: its buffer may move to the inference thread instead of being copied
   * (the caller's view is then detached). @defaultValue false
   */
  readonly transfer?: boolean;
}

/**
 * What runs the model for a study: a session on the calling thread (ModelSession) or on a thread of
 * its own (InferenceThread, inference-thread.ts). Both give the same outputs, bit for bit.
 */
export interface ModelRunner {
  readonly manifest: LoadedManifest;
  readonly shape: ModelInputShape;
  /** `count` slices stored contiguously in `input` ([count, C, H, W]); features only when `withFeatures`. */
  run(input: Float32Array, count: number, withFeatures?: boolean, options?: RunOptions): Promise<SliceBatchOutputs>;
  /** The study head: one standardised feature vector in, group logits out. */
  runStudyHead(features: Float32Array, dims?: readonly number[]): Promise<Float32Array>;
  release(): Promise<void>;
}

/** `input` cut to the `count` slices a batch holds; throws when it holds fewer. */
export function batchInput(input: Float32Array, count: number, shape: ModelInputShape): Float32Array {
  const size = count * shape.channels * shape.rows * shape.columns;
  if (!Number.isInteger(count) || count < 1) throw new Error(`a model batch needs a positive slice count, got ${count}`);
  if (input.length < size) throw new Error(`model input holds ${input.length} values, ${count} slices need ${size}`);
  return input.length === size ? input : input.subarray(0, size);
}

/** onnxruntime on the calling thread: `run` blocks that thread for the batch's whole inference. */
export class ModelSession implements ModelRunner {
  private constructor(
    readonly manifest: LoadedManifest,
    readonly shape: ModelInputShape,
    private readonly slice: ort.InferenceSession,
    private readonly head: ort.InferenceSession,
  ) {}

  static async create(manifest: LoadedManifest, options: ModelSessionOptions = {}): Promise<ModelSession> {
    const threads = options.threads ?? DEFAULT_INTRA_OP_THREADS;
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // The CPU arena on, the memory pattern off. With batches of 16 the arena kept 565 MB at its peak
      // (354 MB without); with today's batches of 4 (segment-stack.ts) it holds one batch's
      // activations and reuses them, while without it every run mallocs and frees them and glibc's
      // heaps fragment: the pipeline thread through three 12 x 30 studies peaked at 328 MB with the
      // arena against 530-756 MB without, at the same time per study (npm run bench:memory measures
      // the service).
      enableCpuMemArena: true,
      enableMemPattern: false,
    };
    const shape = inputShape(manifest);
    const slice = await ort.InferenceSession.create(resolve(manifest.directory, manifest.model.file), sessionOptions);
    const head = await ort.InferenceSession.create(resolve(manifest.directory, manifest.diagnosis.studyHead.file), {
      ...sessionOptions,
      intraOpNumThreads: 1,
    });
    for (const name of [manifest.outputs.segmentation.name, manifest.outputs.embedding.name, manifest.outputs.features.name]) {
      if (!slice.outputNames.includes(name)) throw new Error(`model ${manifest.name}: output '${name}' named in the manifest is not in ${manifest.model.file}`);
    }
    if (!slice.inputNames.includes(manifest.input.name)) throw new Error(`model ${manifest.name}: input '${manifest.input.name}' is not in ${manifest.model.file}`);
    return new ModelSession(manifest, shape, slice, head);
  }

  /**
   * Runs `count` slices stored contiguously in `input` ([count, C, H, W]). Fetches the segmentation
   * and the embedding, and the decoder features only when `withFeatures` (site calibration).
   */
  async run(input: Float32Array, count: number, withFeatures = false, _options: RunOptions = {}): Promise<SliceBatchOutputs> {
    const { channels, rows, columns } = this.shape;
    const data = batchInput(input, count, this.shape);
    const tensor = new ort.Tensor('float32', data, [count, channels, rows, columns]);
    const { segmentation, embedding, features } = this.manifest.outputs;
    const fetches = withFeatures ? [segmentation.name, embedding.name, features.name] : [segmentation.name, embedding.name];
    const out = await this.slice.run({ [this.manifest.input.name]: tensor }, fetches);
    const result = { count, logits: out[segmentation.name]!.data as Float32Array, embedding: out[embedding.name]!.data as Float32Array };
    if (!withFeatures) return result;
    const featureTensor = out[features.name]!;
    const [, f, h, w] = featureTensor.dims as number[];
    return { ...result, features: featureTensor.data as Float32Array, featureDims: [f!, h!, w!] };
  }

  /** The study head: one standardised feature vector in, group logits out. */
  async runStudyHead(features: Float32Array, dims: readonly number[] = [1, features.length]): Promise<Float32Array> {
    const head = this.manifest.diagnosis.studyHead;
    const out = await this.head.run({ [head.input]: new ort.Tensor('float32', features, [...dims]) }, [head.output]);
    return out[head.output]!.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.slice.release();
    await this.head.release();
  }
}

