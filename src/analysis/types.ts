/**
 * The analysis stage's types: what it takes (AnalysisInput) and what it gives (StudyAnalysis). Kept apart
 * from index.ts so that the stage's modules import them without importing the stage's public API.
 */
import type { Manifest } from '../model/manifest.js';
import type { ResultMeasurements } from '../core/result.js';
import type { CineGrid, LabelMap, StudyContext } from '../study/types.js';
import type { DiagnosisResult, StudyHeadRunner as StudyHeadRunnerType } from './diagnosis.js';
import type { NarrativeText } from './narrative.js';
import type { AppliedRange, RangeFlag, RangePopulation } from './normal-ranges.js';
import type { WallThicknessResult } from './wall-thickness.js';
import type { StudyFeatureVector } from './study-features.js';

/**
 * Runs the manifest's study head: `input` is the standardised feature vector, `dims` its shape
 * ([1, F]); resolves to the group logits (length = manifest.diagnosis.groups.length, same order).
 */
export type StudyHeadRunner = StudyHeadRunnerType;

/** ED and ES as phase indices into the grid (0-based). */
export interface CardiacPhases {
  readonly ed: number;
  readonly es: number;
}

export interface AnalysisInput {
  readonly grid: CineGrid;
  /** Label maps in grid order, `labelMaps[slice][phase]`, each on its own image's grid (values = manifest labelValue). */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap>>;
  readonly manifest: Manifest;
  readonly context: StudyContext;
  /**
   * Global embedding per image, `embeddings[slice][phase]` (the model's embedding output). Needed only
   * when the study head uses embedding features, and then only at ED and ES.
   */
  readonly embeddings?: ReadonlyArray<ReadonlyArray<Float32Array | undefined>>;
  readonly runStudyHead: StudyHeadRunner;
  /**
   * ED/ES known from elsewhere (ACDC's labelled frames, when the grid holds only those two phases);
   * @defaultValue found from the LV volume curve
   */
  readonly knownPhases?: CardiacPhases;
}

/** result.json's measurements: values rounded as result.json and the SR print them (see conventions.ts). */
export type Measurements = ResultMeasurements;

/** The head's input: names (vector features as name[i]), raw values and standardised values, manifest order. */
export type StudyFeatures = StudyFeatureVector;

/** label = group with the highest probability; probabilities = softmax(logits / temperature), rounded to PROBABILITY_DECIMALS. */
export type Diagnosis = DiagnosisResult;

/** findings, impression, disclaimer, and `text` (all three, result.json's narrative); numbers only from the measurements. */
export type Narrative = NarrativeText;

export interface StudyAnalysis {
  readonly phases: CardiacPhases;
  /** Volume curve per segment key ('lv', 'myo', 'rv', ...), ml per phase, unrounded. */
  readonly volumesMl: Readonly<Record<string, readonly number[]>>;
  readonly measurements: Measurements;
  /** The same measurements unrounded (tests, truth comparison). */
  readonly exactMeasurements: Readonly<Record<string, number>>;
  readonly features: StudyFeatures;
  readonly diagnosis: Diagnosis;
  readonly narrative: Narrative;
  /** NORMAL/LOW/HIGH per measurement that normal-ranges.ts covers (PatientSex-specific when known and tabled). */
  readonly flags: Readonly<Record<string, RangeFlag>>;
  /** The range applied to each flagged measurement (normal-ranges.ts): result.json's reference_ranges. */
  readonly referenceRanges: Readonly<Record<string, AppliedRange>>;
  /** PatientSex / age used to choose the ranges (absent = unknown). */
  readonly population: RangePopulation;
  /** Maximal ED wall thickness and its AHA segment, when found. */
  readonly wallThickness?: WallThicknessResult;
  /** Remarks for the log/result (e.g. volume-curve ED far from the first phase). No patient data. */
  readonly notes: readonly string[];
}
