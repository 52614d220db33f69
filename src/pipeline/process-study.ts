/**
 * One study, offline: DICOM instances in, result + SEG + SR out. The single place that wires the
 * pipeline steps (read -> preprocess -> inference -> postprocess -> analysis -> dicom); the steps
 * themselves live in steps.ts.
 */
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import type { StudyOutputs } from './result.js';
import { buildResult, loadModel, runStudy, type StageTimings, type StudyInstance, type StudyRun, type LoadedModel } from './steps.js';

export type { StudyInstance } from './steps.js';

export interface ProcessStudyOptions {
  /** Model manifest; @defaultValue models/pulse-lite/manifest.json */
  manifestPath?: string;
  /** onnxruntime intra-op threads; @defaultValue 2 */
  threads?: number;
  /** Which phases the SEG holds; @defaultValue 'ed-es' */
  segPhases?: 'ed-es' | 'all';
  /** Also build the Secondary Capture overlay; @defaultValue false */
  overlay?: boolean;
  /** Series selection rules (src/study/series-rules.ts); @defaultValue the reader's defaults */
  seriesRules?: SeriesSelectionRulesInput;
  /** Site calibration artifact (not yet supported: null means the bare model). */
  calibration?: null;
}

/**
 * Runs the whole pipeline on one study's instances. Throws BadInputError (from the reader) for a
 * study it cannot handle; the model session is created on first use and shared afterwards.
 */
export async function processStudy(instances: ReadonlyArray<StudyInstance>, options: ProcessStudyOptions = {}): Promise<StudyOutputs> {
  const run = await runStudy(instances, () => loadModel(options.manifestPath, options.threads), options.seriesRules ? { seriesRules: options.seriesRules } : {});
  const { model } = run;
  const dicom = dicomStep(run, model, options, run.timings);
  const result = buildResult(run.study, run.analysis, model, run.timings, options.calibration ?? null);
  return { result, ...dicom };
}

/**
 * Step 4: the DICOM writers (SEG, SR, overlay).
 * TODO(lead): src/dicom/seg/sop.ts and src/dicom/sr/sop.ts did not exist when this was written; wire
 * them here: SEG from run.segmentation.labelMaps (ED and ES phases, or all for segPhases 'all'),
 * SR from the result + the SEG's UIDs, overlay when options.overlay. Until then seg and sr are empty.
 */
function dicomStep(run: StudyRun, model: LoadedModel, options: ProcessStudyOptions, timings: StageTimings): { seg: Uint8Array; sr: Uint8Array; overlay?: Uint8Array } {
  const t = performance.now();
  void model;
  void options;
  const out = { seg: new Uint8Array(0), sr: new Uint8Array(0) };
  timings.dicom += performance.now() - t;
  void run;
  return out;
}
