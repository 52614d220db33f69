/**
 * The model's onnxruntime sessions on a thread of their own. onnxruntime-node runs `session.run`
 * synchronously on the thread that calls it, so on the pipeline's thread a batch's inference and the
 * JavaScript around it (pre-processing the next batch, post-processing the last) could only take
 * turns. Here one worker thread holds the sessions (created once, as ModelSession creates them) and
 * runs the batches in the order they come; the caller's thread stays free meanwhile, and
 * segment-stack.ts keeps a bounded number of batches in flight. Inputs move to the thread as
 * transferable buffers when the caller gives them up, outputs always move back: nothing is copied
 * twice, and the outputs are onnxruntime's own, bit for bit.
 *
 * A thread that dies (an uncaught error, `stop()`) fails the calls in flight with a reason that says
 * so, never leaves them waiting; the next call starts a new thread. An error of onnxruntime itself
 * (a batch of the wrong shape) fails that call alone and the thread goes on.
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import type { LoadedManifest } from './manifest.js';
import { batchInput, DEFAULT_INTRA_OP_THREADS, inputShape, type ModelInputShape, type ModelRunner, type ModelSessionOptions, type RunOptions, type SliceBatchOutputs } from './session.js';

const THREAD_KIND = 'pulse-inference-thread';

interface ThreadData {
  readonly kind: typeof THREAD_KIND;
  readonly manifest: LoadedManifest;
  readonly threads: number;
}

type Request =
  | { readonly id: number; readonly kind: 'run'; readonly input: Float32Array; readonly count: number; readonly withFeatures: boolean }
  | { readonly id: number; readonly kind: 'head'; readonly features: Float32Array; readonly dims: readonly number[] };

interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
}

type Reply =
  | { readonly ready: true }
  | { readonly ready: false; readonly error: ThreadError }
  | { readonly id: number; readonly ok: true; readonly outputs?: SliceBatchOutputs; readonly head?: Float32Array }
  | { readonly id: number; readonly ok: false; readonly error: ThreadError };

interface Pending {
  readonly resolve: (reply: Extract<Reply, { ok: true }>) => void;
  readonly reject: (error: Error) => void;
}

/** How long `release()` waits for the thread to free its sessions before it is terminated. */
const RELEASE_TIMEOUT_MS = 5000;

function toThreadError(error: unknown): ThreadError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  return { name: error.name, message: error.message, ...(error.stack !== undefined ? { stack: error.stack } : {}) };
}

function fromThreadError(e: ThreadError): Error {
  const error = new Error(e.message);
  if (e.name !== 'Error') Object.defineProperty(error, 'name', { value: e.name });
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}

/** One live worker and what waits on it. */
interface Live {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  readonly pending: Map<number, Pending>;
  /** Set once the thread is gone (or going): later calls start another. */
  dead: boolean;
  /** Marks the thread gone and fails what waits on it, with `why` in the reason. */
  fail(why: string, restarts?: boolean): void;
}

/** The model's sessions on their own worker thread: a ModelRunner whose calls do not block the caller. */
export class InferenceThread implements ModelRunner {
  private live: Live | undefined;
  private nextId = 1;

  private constructor(
    readonly manifest: LoadedManifest,
    readonly shape: ModelInputShape,
    private readonly threads: number,
  ) {}

  /**
   * Starts the thread and opens the sessions there: a model that cannot be loaded fails here, as
   * ModelSession.create does.
   */
  static async create(manifest: LoadedManifest, options: ModelSessionOptions = {}): Promise<InferenceThread> {
    const threads = options.threads ?? DEFAULT_INTRA_OP_THREADS;
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    const runner = new InferenceThread(manifest, inputShape(manifest), threads);
    await runner.started().ready;
    return runner;
  }

  async run(input: Float32Array, count: number, withFeatures = false, options: RunOptions = {}): Promise<SliceBatchOutputs> {
    const data = batchInput(input, count, this.shape);
    const reply = await this.call({ kind: 'run', input: data, count, withFeatures }, options.transfer ? [data.buffer as ArrayBuffer] : []);
    return reply.outputs!;
  }

  async runStudyHead(features: Float32Array, dims: readonly number[] = [1, features.length]): Promise<Float32Array> {
    const reply = await this.call({ kind: 'head', features, dims: [...dims] }, []);
    return reply.head!;
  }

  /**
   * Ends the thread now: calls in flight fail with a reason that names the stop; the next call starts
   * a new thread (and opens the sessions again).
   */
  async stop(): Promise<void> {
    const live = this.live;
    if (!live || live.dead) return;
    await live.worker.terminate();
  }

