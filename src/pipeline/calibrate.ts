/**
 * Site calibration wired: annotated studies (images + a person's reference SEG) -> the frozen
 * model's features on the annotated phases -> fit, leave-one-study-out evaluation and promotion
 * (src/calibration/, pure) -> a stored profile, activated when it was promoted. Also what applies a
 * calibration to a study (adapter + the series rules it opens).
 */
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CalibrationCase, CalibrationPhase } from '../calibration/cases.js';
import { coverageOf, intensitySamples } from '../calibration/cases.js';
import { applyIntensityMap, checkIntensityMap, type IntensityMapParameters } from '../calibration/intensity.js';
import type { AdapterCandidate, CalibrationInput } from '../calibration/fit.js';
import { locateHeart, segmentStack } from '../model/segment-stack.js';
import { preprocessImage } from '../model/preprocess.js';
import { fitCalibration } from '../calibration/fit.js';
import { linearHeadAdapter, type LinearHeadParameters } from '../calibration/head.js';
import { pickCalibration, sharedScope, DEFAULT_PROMOTION_RULE, type CalibrationProfile, type CalibrationScope, type PromotionRule, type StudyEquipment } from '../calibration/profile.js';
import { imageKey, referenceLabels } from './reference-labels.js';
import { parseDicom } from '../dicom/read/dicom-file.js';
import { readSegmentation, ReferenceSegError } from '../dicom/seg/read.js';
import { SEGMENTATION_SOP_CLASS_UID } from '../dicom/seg/enums.js';
import type { LogitAdapter } from '../model/segment-stack.js';
import { mappingFor, type ModelWindow } from '../model/preprocess.js';
import type { SeriesSelectionRulesInput } from '../study/series-rules.js';
import { defaultSeriesSelectionRules } from '../study/series-rules.js';
import type { CineGrid, CineStudy } from '../study/types.js';
import { BadInputError } from '../core/errors.js';
import { CalibrationStore } from './calibration-store.js';
import { readInstancesFromFolder } from './read-folder.js';
import { StageTimer } from '../core/stage-timer.js';
import { analyseStep, readStep, segmentStep, type LoadedModel } from './steps.js';
import type { LvFigures } from '../calibration/cases.js';
import type { StudyInstance } from '../core/study-instance.js';

/** SOP classes and modalities a calibration may be fitted on (the bare model takes MR only). */
export const CALIBRATION_SERIES_RULES: SeriesSelectionRulesInput = {
  modalities: ['MR', 'CT', 'US'],
  sopClassUIDs: [
    '1.2.840.10008.5.1.4.1.1.4', // MR Image
    '1.2.840.10008.5.1.4.1.1.4.1', // Enhanced MR Image
    '1.2.840.10008.5.1.4.1.1.2', // CT Image
    '1.2.840.10008.5.1.4.1.1.2.1', // Enhanced CT Image
    '1.2.840.10008.5.1.4.1.1.6.1', // Ultrasound Image
    '1.2.840.10008.5.1.4.1.1.3.1', // Ultrasound Multi-frame Image
    '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture Image (echo exports)
  ],
};

/** Short, stable, non-reversible name of a StudyInstanceUID for stored profiles. */
export function hashedUid(uid: string): string {
  return createHash('sha256').update(uid).digest('hex').slice(0, 16);
}

/** Header of one instance of the chosen series: what scope rules look at. */
export function seriesEquipment(instances: readonly StudyInstance[], seriesInstanceUID: string): { equipment: StudyEquipment; sopClassUID: string } {
  for (const instance of instances) {
    let ds;
    try {
      ds = parseDicom(instance.bytes, { untilTag: '7FE00010' }).dataset;
    } catch {
      continue;
    }
    const text = (k: string) => {
      const v = Array.isArray(ds[k]) ? (ds[k] as unknown[])[0] : ds[k];
      return typeof v === 'string' ? v.trim() : '';
    };
    if (text('SeriesInstanceUID') !== seriesInstanceUID) continue;
    const equipment: Record<string, string> = {};
    for (const [key, keyword] of [
      ['modality', 'Modality'],
      ['manufacturer', 'Manufacturer'],
      ['manufacturerModelName', 'ManufacturerModelName'],
      ['stationName', 'StationName'],
      ['institutionName', 'InstitutionName'],
      ['seriesDescription', 'SeriesDescription'],
    ] as const) {
      const value = text(keyword);
      if (value) equipment[key] = value;
    }
    return { equipment, sopClassUID: text('SOPClassUID') };
  }
  return { equipment: {}, sopClassUID: '' };
}

