/**
 * The real StudyProcessor: the model manifest names the model; processStudy does the work, by default
 * in worker threads (src/service/pipeline-thread.ts) so inference never blocks the HTTP face or the
 * lease heartbeat.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { defaultManifestPath, loadManifest } from '../model/manifest.js';
import { processStudy } from '../pipeline/process-study.js';
import { PipelineThreads } from './pipeline-thread.js';
import type { StudyProcessor } from './study-job.js';

export interface PipelineProcessorOptions {
  /** Model manifest. @defaultValue the bundled PULSE-lite */
  readonly manifestPath?: string;
  /** Calibration id; the pipeline runs the bare model until calibration artifacts exist. */
  readonly calibration?: string | null;
  /** onnxruntime intra-op threads. @defaultValue 2 */
  readonly threads?: number;
  /** Run the pipeline in worker threads (one per concurrent study) rather than on the calling thread. @defaultValue true */
  readonly inThread?: boolean;
  /** Studies processed at the same time (pipeline threads). @defaultValue 1 */
  readonly concurrency?: number;
  /** Also build the PDF report (Encapsulated PDF). @defaultValue false */
  readonly pdf?: boolean;
  /** Also build the FHIR DiagnosticReport Bundle. @defaultValue false */
  readonly fhir?: boolean;
}

export function createPipelineProcessor(options: PipelineProcessorOptions = {}): StudyProcessor {
  const manifestPath = options.manifestPath ?? defaultManifestPath();
  const manifest = loadManifest(manifestPath);
  if (options.calibration) throw new Error(`calibration ${options.calibration} cannot be applied yet: the pipeline runs the bare model only`);
  const model = { name: manifest.name, version: manifest.version, calibration: null };
  const pipelineOptions = { manifestPath, threads: options.threads ?? 2, calibration: null, pdf: options.pdf ?? false, fhir: options.fhir ?? false };
  const readiness = async (): Promise<{ ok: boolean; reason?: string }> => {
    // The session opens on the first study; what must hold now is that its file can be read.
    const file = join(manifest.directory, manifest.model.file);
    try {
      accessSync(file, constants.R_OK);
      return { ok: true };
    } catch {
      return { ok: false, reason: `model file ${manifest.model.file} cannot be read` };
    }
  };
  if (options.inThread === false) return { model, readiness, process: (instances) => processStudy(instances, pipelineOptions) };
  const threads = new PipelineThreads(pipelineOptions, options.concurrency ?? 1);
  return { model, readiness, process: (instances) => threads.process(instances), close: () => threads.close() };
}
