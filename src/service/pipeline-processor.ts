/**
 * The real StudyProcessor: the model manifest names the model; processStudy does the work, by default
 * in worker threads (src/service/pipeline-thread.ts) so inference never blocks the HTTP face or the
 * lease heartbeat. Site calibrations come from the calibration store under the data folder, read at
 * every job, so an activation or roll-back reaches the next job without a restart.
 */
import type { CalibrationProfile } from '../calibration/profile.js';
import { accessSync, constants } from 'node:fs';
import { viewerPhaseSeriesOn, type ServiceConfig } from '../config/schema.js';
import { join } from 'node:path';
import { defaultManifestPath } from '../model/manifest.js';
import { ModelRegistry } from '../model/registry.js';
import { DEFAULT_INTRA_OP_THREADS } from '../model/session.js';
import { CalibrationStore } from '../pipeline/calibration-store.js';
import { checkCalibrationModel } from '../pipeline/calibrate.js';
import { processStudy } from '../pipeline/process-study.js';
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import { PipelineThreads } from './pipeline-thread.js';
import type { StudyProcessor } from './study-job.js';
import type { TtaMode } from '../model/tta.js';

export interface PipelineProcessorOptions {
  /** Model manifest. @defaultValue the bundled PULSE-lite */
  readonly manifestPath?: string;
  /**
   * A calibration id pinned for every study (config model.calibration), whatever its scope; when
   * null the router picks among the active calibrations of the store.
   */
  readonly calibration?: string | null;
  /** The data folder whose calibrations/ the service uses; none: the bare model only. */
  readonly dataDir?: string;
  /** onnxruntime intra-op threads per pipeline thread. @defaultValue 1 (model/session.ts DEFAULT_INTRA_OP_THREADS) */
  readonly threads?: number;
  /** Run the pipeline in worker threads (one per concurrent study) rather than on the calling thread. @defaultValue true */
  readonly inThread?: boolean;
  /** Studies processed at the same time (pipeline threads). @defaultValue 1 */
  readonly concurrency?: number;
  /** Also build the PDF report (Encapsulated PDF). @defaultValue false */
  readonly pdf?: boolean;
  /** Also build the FHIR DiagnosticReport Bundle. @defaultValue false */
  readonly fhir?: boolean;
  /** Write the SEG of a result that failed quality control (configuration reports.segOnQcFail). @defaultValue true */
  readonly segOnQcFail?: boolean;
  /** Also write the viewer phase series (configuration reports.viewerPhaseSeries, dicom/phase-series.ts). @defaultValue false */
  readonly viewerPhaseSeries?: boolean;
  /** Series selection: the configuration's `routing.series`, the rules the router pre-checked. @defaultValue the schema's defaults */
  readonly seriesRules?: SeriesSelectionRulesInput;
  /** Test-time augmentation (configuration model.tta, model/tta.ts). @defaultValue 'none' */
  readonly tta?: TtaMode;
  /**
   * The models of the calling thread (with `inThread: false`); each pipeline thread keeps a registry
   * of its own, since sessions cannot cross threads. @defaultValue a registry of this processor's own
   */
  readonly models?: ModelRegistry;
}

/** The processor options a service configuration asks for: one reading for `pulse serve` and `pulse demo`. */
export function processorOptionsOf(config: ServiceConfig): PipelineProcessorOptions {
  return {
    manifestPath: config.model.manifest,
    calibration: config.model.calibration,
    threads: config.model.threads,
    concurrency: config.queue.concurrency,
    seriesRules: config.routing.series,
    pdf: config.reports.pdf,
    segOnQcFail: config.reports.segOnQcFail,
    viewerPhaseSeries: viewerPhaseSeriesOn(config),
    tta: config.model.tta,
    fhir: config.fhir.url !== undefined,
    dataDir: config.dataDir,
  };
}

export function createPipelineProcessor(options: PipelineProcessorOptions = {}): StudyProcessor {
  const manifestPath = options.manifestPath ?? defaultManifestPath();
  const models = options.models ?? new ModelRegistry();
  const manifest = models.manifest(manifestPath);
  const model = { name: manifest.name, version: manifest.version, calibration: null };
  const store = options.dataDir ? new CalibrationStore(options.dataDir) : undefined;
  const pinned = options.calibration ?? null;
  if (pinned && !store) throw new Error(`calibration ${pinned} is configured but no data folder holds calibrations`);
  if (pinned) checkCalibrationModel(store!.get(pinned), model);
  const profileOf = (id: string | null | undefined): CalibrationProfile | null => (id ? store!.get(id) : null);
  const activeCalibrations = () => {
    if (!store) return [];
    // A pinned calibration serves every study (its scope set aside).
    if (pinned) return [{ ...store.get(pinned), scope: {} }];
    return store.active(model);
  };
  const pipelineOptions = { manifestPath, threads: options.threads ?? DEFAULT_INTRA_OP_THREADS, calibration: null, pdf: options.pdf ?? false, fhir: options.fhir ?? false, segOnQcFail: options.segOnQcFail ?? true, viewerPhaseSeries: options.viewerPhaseSeries ?? false, ...(options.seriesRules ? { seriesRules: options.seriesRules } : {}), ...(options.tta ? { tta: options.tta } : {}) };

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
  if (options.inThread === false) {
    return {
      model,
      readiness,
      activeCalibrations,
      process: (instances, run = {}) => processStudy(instances, { ...pipelineOptions, calibration: profileOf(run.calibration), models, ...(run.signal ? { signal: run.signal } : {}) }),
      close: () => models.close(),
    };
  }
  const threads = new PipelineThreads(pipelineOptions, options.concurrency ?? 1);
  return {
    model,
    readiness,
    activeCalibrations,
    process: (instances, run = {}) => threads.process(instances, { calibration: profileOf(run.calibration), ...(run.signal ? { signal: run.signal } : {}), transfer: run.transfer === true }),
    close: () => threads.close(),
  };
}
