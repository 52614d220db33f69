/**
 * The pipeline's steps, each with typed input and output and a thin body that hands off to the core
 * module doing the work. process-study.ts wires them; `pulse eval` and the benchmark reuse the same
 * steps so that what they measure is what runs in production.
 */
import { analyseStudy, MEASUREMENT_UNITS, populationSentence, type CardiacPhases, type StudyAnalysis } from '../analysis/index.js';
import { ADULT_AGE_YEARS } from '../analysis/normal-ranges.js';
import { segmentStack, type LogitAdapter, type SegmentStackOptions, type SliceInference, type StackSegmentation } from '../model/segment-stack.js';
import { readStudy } from '../study/read-study.js';
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import type { CineStudy } from '../study/types.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assessQuality, narrativeWithQuality, type QualityControlDetail } from '../analysis/quality-control.js';
import type { QcReference } from '../analysis/ood.js';
import { sha256File, type LoadedManifest } from '../model/manifest.js';
import type { LoadedModel as RegistryModel, ModelRegistry } from '../model/registry.js';
import type { ResultReferenceRange, StudyResult } from '../core/result.js';
import type { StudyInstance } from '../core/study-instance.js';
import { StageTimer } from '../core/stage-timer.js';
import { canonicalGrid } from '../study/canonical.js';
import { isIdentity } from '../core/in-plane.js';
import { TTA_TRANSFORMS, withTestTimeAugmentation, type TtaMode } from '../model/tta.js';

/** The model a study runs through: its manifest and shared session (from a ModelRegistry), plus its QC reference. */
export interface LoadedModel extends RegistryModel {
  /** Quality-control reference (embedding statistics, thresholds) shipped beside the manifest, when present. */
  readonly qcReference?: QcReference;
}

/** File beside manifest.json that holds the model's quality-control reference (`pulse qc-reference`). */
export const QC_REFERENCE_FILE = 'qc-reference.json';

const qcReferences = new Map<string, QcReference | undefined>();

/** Reads the QC reference beside the manifest (once); undefined when the model ships none. */
export function loadQcReference(manifest: LoadedManifest): QcReference | undefined {
  // The manifest names (and pins by hash, checked at load) its reference; older manifests rely on the file name.
  const path = join(manifest.directory, manifest.qualityControl?.reference.file ?? QC_REFERENCE_FILE);
  if (qcReferences.has(path)) return qcReferences.get(path);
  let reference: QcReference | undefined;
  if (existsSync(path)) {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as QcReference;
    if (parsed.format !== 'pulse-qc-reference' || parsed.version !== 1) throw new Error(`${path} is not a pulse-qc-reference version 1`);
    if (parsed.model.name !== manifest.name || parsed.model.version !== manifest.version) {
      throw new Error(`${path} was computed for ${parsed.model.name} ${parsed.model.version}, not ${manifest.name} ${manifest.version}`);
    }
    // A new export dropped in under the same name and version keeps the old reference: its OOD
    // score would then fail every study. The reference names the network it measured.
    if (parsed.model.sha256 !== undefined) {
      const network = sha256File(join(manifest.directory, manifest.model.file));
      if (network !== parsed.model.sha256) {
        throw new Error(
          `${path} holds the embedding statistics of another network (it was computed with a ${manifest.model.file} of sha256 ${parsed.model.sha256}; this one has ${network}): ` +
            'run `pulse qc-reference` for this model and update the manifest\'s qualityControl.reference.sha256, or remove qualityControl from the manifest',
        );
      }
    }
    reference = parsed;
  }
  qcReferences.set(path, reference);
  return reference;
}

/** The manifest and session from `models`, with the model's quality-control reference. */
export async function loadModel(models: ModelRegistry, manifestPath?: string, threads?: number): Promise<LoadedModel> {
  const { manifest, session } = await models.load(manifestPath, threads);
  const qcReference = loadQcReference(manifest);
  return { manifest, session, ...(qcReference ? { qcReference } : {}) };
}


