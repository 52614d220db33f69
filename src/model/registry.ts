/**
 * The models one process has loaded, held in an object that is passed in (no module-level cache):
 * manifests read once per path, onnxruntime sessions created once per (manifest, threads) and shared
 * by every study that runs through them (each model's on an inference thread of its own unless told
 * otherwise), and a slot per model identity for what adapts a model to a
 * site (the calibration work fills it: src/calibration). Sessions live as long as the registry;
 * `close()` releases them (a tool that finishes, a test).
 */
import { resolve } from 'node:path';
import { modelKeyOf, type ModelIdentity } from '../core/model-identity.js';
import { defaultManifestPath, loadManifest, type LoadedManifest } from './manifest.js';
import { DEFAULT_INTRA_OP_THREADS, ModelSession, type ModelRunner, type ModelSessionOptions } from './session.js';
import { InferenceThread } from './inference-thread.js';

/** The model a study runs through: its manifest and a shared onnxruntime session. */
export interface LoadedModel {
  readonly manifest: LoadedManifest;
  readonly session: ModelRunner;
}

export interface ModelRegistryOptions {
  /**
   * Run each model's sessions on a thread of their own (inference-thread.ts), so that the thread
   * that runs a study prepares and post-processes batches while the model runs; false: on the
   * calling thread (ModelSession), which then waits out every batch. Same outputs either way.
   * @defaultValue true
   */
  readonly inferenceThread?: boolean;
}

export class ModelRegistry<Adapter = unknown> {
  private readonly manifests = new Map<string, LoadedManifest>();
  private readonly sessions = new Map<string, Promise<ModelRunner>>();
  private readonly adapters = new Map<string, Adapter>();
  private readonly inferenceThread: boolean;

  constructor(options: ModelRegistryOptions = {}) {
    this.inferenceThread = options.inferenceThread ?? true;
  }

  /** The manifest at `path` (the bundled PULSE-lite when undefined), read once. */
  manifest(path?: string): LoadedManifest {
    const key = resolve(path ?? defaultManifestPath());
    let manifest = this.manifests.get(key);
    if (manifest === undefined) {
      manifest = loadManifest(key);
      this.manifests.set(key, manifest);
    }
    return manifest;
  }

  /** The session for a manifest, created on first use: creating one costs far more than a study's inference. */
  session(manifest: LoadedManifest, options: ModelSessionOptions = {}): Promise<ModelRunner> {
    const key = `${manifest.directory}\u0000${manifest.name}\u0000${manifest.version}\u0000${options.threads ?? DEFAULT_INTRA_OP_THREADS}`;
    let session = this.sessions.get(key);
    if (session === undefined) {
      session = this.inferenceThread ? InferenceThread.create(manifest, options) : ModelSession.create(manifest, options);
      this.sessions.set(key, session);
      // A failed creation is not kept: the next study tries again.
      session.catch(() => this.sessions.delete(key));
    }
    return session;
  }

  /** Manifest and session together, as the pipeline's steps take them. */
  async load(manifestPath?: string, threads?: number): Promise<LoadedModel> {
    const manifest = this.manifest(manifestPath);
    return { manifest, session: await this.session(manifest, threads === undefined ? {} : { threads }) };
  }

  /** The site adapter kept for this model and calibration, if any. */
  adapter(model: ModelIdentity): Adapter | undefined {
    return this.adapters.get(modelKeyOf(model));
  }

  /** Keeps (or, with undefined, forgets) the site adapter of this model and calibration. */
  setAdapter(model: ModelIdentity, adapter: Adapter | undefined): void {
    if (adapter === undefined) this.adapters.delete(modelKeyOf(model));
    else this.adapters.set(modelKeyOf(model), adapter);
  }

  /** Releases every session; the registry can be used again afterwards (sessions are created anew). */
  async close(): Promise<void> {
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    for (const session of await Promise.allSettled(sessions)) {
      if (session.status === 'fulfilled') await session.value.release();
    }
  }
}