function isSegInstance(instance: StudyInstance): boolean {
  try {
    const ds = parseDicom(instance.bytes, { untilTag: '00081150' }).dataset;
    return ds['SOPClassUID'] === SEGMENTATION_SOP_CLASS_UID || ds['Modality'] === 'SEG';
  } catch {
    return false;
  }
}

/** One annotated study, read, with what the fit needs from it (src/calibration/fit.ts). */
export interface AnnotatedStudy extends CalibrationInput {
  readonly equipment: StudyEquipment;
  readonly sopClassUID: string;
  readonly studyInstanceUID: string;
  readonly annotatedImages: number;
}

/** The cine grid restricted to some phases (the network runs only where there are annotations). */
function phaseSubgrid(study: CineStudy, phases: readonly number[]): CineGrid {
  const { grid } = study;
  return {
    ...grid,
    phases: phases.length,
    images: grid.images.map((row) => phases.map((p) => row[p]!)),
    phaseTimesMs: phases.map((p) => grid.phaseTimesMs[p] ?? p),
  };
}

/**
 * Reads one annotated study: its cine series (any modality a calibration may open), its reference SEG
 * (exactly one SEG whose segments a person made), the annotated pixels' input intensities, and a way
 * to run the frozen model on every slice of each annotated phase.
 */
