/**
 * One study, offline: DICOM instances in, result + SEG + SR out. The single place that wires the
 * pipeline steps (read -> preprocess -> inference -> postprocess -> analysis -> dicom); the steps
 * themselves live in steps.ts.
 */
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import { buildSegmentation, segmentationReference, segmentationUids } from '../dicom/seg/sop.js';
import { buildMeasurementReport, measurementReportUids } from '../dicom/sr/sop.js';
import { describeSanitised } from '../dicom/modules/copied-values.js';
import { preflightDerivedObjects } from '../dicom/preflight.js';
import { buildViewerPhaseSeries, sourcesBySopInstanceUid } from '../dicom/phase-series.js';
import { narrativeWithQuality, qcSummary } from '../analysis/quality-control.js';
import type { StudyOutputs, StudyResult } from '../core/result.js';
import type { StudyInstance } from '../core/study-instance.js';
import { reportStep } from './report-step.js';
import { overlayOfRun } from './overlay-of-run.js';
import { buildDiagnosticReportBundle } from '../fhir/diagnostic-report.js';
import type { StageTimer } from '../core/stage-timer.js';
import { ModelRegistry } from '../model/registry.js';
import { buildResult, loadModel, runStudy, type StudyRun } from './steps.js';
import { buildStudyViews } from './views.js';
import type { CalibrationProfile } from '../calibration/profile.js';
import { adapterOf, checkCalibrationModel, inputTransformOf, seriesRulesWith } from './calibrate.js';
import type { TtaMode } from '../model/tta.js';


export interface ProcessStudyOptions {
  /** Model manifest; @defaultValue models/pulse-lite/manifest.json */
  manifestPath?: string;
  /** onnxruntime intra-op threads; @defaultValue 1 (model/session.ts DEFAULT_INTRA_OP_THREADS) */
  threads?: number;
  /** Which phases the SEG holds; @defaultValue 'ed-es' */
  segPhases?: 'ed-es' | 'all';
  /** Also build the Secondary Capture overlay; @defaultValue false */
  overlay?: boolean;
  /**
   * Write the SEG of a result that failed quality control, for a person to inspect (the SR then points
   * at it only as evidence); false: no SEG for such a result, and the SR references none. @defaultValue true
   */
  segOnQcFail?: boolean;
  /**
   * Also build the viewer phase series: per labelled phase, a derived single-phase copy of the cine
   * and a SEG referencing it, for OHIF (dicom/phase-series.ts); @defaultValue false
   */
  viewerPhaseSeries?: boolean;
  /** Also build the PDF report and its DICOM Encapsulated PDF (series 9004); @defaultValue false */
  pdf?: boolean;
  /** Also build the FHIR R4 DiagnosticReport Bundle (diagnostic-report.json); @defaultValue false */
  fhir?: boolean;
  /** Series selection rules (src/study/series-rules.ts); @defaultValue the reader's defaults */
  seriesRules?: SeriesSelectionRulesInput;
  /** Site calibration profile (src/calibration/): its adapter runs on the model's outputs; null: the bare model. */
  calibration?: CalibrationProfile | null;
  /**
   * Where the model's manifest and session come from; pass one registry to every study of a process
   * so that the session is created once. @defaultValue a registry for this call alone
   */
  models?: ModelRegistry;
  /** Cancels the run between steps and inference batches (the worker stopping). */
  signal?: AbortSignal;
  /** Test-time augmentation (model/tta.ts; configuration model.tta). @defaultValue 'none' */
  tta?: TtaMode;
}

/**
 * Runs the whole pipeline on one study's instances. Throws BadInputError (from the reader) for a
 * study it cannot handle; the model session comes from `options.models` (created there on first use).
 */
export async function processStudy(instances: ReadonlyArray<StudyInstance>, options: ProcessStudyOptions = {}): Promise<StudyOutputs> {
  if (options.models) return processWith(options.models, instances, options);
  // A registry of this call alone is closed with it.
  const models = new ModelRegistry();
  try {
    return await processWith(models, instances, options);
  } finally {
    await models.close();
  }
}

async function processWith(models: ModelRegistry, instances: ReadonlyArray<StudyInstance>, options: ProcessStudyOptions): Promise<StudyOutputs> {
  // The calibration profile is looked up by the caller (the service's CalibrationStore, the CLI's
  // --calibration) and handed in per study; the registry's adapter slot is not used for it yet.
  const profile = options.calibration ?? null;
  const loader = async () => {
    const model = await loadModel(models, options.manifestPath, options.threads);
    if (profile) checkCalibrationModel(profile, model.manifest);
    return model;
  };
  const seriesRules = profile ? seriesRulesWith(profile, options.seriesRules) : options.seriesRules;
  const inputTransform = profile ? inputTransformOf(profile) : undefined;
  // The writers' demands are checked on the study as read, before the model runs.
  const run = await runStudy(instances, loader, {
    preflight: preflightDerivedObjects,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(seriesRules ? { seriesRules } : {}),
    ...(profile ? { adapter: adapterOf(profile) } : {}),
    ...(inputTransform ? { inputTransform } : {}),
    ...(options.tta ? { tta: options.tta } : {}),
  });
  const { model } = run;
  const calibration = profile?.id ?? null;
  const result = buildResult(run.study, run.analysis, run.qc, model, run.timer, calibration);
  const contentDateTime = new Date();
  const dicom = dicomStep({ run, result, calibration, segPhases: options.segPhases ?? 'ed-es', overlay: options.overlay ?? false, segOnQcFail: options.segOnQcFail ?? true, viewerPhaseSeries: options.viewerPhaseSeries ? instances : undefined, contentDateTime }, run.timer);
  let report: { pdf: Uint8Array; pdfDicom: Uint8Array } | undefined;
  if (options.pdf) {
    const { context } = run.study;
    const algorithm = { name: model.manifest.name, version: model.manifest.version, calibration };
    const otherSeries = [
      ...(dicom.seg ? [segmentationUids(context.studyInstanceUID, context.seriesInstanceUID, algorithm).seriesInstanceUID] : []),
      measurementReportUids(context.studyInstanceUID, context.seriesInstanceUID, algorithm).seriesInstanceUID,
    ];
    report = await run.timer.time('dicom', () => reportStep({ run, result, calibration, otherSeries, contentDateTime }));
  }
  const fhir = options.fhir
    ? buildDiagnosticReportBundle({ result, modality: run.study.context.modality, groups: model.manifest.diagnosis.groups, issued: contentDateTime, ...(run.qc.status !== 'pass' ? { qualityControlSummary: qcSummary(run.qc) } : {}) })
    : undefined;
  // The writers have consumed the result (the SR, PDF and FHIR state no timings); timings_ms now includes them.
  result.timings_ms = run.timer.snapshot({ total: true });
  return { result, ...dicom, views: buildStudyViews(run), ...(report ? { pdf: report.pdf, pdfDicom: report.pdfDicom } : {}), ...(fhir ? { fhir } : {}) };
}