/** Step 1: DICOM instances -> the cine study (series choice, geometry, slice x phase grid). */
export function readStep(instances: ReadonlyArray<StudyInstance>, timer: StageTimer, rules?: SeriesSelectionRulesInput): CineStudy {
  return timer.timeSync('read', () => readStudy(instances, rules));
}

/**
 * Step 2: the stack through the network -> label maps on the source grids, embeddings, features.
 * The network sees the images in the canonical short-axis display (study/canonical.ts: transposed or
 * flipped back from ImageOrientationPatient); its label maps return to the source grids. Kept
 * decoder features (site calibration) stay in the orientation the network saw.
 */
export async function segmentStep(
  study: CineStudy,
  model: LoadedModel,
  timer: StageTimer,
  options: Pick<SegmentStackOptions, 'keepFeatures' | 'adapter' | 'inputTransform' | 'locate' | 'signal'> & { canonical?: boolean; tta?: TtaMode } = {},
): Promise<StackSegmentation> {
  const session = model.session;
  const { canonical: reorient = true, tta = 'none', ...stackOptions } = options;
  const canonical = reorient ? canonicalGrid(study.grid) : undefined;
  const bare: SliceInference = (input, count, withFeatures, runOptions) => session.run(input, count, withFeatures, runOptions);
  // Test-time flips (model/tta.ts): the same steps on averaged probabilities, plus their agreement. A
  // calibration's logit adapter then runs inside, on every pass's own logits and features (it was
  // fitted on logits, not on the averaged log-probabilities handed on), and not again after.
  // The heart-location pass runs at a coarser spacing than the adapter was fitted at: flips without it.
  const { adapter, ...rest } = stackOptions;
  const flips = (withAdapter: boolean): SliceInference =>
    withTestTimeAugmentation(bare, session.shape, { transforms: model.manifest.qualityControl?.uncertainty.transforms ?? TTA_TRANSFORMS, classes: model.manifest.segments.length + 1, ...(withAdapter && adapter ? { adapter } : {}) });
  const infer = tta === 'none' ? bare : flips(true);
  const inside = tta !== 'none' && adapter ? { locateWith: flips(false) } : {};
  const seen = await segmentStack(canonical?.grid ?? study.grid, model.manifest, session.shape, infer, tta === 'none' && adapter ? { ...rest, adapter } : { ...rest, ...inside });
  const segmentation = canonical && !isIdentity(canonical.transform) ? { ...seen, labelMaps: canonical.toSource(seen.labelMaps) } : seen;
  // segmentStack interleaves its three stages per batch and reports their sums.
  timer.record('preprocess', segmentation.timingsMs.preprocess);
  timer.record('inference', segmentation.timingsMs.inference);
  timer.record('postprocess', segmentation.timingsMs.postprocess);
  return segmentation;
}

/** Step 3: label maps -> measurements, ED/ES, features, diagnosis, narrative. */
export async function analyseStep(
  study: CineStudy,
  segmentation: StackSegmentation,
  model: LoadedModel,
  timer: StageTimer,
  knownPhases?: CardiacPhases,
): Promise<StudyAnalysis> {
  return timer.time('analysis', () =>
    analyseStudy({
    grid: study.grid,
    labelMaps: segmentation.labelMaps,
    manifest: model.manifest,
    context: study.context,
    embeddings: segmentation.embeddings,
      runStudyHead: (input, dims) => model.session.runStudyHead(input, dims),
      ...(knownPhases ? { knownPhases } : {}),
    }),
  );
}

/**
 * result.json from the analysis (the contract in DESIGN.md and core/result.ts), built once.
 * `timings_ms` is the timer's state now; the caller that still runs stages (the DICOM writers) sets
 * it again when they are done.
 */