  /** Frees the sessions and ends the thread (calls in flight fail); a later call starts another. */
  async release(): Promise<void> {
    const live = this.live;
    if (!live || live.dead) return;
    const exited = new Promise<void>((resolve) => live.worker.once('exit', () => resolve()));
    live.fail('was released', false);
    live.worker.postMessage('release');
    const timer = setTimeout(() => void live.worker.terminate(), RELEASE_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }

  /** The live thread, started when there is none (or the last one died). */
  private started(): Live {
    if (this.live && !this.live.dead) return this.live;
    const data: ThreadData = { kind: THREAD_KIND, manifest: this.manifest, threads: this.threads };
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: data });
    const pending = new Map<number, Pending>();
    let readyResolve!: () => void;
    let readyReject!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => ((readyResolve = resolve), (readyReject = reject)));
    // Observed here so that a thread which fails before anyone awaits it is no unhandled rejection.
    ready.catch(() => undefined);
    const what = `the inference thread of model ${this.manifest.name} ${this.manifest.version}`;
    let starting = true;
    const live: Live = {
      worker,
      ready,
      pending,
      dead: false,
      fail: (why, restarts = true) => {
        if (live.dead) return;
        live.dead = true;
        const error = new Error(`${what} ${why}${restarts ? '; it is started again for the next call' : ''}`);
        if (starting) readyReject(error);
        for (const call of pending.values()) call.reject(error);
        pending.clear();
        worker.unref();
      },
    };
    const fail = (why: string) => {
      if (live.dead) return;
      live.fail(why);
      void worker.terminate();
    };
    worker.on('message', (reply: Reply) => {
      if ('ready' in reply) {
        starting = false;
        if (reply.ready) readyResolve();
        else {
          // The sessions could not be opened: this error, as ModelSession.create gives it.
          live.dead = true;
          readyReject(fromThreadError(reply.error));
          void worker.terminate();
        }
        this.holdProcess(live);
        return;
      }
      const call = pending.get(reply.id);
      if (!call) return;
      pending.delete(reply.id);
      this.holdProcess(live);
      if (reply.ok) call.resolve(reply);
      else call.reject(fromThreadError(reply.error));
    });
    worker.on('error', (error) => fail(`failed (${error.name}: ${error.message})`));
    worker.on('exit', (code) => fail(`stopped (exit code ${code}) while running the model`));
    this.live = live;
    // Starting counts as work in flight (see holdProcess).
    worker.ref();
    return live;
  }

  /**
   * The thread keeps the process alive only while a call (or the start) waits on it: an idle thread
   * must not, and a process awaiting a batch must not exit for lack of anything else to do.
   */
  private holdProcess(live: Live): void {
    if (live.dead) return;
    if (live.pending.size > 0) live.worker.ref();
    else live.worker.unref();
  }

  private async call(request: Omit<Extract<Request, { kind: 'run' }>, 'id'> | Omit<Extract<Request, { kind: 'head' }>, 'id'>, transfer: ArrayBuffer[]): Promise<Extract<Reply, { ok: true }>> {
    const live = this.started();
    await live.ready;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (live.dead) {
        reject(new Error(`the inference thread of model ${this.manifest.name} ${this.manifest.version} stopped before the call; it is started again for the next call`));
        return;
      }
      live.pending.set(id, { resolve, reject });
      try {
        live.worker.postMessage({ ...request, id } as Request, transfer);
      } catch (error) {
        live.pending.delete(id);
        reject(error as Error);
        return;
      } finally {
        this.holdProcess(live);
      }
    });
  }
}

/** The thread's side: the sessions, and one batch at a time in the order they come. */
async function serve(): Promise<void> {
  const port = parentPort!;
  const { manifest, threads } = workerData as ThreadData;
  const { ModelSession } = await import('./session.js');
  let session: ModelRunner;
  try {
    session = await ModelSession.create(manifest, { threads });
  } catch (error) {
    port.postMessage({ ready: false, error: toThreadError(error) } satisfies Reply);
    return;
  }
  port.postMessage({ ready: true } satisfies Reply);
  port.on('message', (message: Request | 'release') => {
    if (message === 'release') {
      void session.release().finally(() => process.exit(0));
      return;
    }
    const answer =
      message.kind === 'run'
        ? session.run(message.input, message.count, message.withFeatures).then((outputs): [Reply, ArrayBuffer[]] => [{ id: message.id, ok: true, outputs }, buffersOf(outputs)])
        : session.runStudyHead(message.features, message.dims).then((head): [Reply, ArrayBuffer[]] => [{ id: message.id, ok: true, head }, [head.buffer as ArrayBuffer]]);
    answer.then(
      ([reply, transfer]) => port.postMessage(reply, transfer),
      (error: unknown) => port.postMessage({ id: message.id, ok: false, error: toThreadError(error) } satisfies Reply),
    );
  });
}

/** The outputs' buffers, each once (a transfer list may not name one twice). */
function buffersOf(outputs: SliceBatchOutputs): ArrayBuffer[] {
  const views = [outputs.logits, outputs.embedding, ...(outputs.features ? [outputs.features] : [])];
  return [...new Set(views.map((v) => v.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

if (!isMainThread && parentPort !== null && (workerData as Partial<ThreadData> | undefined)?.kind === THREAD_KIND) {
  await serve();
}