interface DicomStepInput {
  readonly run: StudyRun;
  /** The result the SR states (timings aside, the final result). */
  readonly result: StudyResult;
  readonly calibration: string | null;
  readonly segPhases: 'ed-es' | 'all';
  readonly overlay: boolean;
  readonly segOnQcFail: boolean;
  /** The source instances, when the viewer phase series are asked for. */
  readonly viewerPhaseSeries: ReadonlyArray<StudyInstance> | undefined;
  readonly contentDateTime: Date;
}

/**
 * Step 4: the DICOM writers. The SEG holds ED and ES (or every phase); the SR states the result and
 * points at the SEG's segments and at the ED/ES source images. UIDs are deterministic in (study,
 * series, model, version, calibration), so processing a study again rewrites the same objects.
 * The Secondary Capture overlay (mid-ventricular ED and ES with contours and key numbers) on request.
 */
function dicomStep(input: DicomStepInput, timer: StageTimer): Omit<StudyOutputs, 'result'> {
  return timer.timeSync('dicom', () => writeDicom(input));
}

function writeDicom(input: DicomStepInput): Omit<StudyOutputs, 'result'> {
  const { run, result, calibration } = input;
  const { study, segmentation, analysis, model } = run;
  const { manifest } = model;
  const algorithm = { name: manifest.name, version: manifest.version, calibration };
  const { ed, es } = analysis.phases;
  const phases = input.segPhases === 'all' ? Array.from({ length: study.grid.phases }, (_, p) => p) : [...new Set([ed, es])].sort((a, b) => a - b);
  const { contentDateTime } = input;
  const writeSeg = run.qc.status !== 'fail' || input.segOnQcFail;
  const seg = !writeSeg ? undefined : buildSegmentation({
    context: study.context,
    labelMaps: segmentation.labelMaps,
    phases,
    segments: manifest.segments,
    algorithm,
    ...segmentationUids(study.context.studyInstanceUID, study.context.seriesInstanceUID, algorithm),
    contentDateTime,
  });
  const sourceImages = [...new Set([ed, es])].flatMap((p) => study.grid.images.map((row) => row[p]!));
  const sr = buildMeasurementReport({
    context: study.context,
    result,
    // The narrative as quality control allows it (a caution on review; no findings on fail).
    narrative: narrativeWithQuality(analysis.narrative, run.qc),
    qualityControl: { status: run.qc.status, summary: qcSummary(run.qc) },
    segments: manifest.segments,
    diagnosisGroups: manifest.diagnosis.groups,
    ...(seg ? { segmentation: segmentationReference(seg) } : {}),
    sourceImages,
    algorithm,
    ...measurementReportUids(study.context.studyInstanceUID, study.context.seriesInstanceUID, algorithm),
    contentDateTime,
  });
  // The overlay burns numbers in: a result that failed quality control gets none.
  const overlay = input.overlay && run.qc.status !== 'fail'
    ? overlayOfRun(run, result, calibration, contentDateTime).bytes
    : undefined;
  // Per labelled phase, a single-phase copy and its SEG (OHIF draws a SEG of a cine on the wrong phase);
  // written only beside a SEG, from the same label maps.
  const viewer = seg && input.viewerPhaseSeries
    ? buildViewerPhaseSeries({
        context: study.context,
        labelMaps: segmentation.labelMaps,
        phases: [{ name: 'ED', index: ed }, { name: 'ES', index: es }],
        sources: sourcesBySopInstanceUid(input.viewerPhaseSeries),
        segments: manifest.segments,
        algorithm,
        otherSeries: [seg.seriesInstanceUID, sr.seriesInstanceUID],
        contentDateTime,
      })
    : undefined;
  // Every writer copies the same patient/study values: one record of what was sanitised.
  const sanitised = describeSanitised((seg ?? sr).sanitised);
  return {
    ...(seg ? { seg: seg.bytes } : {}),
    sr: sr.bytes,
    ...(overlay ? { overlay } : {}),
    ...(viewer?.written ? { viewerPhaseSeries: [...viewer.objects] } : {}),
    ...(viewer && !viewer.written ? { viewerPhaseSeriesSkipped: viewer.reason } : {}),
    sanitised,
  };
}
