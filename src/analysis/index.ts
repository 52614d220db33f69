/**
 * Public API of the analysis stage: label maps of a cine grid in, measurements, ED/ES, study
 * features, diagnosis and narrative out. Pure: the only outside effect is the study head, which the
 * caller injects as a function (the pipeline passes an onnxruntime session), so this module never
 * owns onnxruntime or touches the file system.
 */
export type { AnalysisInput, CardiacPhases, Diagnosis, Measurements, Narrative, StudyAnalysis, StudyFeatures, StudyHeadRunner } from './types.js';
export { analyseStudy } from './analyse-study.js';
export { measureStudy, type StudyMeasurement } from './measurements.js';
export { computeStudyFeatures } from './study-features.js';
export { diagnose, diagnosisFromLogits, softmaxWithTemperature } from './diagnosis.js';
export { buildNarrative, certaintyPhrase, DISCLAIMER, type NarrativeInput } from './narrative.js';
export {
  applyRange,
  applyRanges,
  flagMeasurement,
  measurementFlags,
  patientAgeYears,
  patientSexCode,
  populationSentence,
  referenceRange,
  REFERENCE_RANGES,
  REFERENCE_SOURCE,
  type AppliedRange,
  type RangeFlag,
  type RangePopulation,
} from './normal-ranges.js';
export { maximalWallThickness, ahaSegment, AHA_SEGMENT_NAMES, type WallThicknessResult } from './wall-thickness.js';
export {
  formatMeasurement,
  roundMeasurement,
  measurementDecimals,
  PROBABILITY_DECIMALS,
  MEASUREMENT_UNITS,
  bsaMosteller,
} from './conventions.js';
export { segmentLabels, type SegmentLabels } from './segments.js';
