/**
 * A site calibration in a worker thread. Reading the annotated studies (the frozen model's coarse
 * pass), the features, the fit and the leave-one-study-out evaluation are seconds of synchronous work
 * each; on the main thread they held up HTTP answers and the queue's lease heartbeats (a replica could
 * take a running job over). Here the main thread only retrieves the studies and relays progress; the
 * thread reads, fits, decides and stores (the calibration store is files, safe from any thread), then
 * ends. One thread per calibration: they are rare, and its model session goes with it.
 *
 * Cancellation: the caller's AbortSignal cannot cross threads, so its abort travels as a message; the
 * thread stops at its next unit of work and stores nothing.
 */
import { Worker as Thread, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { CalibrationProfile, PromotionRule } from '../calibration/profile.js';
import type { AdapterCandidate } from '../calibration/fit.js';
import type { StudyInstance } from '../core/study-instance.js';
import { rebuildError, serializeError, type SerializedError } from './thread-errors.js';

/** What a calibration thread is given (structured-cloned into it). */
export interface CalibrationThreadRequest {
  readonly kind: 'pulse-calibration-thread';
  /** The data folder whose calibrations/ the profile is stored in (and activated, when promoted). */
  readonly dataDir: string;
  /** Model manifest; the bundled PULSE-lite when unset. */
  readonly manifestPath?: string;
  /** onnxruntime intra-op threads. @defaultValue 1 */
  readonly threads?: number;
  /** The annotated studies: where each came from (for messages) and its instances (images + reference SEG). */
  readonly studies: ReadonlyArray<{ readonly where: string; readonly instances: readonly StudyInstance[] }>;
  readonly rule?: Partial<PromotionRule>;
  readonly candidates?: readonly AdapterCandidate[];
  readonly headIterations?: number;
}

type Message =
  | { readonly progress: { readonly done: number; readonly total: number; readonly what: string } }
  | { readonly ok: true; readonly profile: CalibrationProfile }
  | { readonly ok: false; readonly error: SerializedError };

export interface CalibrationThreadOptions {
  /** Aborted: the thread stops at its next unit of work; the promise rejects with a 'cancelled' error. */
  readonly signal?: AbortSignal;
  /** Progress over reading the studies and the fit, as units of work done of a total. */
  readonly onProgress?: (done: number, total: number, what: string) => void;
}

/** Runs one calibration in a fresh worker thread; resolves with the stored profile. */
export function calibrateInThread(request: Omit<CalibrationThreadRequest, 'kind'>, options: CalibrationThreadOptions = {}): Promise<CalibrationProfile> {
  const { signal, onProgress } = options;
  if (signal?.aborted) return Promise.reject(new Error('the calibration was cancelled'));
  // The studies' bytes move to the thread rather than being copied (K studies can be hundreds of MB);
  // the caller must not read them afterwards. Small pooled buffers are copied as usual.
  const transferList = [...new Set(request.studies.flatMap((s) => s.instances.map((i) => i.bytes.buffer)))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > Buffer.poolSize);
  const thread = new Thread(fileURLToPath(import.meta.url), { workerData: { ...request, kind: 'pulse-calibration-thread' } satisfies CalibrationThreadRequest, transferList });
  return new Promise<CalibrationProfile>((resolve, reject) => {
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      outcome();
      // The thread has answered (or failed): end it; its model session goes with it.
      void thread.terminate();
    };
    const onAbort = () => thread.postMessage({ abort: true });
    signal?.addEventListener('abort', onAbort, { once: true });
    thread.on('message', (message: Message) => {
      if ('progress' in message) {
        onProgress?.(message.progress.done, message.progress.total, message.progress.what);
        return;
      }
      if (message.ok) finish(() => resolve(message.profile));
      else finish(() => reject(signal?.aborted ? new Error('the calibration was cancelled') : rebuildError(message.error)));
    });
    thread.once('error', (error) => finish(() => reject(error)));
    thread.once('exit', (code) => finish(() => reject(new Error(`the calibration thread exited (code ${code}) before it answered`))));
  });
}

const request = workerData as CalibrationThreadRequest | undefined;
if (!isMainThread && parentPort !== null && request?.kind === 'pulse-calibration-thread') {
  const port = parentPort;
  const stop = new AbortController();
  port.on('message', (message: { abort?: boolean }) => {
    if (message.abort) stop.abort(new Error('the calibration was cancelled'));
  });
  const progress = (done: number, total: number, what: string) => port.postMessage({ progress: { done, total, what } } satisfies Message);
  const run = async (): Promise<CalibrationProfile> => {
    const { annotatedStudy, calibrate } = await import('../pipeline/calibrate.js');
    const { CalibrationStore } = await import('../pipeline/calibration-store.js');
    const { ModelRegistry } = await import('../model/registry.js');
    const { loadModel } = await import('../pipeline/steps.js');
    const models = new ModelRegistry();
    try {
      const model = await loadModel(models, request.manifestPath, request.threads ?? 1);
      const k = request.studies.length;
      const studies = [];
      for (const study of request.studies) {
        stop.signal.throwIfAborted();
        progress(studies.length, k + 1, `reading study ${studies.length + 1}/${k}`);
        studies.push(await annotatedStudy(study.instances, study.where, model));
        // Let an abort message in between two studies.
        await new Promise((resolve) => setImmediate(resolve));
      }
      return await calibrate(model, studies, {
        store: new CalibrationStore(request.dataDir),
        ...(request.rule ? { rule: request.rule } : {}),
        ...(request.candidates ? { candidates: request.candidates } : {}),
        ...(request.headIterations ? { headIterations: request.headIterations } : {}),
        signal: stop.signal,
        onProgress: (done, total, what) => progress(k + done, k + total, what),
      });
    } finally {
      await models.close();
    }
  };
  run().then(
    (profile) => port.postMessage({ ok: true, profile } satisfies Message),
    (error: unknown) => port.postMessage({ ok: false, error: serializeError(error) } satisfies Message),
  );
}
