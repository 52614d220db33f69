/** Patient and General Study modules, copied from the source study into derived objects. */
import type { StudyContext } from '../../study/types.js';

/** Type 2 attributes must be present (empty when unknown); Type 3 ones are copied only when present. */
const TYPE2 = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber'] as const;
const TYPE3 = [
  'IssuerOfPatientID',
  'OtherPatientIDsSequence',
  'PatientAge',
  'PatientSize',
  'PatientWeight',
  'EthnicGroup',
  'PatientComments',
  'PatientIdentityRemoved',
  'DeidentificationMethod',
  'StudyDescription',
  'IssuerOfAccessionNumberSequence',
  'ClinicalTrialSponsorName',
  'ClinicalTrialProtocolID',
  'ClinicalTrialProtocolName',
  'ClinicalTrialSiteID',
  'ClinicalTrialSiteName',
  'ClinicalTrialSubjectID',
  'ClinicalTrialSubjectReadingID',
  'ClinicalTrialTimePointID',
] as const;

/** Patient, Clinical Trial Subject, General Study and Patient Study attributes for a derived object. */
export function patientStudyAttributes(context: StudyContext): Record<string, unknown> {
  const source = context.patientStudyAttributes ?? {};
  const out: Record<string, unknown> = {};
  for (const keyword of TYPE2) out[keyword] = source[keyword] ?? '';
  for (const keyword of TYPE3) {
    const value = source[keyword];
    if (value !== undefined && value !== null && value !== '') out[keyword] = value;
  }
  // Height and weight give the indexed values: keep them beside the report (Patient Study module).
  if (out.PatientSize === undefined && context.patientSizeM !== undefined) out.PatientSize = context.patientSizeM;
  if (out.PatientWeight === undefined && context.patientWeightKg !== undefined) out.PatientWeight = context.patientWeightKg;
  out.StudyInstanceUID = context.studyInstanceUID;
  return out;
}