export async function annotatedStudy(instances: readonly StudyInstance[], where: string, model: LoadedModel, seriesRules: SeriesSelectionRulesInput = CALIBRATION_SERIES_RULES): Promise<AnnotatedStudy> {
  const segInstances = instances.filter(isSegInstance);
  const images = instances.filter((i) => !segInstances.includes(i));
  if (images.length === 0) throw new BadInputError(`${where}: no image instances`);
  const study: CineStudy = readStep(images, new StageTimer(), seriesRules);
  const studyUid = study.context.studyInstanceUID;
  if (segInstances.length === 0) throw new ReferenceSegError(`${where}: no reference SEG (a Segmentation made by a person) beside the images`, studyUid);
  const refs = segInstances.map((i) => readSegmentation(i.bytes, `${where}/${i.source}`));
  const manual = refs.filter((r) => r.segments.some((s) => s.algorithmType === 'MANUAL' || s.algorithmType === 'SEMIAUTOMATIC'));
  if (manual.length === 0) throw new ReferenceSegError(`${where}: its SEG is AUTOMATIC (a model's output), not a person's reference`, studyUid);
  if (manual.length > 1) throw new ReferenceSegError(`${where}: ${manual.length} reference SEGs; keep one per study`, studyUid);
  const reference = referenceLabels(study, manual[0]!, model.manifest.segments, where);
  const phases = reference.annotatedPhases;
  const shape = model.session.shape;
  const manifest = model.manifest;
  const labelValues = Uint8Array.from([0, ...manifest.segments.map((s) => s.labelValue)]);
  const referenceOf = (p: number, s: number) => {
    const image = study.grid.images[s]![p]!;
    return reference.labels.get(imageKey(image.sopInstanceUID, image.frameNumber));
  };

  // Where the heart is (the bare model's coarse pass, as at inference): the intensity map and the
  // adapter are fitted on the same located window they are applied to (the image centre when the
  // heart lies inside the centred window).
  const infer = (input: Float32Array, count: number, withFeatures: boolean) => model.session.run(input, count, withFeatures);
  const { centreMm } = await locateHeart(study.grid, manifest, shape, infer);
  const modelWindow: ModelWindow = { centreMm };

  // The annotated images' normalised windows: what the intensity map is fitted on.
  const plane = shape.rows * shape.columns;
  const scratch = new Float32Array(plane);
  const windows: Array<{ window: Float32Array; reference: Uint8Array; mapping: ReturnType<typeof mappingFor> }> = [];
  for (const p of phases) {
    study.grid.images.forEach((row, s) => {
      const labels = referenceOf(p, s);
      if (!labels) return;
      const window = new Float32Array(plane);
      preprocessImage(row[p]!, shape, manifest, window, scratch, modelWindow);
      windows.push({ window, reference: labels, mapping: mappingFor(row[p]!, shape, manifest, modelWindow) });
    });
  }
  const intensity = intensitySamples(windows, shape.rows, shape.columns, labelValues);

  const subgrid = phaseSubgrid(study, phases);
  const sliceThicknessMm = study.grid.images[0]![0]!.plane.sliceThickness;
  const featurize = async (map: IntensityMapParameters | null): Promise<CalibrationCase> => {
    const segmentation = await segmentStack(subgrid, manifest, shape, infer, {
      keepFeatures: true,
      cleanUp: false,
      centreMm,
      ...(map ? { inputTransform: (window: Float32Array) => applyIntensityMap(map, window) } : {}),
    });
    const kept = segmentation.features!;
    const casePhases: CalibrationPhase[] = phases.map((p, pi) => ({
      phase: p,
      images: study.grid.images.map((row, s) => {
        const labels = referenceOf(p, s);
        return {
          slice: s,
          features: kept.data[s]![pi]!,
          logits: kept.logits[s]![pi]!,
          mapping: mappingFor(row[p]!, shape, manifest, modelWindow),
          plane: row[p]!.plane,
          ...(labels ? { reference: labels } : {}),
        };
      }),
    }));
    return {
      key: hashedUid(studyUid),
      featureDims: kept.dims,
      modelRows: shape.rows,
      modelColumns: shape.columns,
      labelValues,
      segmentLabels: Object.fromEntries(manifest.segments.map((s) => [s.key, s.labelValue])),
      slicePositionsMm: study.grid.slicePositionsMm,
      ...(sliceThicknessMm !== undefined ? { sliceThicknessMm } : {}),
      phases: casePhases,
    };
  };
  // What the user would get: the production steps on the whole study (the heart located through the
  // intensity map as at inference, every phase, the pipeline's own ED/ES choice and measurements).
  const endToEnd = async (adapter: LogitAdapter | undefined, map: IntensityMapParameters | null): Promise<LvFigures | null> => {
    const timer = new StageTimer();
    const segmentation = await segmentStep(study, model, timer, {
      ...(adapter ? { adapter } : {}),
      ...(map ? { inputTransform: (window: Float32Array) => applyIntensityMap(map, window) } : {}),
    });
    const { measurements } = await analyseStep(study, segmentation, model, timer);
    const { lvedv_ml: lvedvMl, lvesv_ml: lvesvMl, lvef_pct: lvefPct } = measurements;
    if (lvedvMl === undefined || lvesvMl === undefined || lvefPct === undefined || !(lvedvMl > 0)) return null;
    return { lvedvMl, lvesvMl, lvefPct };
  };
  const { equipment, sopClassUID } = seriesEquipment(images, study.context.seriesInstanceUID);
  return {
    intensity,
    featurize,
    endToEnd,
    equipment: { modality: study.context.modality, ...equipment },
    sopClassUID,
    studyInstanceUID: studyUid,
    annotatedImages: reference.annotatedImages,
  };
}