export function buildResult(study: CineStudy, analysis: StudyAnalysis, qc: QualityControlDetail, model: LoadedModel, timer: StageTimer, calibration: string | null): StudyResult {
  return {
    studyInstanceUID: study.context.studyInstanceUID,
    seriesInstanceUID: study.context.seriesInstanceUID,
    grid: { slices: study.grid.slices, phases: study.grid.phases },
    phases: { ed: analysis.phases.ed, es: analysis.phases.es },
    measurements: { ...analysis.measurements },
    diagnosis: { label: analysis.diagnosis.label, probabilities: { ...analysis.diagnosis.probabilities } },
    narrative: narrativeWithQuality(analysis.narrative, qc).text,
    ...resultReferences(analysis),
    qc: { status: qc.status, reasons: [...qc.reasons], ood: qc.ood, ...(qc.uncertainty ? { uncertainty: { ...qc.uncertainty, disagreement: { ...qc.uncertainty.disagreement } } } : {}) },
    series_decisions: [...study.decisions].sort((a, b) => Number(b.chosen) - Number(a.chosen)).map((d) => ({ seriesInstanceUID: d.seriesInstanceUID, chosen: d.chosen, reason: d.reason })),
    model: { name: model.manifest.name, version: model.manifest.version, calibration },
    timings_ms: timer.snapshot({ total: true }),
  };
}

/** result.json's reference_ranges, reference_population and wall_thickness from the analysis. */
function resultReferences(analysis: StudyAnalysis): Pick<StudyResult, 'reference_ranges' | 'reference_population' | 'wall_thickness'> {
  const ranges: Record<string, ResultReferenceRange> = {};
  for (const [key, range] of Object.entries(analysis.referenceRanges)) {
    ranges[key] = {
      flag: range.flag,
      ...(range.low !== undefined ? { low: range.low } : {}),
      ...(range.high !== undefined ? { high: range.high } : {}),
      unit: MEASUREMENT_UNITS[key] ?? '',
      sex: range.sex,
      sex_neutral_fallback: range.sexNeutralFallback,
      source: range.source,
      checked: range.checked,
    };
  }
  const { population, wallThickness, measurements } = analysis;
  const wall = wallThickness && measurements.lv_max_wall_thickness_mm !== undefined
    ? { max_mm: measurements.lv_max_wall_thickness_mm, aha_segment: wallThickness.segment ?? null, segment_name: wallThickness.segmentName ?? null, slice: wallThickness.slice }
    : undefined;
  return {
    reference_ranges: ranges,
    reference_population: {
      sex: population.sex ?? null,
      adult: population.ageYears === undefined ? null : population.ageYears >= ADULT_AGE_YEARS,
      note: populationSentence(population),
    },
    ...(wall ? { wall_thickness: wall } : {}),
  };
}

/**
 * Everything one study yields before the DICOM writers: what `pulse eval` scores. `timer` holds the
 * stages as result.json's timings_ms names them: read, preprocess, inference, postprocess, analysis
 * (and dicom, once process-study.ts has run the writers).
 */
export interface StudyRun {
  readonly study: CineStudy;
  readonly segmentation: StackSegmentation;
  readonly analysis: StudyAnalysis;
  /** Quality control of this result (plausibility, confidence, OOD). */
  readonly qc: QualityControlDetail;
  readonly timer: StageTimer;
  readonly model: LoadedModel;
}

