/**
 * The analysis stage in one call: measurements -> features -> diagnosis -> narrative. Thin wiring;
 * each step lives in its own module.
 */
import type { AnalysisInput, StudyAnalysis } from './types.js';
import { diagnose } from './diagnosis.js';
import { measureStudy } from './measurements.js';
import { buildNarrative } from './narrative.js';
import { applyRanges, patientAgeYears, patientSexCode, type RangePopulation } from './normal-ranges.js';
import { computeStudyFeatures } from './study-features.js';

export async function analyseStudy(input: AnalysisInput): Promise<StudyAnalysis> {
  const { grid, labelMaps, manifest, context } = input;
  const measured = measureStudy({ grid, labelMaps, manifest, context, ...(input.knownPhases ? { knownPhases: input.knownPhases } : {}) });
  const features = computeStudyFeatures(
    {
      areasMm2: measured.areasMm2,
      slabsMm: measured.slabsMm,
      labels: measured.labels,
      phases: measured.phases,
      labelMaps,
      ...(context.patientSizeM !== undefined ? { patientSizeM: context.patientSizeM } : {}),
      ...(context.patientWeightKg !== undefined ? { patientWeightKg: context.patientWeightKg } : {}),
      ...(input.embeddings ? { embeddings: input.embeddings } : {}),
    },
    manifest.diagnosis.studyHead,
  );
  const diagnosis = await diagnose(features.standardised, manifest.diagnosis, input.runStudyHead);
  const patientSex = patientSexCode(context.patientStudyAttributes.PatientSex);
  const ageYears = patientAgeYears(context.patientStudyAttributes.PatientAge);
  const population: RangePopulation = { ...(patientSex ? { sex: patientSex } : {}), ...(ageYears !== undefined ? { ageYears } : {}) };
  const narrative = buildNarrative({
    measurements: measured.measurements,
    diagnosis,
    groups: manifest.diagnosis.groups,
    ...(patientSex ? { patientSex } : {}),
    ...(ageYears !== undefined ? { patientAgeYears: ageYears } : {}),
    ...(measured.wallThickness?.segmentName ? { wallThicknessSegment: measured.wallThickness.segmentName } : {}),
  });
  const referenceRanges = applyRanges(measured.measurements, population);
  return {
    phases: measured.phases,
    volumesMl: measured.volumesMl,
    measurements: measured.measurements,
    exactMeasurements: measured.exact,
    features,
    diagnosis,
    narrative,
    flags: Object.fromEntries(Object.entries(referenceRanges).map(([key, range]) => [key, range.flag])),
    referenceRanges,
    population,
    ...(measured.wallThickness ? { wallThickness: measured.wallThickness } : {}),
    notes: measured.notes,
  };
}