/** The study folders under `dir` (each holds one study's images and its reference SEG). */
export async function annotatedFolders(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    throw new BadInputError(`--studies ${dir} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const folders = entries.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => join(dir, e.name)).sort();
  if (folders.length === 0) throw new BadInputError(`K = 0: ${dir} holds no study folder (one folder per annotated study: images + reference SEG)`);
  return folders;
}

export async function readAnnotatedFolder(folder: string, model: LoadedModel): Promise<AnnotatedStudy> {
  return annotatedStudy(await readInstancesFromFolder(folder), folder, model);
}

export interface CalibrateOptions {
  readonly store: CalibrationStore;
  readonly rule?: Partial<PromotionRule>;
  /** Scope to store; @defaultValue the attributes all K studies share */
  readonly scope?: CalibrationScope;
  /** Activate when promoted. @defaultValue true */
  readonly activate?: boolean;
  readonly headIterations?: number;
  /** Adapters to try (src/calibration/fit.ts). @defaultValue both */
  readonly candidates?: readonly AdapterCandidate[];
  readonly onProgress?: (done: number, total: number, what: string) => void;
  /** Stops the calibration between units of work; nothing is stored or activated then. */
  readonly signal?: AbortSignal;
  readonly now?: Date;
}

/** Fits, evaluates, decides and stores a calibration from annotated studies; activates it when promoted. */
export async function calibrate(model: LoadedModel, studies: readonly AnnotatedStudy[], options: CalibrateOptions): Promise<CalibrationProfile> {
  if (studies.length === 0) throw new BadInputError('K = 0: no annotated study to calibrate from');
  const t0 = performance.now();
  const rule: PromotionRule = { ...DEFAULT_PROMOTION_RULE, ...options.rule };
  const scope = options.scope ?? sharedScope(studies.map((s) => s.equipment));
  const manifest = model.manifest;
  // Against what runs now for these studies: the calibration the router would pick for the first study.
  const current = pickCalibration(options.store.active(manifest), studies[0]!.equipment);
  const fitted = await fitCalibration(studies, {
    rule,
    ...(current ? { active: { id: current.id, adapter: adapterOf(current), intensity: current.parameters.intensity ?? null } } : {}),
    ...(options.headIterations ? { head: { iterations: options.headIterations } } : {}),
    ...(options.candidates ? { candidates: options.candidates } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const created = options.now ?? new Date();
  const sourceStudies = studies.map((s) => hashedUid(s.studyInstanceUID));
  const hash = createHash('sha256').update(JSON.stringify({ sourceStudies, head: fitted.head, created: created.toISOString() })).digest('hex');
  const bare = await Promise.all(studies.map((s) => s.featurize(null)));
  const profile: CalibrationProfile = {
    format: 'pulse-calibration',
    formatVersion: 1,
    id: CalibrationStore.newId(created, hash),
    created: created.toISOString(),
    promoted: fitted.promoted,
    reason: fitted.reason,
    model: { name: manifest.name, version: manifest.version },
    scope,
    opens: {
      modalities: [...new Set(studies.map((s) => s.equipment.modality ?? '').filter(Boolean))],
      sopClassUIDs: [...new Set(studies.map((s) => s.sopClassUID).filter(Boolean))],
    },
    k: studies.length,
    sourceStudies,
    annotation: coverageOf(bare),
    metrics: fitted.metrics,
    candidates: fitted.candidates,
    parameters: { head: fitted.head, intensity: fitted.intensity, fit: fitted.fit, promotion: rule },
    timingsMs: { fit: Math.round(performance.now() - t0) },
  };
  options.signal?.throwIfAborted();
  options.store.save(profile);
  if (profile.promoted && (options.activate ?? true)) options.store.activate(profile.id);
  return profile;
}

// ---------------------------------------------------------------- applying a calibration

const adapters = new Map<string, LogitAdapter>();

/** The profile's segmentation adapter (built once per profile id). */
export function adapterOf(profile: Pick<CalibrationProfile, 'id' | 'parameters'>): LogitAdapter {
  let adapter = adapters.get(profile.id);
  if (!adapter) {
    adapter = linearHeadAdapter(profile.parameters.head as LinearHeadParameters);
    adapters.set(profile.id, adapter);
  }
  return adapter;
}

/** Series rules with what a calibration opens (its modalities and SOP classes) added to `base`. */
export function seriesRulesWith(profile: Pick<CalibrationProfile, 'opens'>, base: SeriesSelectionRulesInput = {}): SeriesSelectionRulesInput {
  const modalities = base.modalities ?? defaultSeriesSelectionRules.modalities;
  const sopClassUIDs = base.sopClassUIDs ?? defaultSeriesSelectionRules.sopClassUIDs;
  return {
    ...base,
    modalities: [...new Set([...modalities, ...profile.opens.modalities])],
    sopClassUIDs: [...new Set([...sopClassUIDs, ...profile.opens.sopClassUIDs])],
  };
}

/** The profile's intensity map as the model's input transform, when it has one. */
export function inputTransformOf(profile: Pick<CalibrationProfile, 'id' | 'parameters'>): ((window: Float32Array) => void) | undefined {
  const map = profile.parameters.intensity;
  if (!map) return undefined;
  checkIntensityMap(map, `calibration ${profile.id}`);
  return (window) => applyIntensityMap(map, window);
}

/** Checks that a calibration belongs to the model it is about to run with. */
export function checkCalibrationModel(profile: CalibrationProfile, model: { name: string; version: string }): void {
  if (profile.model.name !== model.name || profile.model.version !== model.version) {
    throw new BadInputError(`calibration ${profile.id} belongs to ${profile.model.name} ${profile.model.version}, not to ${model.name} ${model.version}`);
  }
}