/** Step 3b: quality control of the analysis, from the result itself and the model's outputs. */
export function qualityStep(study: CineStudy, segmentation: StackSegmentation, analysis: StudyAnalysis, model: LoadedModel, phasesGiven: boolean): QualityControlDetail {
  const labelValues = Object.fromEntries(model.manifest.segments.map((s) => [s.key, s.labelValue]));
  return assessQuality({
    grid: study.grid,
    labelMaps: segmentation.labelMaps,
    labelValues,
    phases: analysis.phases,
    lvVolumeCurveMl: analysis.volumesMl['lv'] ?? [],
    measurements: analysis.measurements,
    phasesGiven,
    ...(study.context.patientSizeM !== undefined ? { patientSizeM: study.context.patientSizeM } : {}),
    ...(study.context.patientWeightKg !== undefined ? { patientWeightKg: study.context.patientWeightKg } : {}),
    // With TTA the entropy rule reads the identity pass (its threshold was fitted on the bare model's
    // entropy; the averaged probabilities are flatter by construction).
    confidence: segmentation.uncertainty ? segmentation.uncertainty.map((row) => row.map((u) => u.identityConfidence)) : segmentation.confidence,
    embeddings: segmentation.embeddings,
    ...(model.qcReference ? { reference: model.qcReference } : {}),
    ...(segmentation.uncertainty
      ? {
          uncertainty: {
            images: segmentation.uncertainty,
            channels: model.manifest.segments.map((s, i) => ({ key: s.key, channel: i + 1 })),
            ...(model.manifest.qualityControl?.uncertainty.reviewAbove !== undefined ? { reviewAbove: model.manifest.qualityControl.uncertainty.reviewAbove } : {}),
          },
        }
      : {}),
  });
}

export interface RunStudyOptions {
  /** Series selection rules for the reader (e.g. orientation 'any' for NIfTI imports). */
  seriesRules?: SeriesSelectionRulesInput;
  /** ED/ES known from outside the images (ACDC's labelled frames), given the study as read. */
  knownPhases?: (study: CineStudy) => CardiacPhases | undefined;
  /** Keep the decoder features of every image, or of the selected ones (site calibration). */
  keepFeatures?: boolean | ((slice: number, phase: number) => boolean);
  /** A site calibration's adapter on the logits (src/calibration/). */
  adapter?: LogitAdapter;
  /** A site calibration's intensity map on the model input. */
  inputTransform?: (window: Float32Array) => void;
  /** Locate the heart on the whole field of view before cropping (segment-stack.ts). @defaultValue true */
  locate?: boolean;
  /** Turn the images into the canonical short-axis display before the model (study/canonical.ts). @defaultValue true */
  canonical?: boolean;
  /** Test-time augmentation (model/tta.ts): 'flips' runs four transforms per window. @defaultValue 'none' */
  tta?: TtaMode;
  /** Checks on the study as read, before the model runs (what the writers will demand): throw BadInputError. */
  preflight?: (study: CineStudy) => void;
  /** Stops the run between steps and between inference batches (the worker stopping): rejects with the abort reason. */
  signal?: AbortSignal;
}

/** Steps 1-3 wired: instances -> study -> segmentation -> analysis. */
export async function runStudy(
  instances: ReadonlyArray<StudyInstance>,
  modelOrLoader: LoadedModel | (() => Promise<LoadedModel>),
  options: RunStudyOptions = {},
): Promise<StudyRun> {
  const { signal } = options;
  const timer = new StageTimer();
  signal?.throwIfAborted();
  const study = readStep(instances, timer, options.seriesRules);
  options.preflight?.(study);
  // The model is loaded after the read: a bad study is reported as bad input whatever the model state.
  const model = typeof modelOrLoader === 'function' ? await modelOrLoader() : modelOrLoader;
  signal?.throwIfAborted();
  const segmentation = await segmentStep(study, model, timer, {
    ...(options.keepFeatures ? { keepFeatures: options.keepFeatures } : {}),
    ...(options.adapter ? { adapter: options.adapter } : {}),
    ...(options.inputTransform ? { inputTransform: options.inputTransform } : {}),
    ...(options.locate === false ? { locate: false } : {}),
    ...(options.canonical === false ? { canonical: false } : {}),
    ...(options.tta ? { tta: options.tta } : {}),
    ...(signal ? { signal } : {}),
  });
  signal?.throwIfAborted();
  const knownPhases = options.knownPhases?.(study);
  const analysis = await analyseStep(study, segmentation, model, timer, knownPhases);
  // Quality control counts as analysis time.
  const qc = timer.timeSync('analysis', () => qualityStep(study, segmentation, analysis, model, knownPhases !== undefined));
  return { study, segmentation, analysis, qc, timer, model };
}
