/** The Patient and General Study context that derived objects (SEG, SR) copy from their source. */
import type { FrameOfReferenceUID, SeriesInstanceUID, StudyInstanceUID } from '../dicom/uid.js';
import type { NaturalDataset } from '../dicom/read/dicom-file.js';
import { firstNumber, firstText } from './frames.js';
import type { StudyContext } from './types.js';

/** Patient, Clinical Trial Subject, Patient Study and General Study module keywords copied as they are. */
export const PATIENT_STUDY_KEYWORDS = [
  // Patient module
  'PatientName',
  'PatientID',
  'IssuerOfPatientID',
  'IssuerOfPatientIDQualifiersSequence',
  'PatientBirthDate',
  'PatientBirthTime',
  'PatientSex',
  'OtherPatientIDsSequence',
  'PatientComments',
  'PatientIdentityRemoved',
  'DeidentificationMethod',
  'DeidentificationMethodCodeSequence',
  'ResponsiblePerson',
  'ResponsibleOrganization',
  'PatientSpeciesDescription',
  'PatientBreedDescription',
  // Clinical Trial Subject module
  'ClinicalTrialSponsorName',
  'ClinicalTrialProtocolID',
  'ClinicalTrialProtocolName',
  'ClinicalTrialSiteID',
  'ClinicalTrialSiteName',
  'ClinicalTrialSubjectID',
  'ClinicalTrialSubjectReadingID',
  // General Study module
  'StudyInstanceUID',
  'StudyDate',
  'StudyTime',
  'ReferringPhysicianName',
  'StudyID',
  'AccessionNumber',
  'IssuerOfAccessionNumberSequence',
  'StudyDescription',
  'PhysiciansOfRecord',
  'NameOfPhysiciansReadingStudy',
  'ProcedureCodeSequence',
  'ReferencedStudySequence',
  // Patient Study module
  'AdmittingDiagnosesDescription',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'EthnicGroup',
  'Occupation',
  'AdditionalPatientHistory',
] as const;

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
