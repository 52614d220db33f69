/** The Patient and General Study context that derived objects (SEG, SR) copy from their source. */
import type { FrameOfReferenceUID, SeriesInstanceUID, StudyInstanceUID } from '../dicom/uid.js';
import type { NaturalDataset } from '../dicom/read/dicom-file.js';
import { firstNumber, firstText } from './frames.js';
import type { StudyContext } from './types.js';
import { PATIENT_STUDY_KEYWORDS } from '../dicom/modules/patient-study-attributes.js';

/** The Patient and Study keywords the reader keeps (one table with the writers: dicom/modules/patient-study-attributes.ts). */
export { PATIENT_STUDY_KEYWORDS } from '../dicom/modules/patient-study-attributes.js';

/** PatientSize (m) when plausible for a human (0.5-2.5 m). Some systems write centimetres: those are not guessed at. */
export function plausibleSizeM(value: unknown): number | undefined {
  const v = firstNumber(value);
  return v !== undefined && v >= 0.5 && v <= 2.5 ? v : undefined;
}

/** PatientWeight (kg) when plausible (2-400 kg). */
export function plausibleWeightKg(value: unknown): number | undefined {
  const v = firstNumber(value);
  return v !== undefined && v >= 2 && v <= 400 ? v : undefined;
}

/** Builds the context from the chosen series' first instance. */
export function studyContext(
  dataset: NaturalDataset,
  studyInstanceUID: StudyInstanceUID,
  seriesInstanceUID: SeriesInstanceUID,
  frameOfReferenceUID: FrameOfReferenceUID | undefined,
): StudyContext {
  const attributes: Record<string, unknown> = {};
  for (const keyword of PATIENT_STUDY_KEYWORDS) {
    const value = dataset[keyword];
    if (value !== undefined && value !== null && value !== '') attributes[keyword] = value;
  }
  attributes['StudyInstanceUID'] = studyInstanceUID;
  const patientSizeM = plausibleSizeM(dataset['PatientSize']);
  const patientWeightKg = plausibleWeightKg(dataset['PatientWeight']);
  return {
    studyInstanceUID,
    seriesInstanceUID,
    ...(frameOfReferenceUID ? { frameOfReferenceUID } : {}),
    modality: firstText(dataset['Modality']) ?? 'MR',
    ...(patientSizeM !== undefined ? { patientSizeM } : {}),
    ...(patientWeightKg !== undefined ? { patientWeightKg } : {}),
    patientStudyAttributes: Object.freeze(attributes),
  };
}
