/**
 * The pipeline in a worker thread. onnxruntime-node runs inference synchronously on the thread that
 * calls it: on the main thread a study blocked the HTTP face (health checks, webhook) and the lease
 * heartbeat for seconds. Here one thread per concurrent study runs processStudy; the main thread only
 * moves bytes. Errors cross the thread boundary by name and are rebuilt as the same classes, so the
 * worker still tells bad input from our bugs.
 */
import { Worker as Thread, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { ProcessStudyOptions } from '../pipeline/process-study.js';
import type { CalibrationProfile } from '../calibration/profile.js';
import type { StudyInstance } from '../core/study-instance.js';
import type { StudyOutputs } from '../core/result.js';
import { rebuildError, serializeError, type SerializedError } from './thread-errors.js';

export { rebuildError } from './thread-errors.js';

interface Request {
  readonly id: number;
  readonly instances: readonly StudyInstance[];
  /** The site calibration of this study (a plain JSON profile: it crosses the thread boundary as is). */
  readonly calibration?: CalibrationProfile | null;
}

/** The job's signal aborted: the thread's run stops at its next check. */
interface Abort {
  readonly abort: number;
}

type Reply =
  | { readonly id: number; readonly ok: true; readonly outputs: StudyOutputs }
  | { readonly id: number; readonly ok: false; readonly error: SerializedError };

/** A pool of pipeline threads: `size` studies at a time; more wait for a free thread. */
export class PipelineThreads {
  private readonly idle: Thread[] = [];
  private readonly all = new Set<Thread>();
  private readonly waiting: Array<(thread: Thread) => void> = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly options: ProcessStudyOptions,
    private readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  }

  /**
   * With `transfer`, the instances' buffers move to the thread instead of being copied (the caller's
   * views are detached): a study's bytes are held once, not twice, while it is processed.
   */
  async process(instances: readonly StudyInstance[], options: { readonly calibration?: CalibrationProfile | null; readonly signal?: AbortSignal; readonly transfer?: boolean } = {}): Promise<StudyOutputs> {
    const { calibration = null, signal, transfer = false } = options;
    signal?.throwIfAborted();
    const thread = await this.acquire();
    const id = this.nextId++;
    // The signal cannot cross threads: its abort is passed on as a message.
    const onAbort = () => thread.postMessage({ abort: id } satisfies Abort);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise<StudyOutputs>((resolve, reject) => {
        const onMessage = (reply: Reply) => {
          if (reply.id !== id) return;
          cleanup();
          if (reply.ok) resolve(reply.outputs);
          else reject(rebuildError(reply.error));
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        const onExit = (code: number) => {
          cleanup();
          reject(new Error(`the pipeline thread exited (code ${code}) while processing a study`));
        };
        const cleanup = () => {
          signal?.removeEventListener('abort', onAbort);
          thread.off('message', onMessage);
          thread.off('error', onError);
          thread.off('exit', onExit);
        };
        thread.on('message', onMessage);
        thread.once('error', onError);
        thread.once('exit', onExit);
        // Small buffers may be slices of Node's shared Buffer pool, which must never move: only the
        // large ones (a retrieval's body) are transferred; the rest are copied as before.
        const moved = transfer ? [...new Set(instances.map((i) => i.bytes.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > Buffer.poolSize) : [];
        thread.postMessage({ id, instances, calibration } satisfies Request, moved);
      });
    } finally {
      this.release(thread);
    }
  }

  /** Ends every thread. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all].map((t) => t.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private acquire(): Promise<Thread> {
    if (this.closed) return Promise.reject(new Error('the pipeline threads are closed'));
    const ready = this.idle.pop();
    if (ready !== undefined) return Promise.resolve(ready);
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(thread: Thread): void {
    if (!this.all.has(thread)) return;
    const next = this.waiting.shift();
    if (next !== undefined) next(thread);
    else this.idle.push(thread);
  }

  private spawn(): Thread {
    const thread = new Thread(fileURLToPath(import.meta.url), { workerData: this.options });
    // An idle thread must not keep the process alive.
    thread.unref();
    thread.once('exit', () => {
      this.all.delete(thread);
      const at = this.idle.indexOf(thread);
      if (at >= 0) this.idle.splice(at, 1);
    });
    this.all.add(thread);
    return thread;
  }
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const options = workerData as ProcessStudyOptions;
  const { processStudy } = await import('../pipeline/process-study.js');
  const { ModelRegistry } = await import('../model/registry.js');
  // One registry per thread: the session is created on the thread's first study and kept.
  const models = new ModelRegistry();
  const running = new Map<number, AbortController>();
  port.on('message', (message: Request | Abort) => {
    if ('abort' in message) {
      running.get(message.abort)?.abort(new Error('the job was stopped'));
      return;
    }
    const request = message;
    const stop = new AbortController();
    running.set(request.id, stop);
    processStudy(request.instances, { ...options, calibration: request.calibration ?? null, models, signal: stop.signal })
      .then(
        (outputs) => port.postMessage({ id: request.id, ok: true, outputs } satisfies Reply),
        (error: unknown) => port.postMessage({ id: request.id, ok: false, error: serializeError(error) } satisfies Reply),
      )
      .finally(() => running.delete(request.id));
  });
}
