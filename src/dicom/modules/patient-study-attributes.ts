/**
 * The one table of Patient, Clinical Trial Subject, General Study and Patient Study attributes: the
 * study reader keeps every one it finds (study/context.ts), and the writers copy some of them into
 * the derived objects (patient-study.ts), in the way the `copiedAs` column says.
 */

/** The VRs of the attributes we copy (copied-values.ts sanitises each to its VR). */
export type CopiedVr = 'PN' | 'LO' | 'SH' | 'LT' | 'DA' | 'TM' | 'CS' | 'AS' | 'DS' | 'SQ';

interface AttributeRow {
  readonly keyword: string;
  readonly module: 'Patient' | 'Clinical Trial Subject' | 'Clinical Trial Study' | 'General Study' | 'Patient Study';
}

/**
 * `copiedAs` says how SEG, SR and overlay carry it: 2 = always present (empty when unknown or
 * invalid), 3 = copied only when present and valid; without it the attribute is read with the study
 * but not copied. The clinical-trial modules are optional as a whole in our objects, so their
 * attributes copy as 3. `vr` (copied rows only) is what the value is sanitised to.
 */
export type PatientStudyAttribute = AttributeRow & ({ readonly copiedAs: 2 | 3; readonly vr: CopiedVr } | { readonly copiedAs?: undefined; readonly vr?: undefined });

export const PATIENT_STUDY_ATTRIBUTES: readonly PatientStudyAttribute[] = [
  { keyword: 'PatientName', module: 'Patient', copiedAs: 2, vr: 'PN' },
  { keyword: 'PatientID', module: 'Patient', copiedAs: 2, vr: 'LO' },
  { keyword: 'IssuerOfPatientID', module: 'Patient', copiedAs: 3, vr: 'LO' },
  { keyword: 'IssuerOfPatientIDQualifiersSequence', module: 'Patient' },
  { keyword: 'PatientBirthDate', module: 'Patient', copiedAs: 2, vr: 'DA' },
  { keyword: 'PatientBirthTime', module: 'Patient', copiedAs: 3, vr: 'TM' },
  { keyword: 'PatientSex', module: 'Patient', copiedAs: 2, vr: 'CS' },
  { keyword: 'OtherPatientIDsSequence', module: 'Patient', copiedAs: 3, vr: 'SQ' },
  { keyword: 'PatientComments', module: 'Patient', copiedAs: 3, vr: 'LT' },
  { keyword: 'PatientIdentityRemoved', module: 'Patient', copiedAs: 3, vr: 'CS' },
  { keyword: 'DeidentificationMethod', module: 'Patient', copiedAs: 3, vr: 'LO' },
  { keyword: 'DeidentificationMethodCodeSequence', module: 'Patient' },
  { keyword: 'ResponsiblePerson', module: 'Patient' },
  { keyword: 'ResponsibleOrganization', module: 'Patient' },
  { keyword: 'PatientSpeciesDescription', module: 'Patient' },
  { keyword: 'PatientBreedDescription', module: 'Patient' },
  { keyword: 'ClinicalTrialSponsorName', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialProtocolID', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialProtocolName', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialSiteID', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialSiteName', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialSubjectID', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialSubjectReadingID', module: 'Clinical Trial Subject', copiedAs: 3, vr: 'LO' },
  { keyword: 'ClinicalTrialTimePointID', module: 'Clinical Trial Study', copiedAs: 3, vr: 'LO' },
  // StudyInstanceUID is referenced exactly as the source holds it, never copied as a value.
  { keyword: 'StudyInstanceUID', module: 'General Study' },
  { keyword: 'StudyDate', module: 'General Study', copiedAs: 2, vr: 'DA' },
  { keyword: 'StudyTime', module: 'General Study', copiedAs: 2, vr: 'TM' },
  { keyword: 'ReferringPhysicianName', module: 'General Study', copiedAs: 2, vr: 'PN' },
  { keyword: 'StudyID', module: 'General Study', copiedAs: 2, vr: 'SH' },
  { keyword: 'AccessionNumber', module: 'General Study', copiedAs: 2, vr: 'SH' },
  { keyword: 'IssuerOfAccessionNumberSequence', module: 'General Study', copiedAs: 3, vr: 'SQ' },
  { keyword: 'StudyDescription', module: 'General Study', copiedAs: 3, vr: 'LO' },
  { keyword: 'PhysiciansOfRecord', module: 'General Study' },
  { keyword: 'NameOfPhysiciansReadingStudy', module: 'General Study' },
  { keyword: 'ProcedureCodeSequence', module: 'General Study' },
  { keyword: 'ReferencedStudySequence', module: 'General Study' },
  { keyword: 'AdmittingDiagnosesDescription', module: 'Patient Study' },
  { keyword: 'PatientAge', module: 'Patient Study', copiedAs: 3, vr: 'AS' },
  { keyword: 'PatientSize', module: 'Patient Study', copiedAs: 3, vr: 'DS' },
  { keyword: 'PatientWeight', module: 'Patient Study', copiedAs: 3, vr: 'DS' },
  { keyword: 'EthnicGroup', module: 'Patient Study', copiedAs: 3, vr: 'SH' },
  { keyword: 'Occupation', module: 'Patient Study' },
  { keyword: 'AdditionalPatientHistory', module: 'Patient Study' },
];

/** Every keyword the reader keeps, in table order. */
export const PATIENT_STUDY_KEYWORDS: readonly string[] = PATIENT_STUDY_ATTRIBUTES.map((a) => a.keyword);

/** The keywords derived objects copy as `type` (2 or 3). */
export function copiedKeywords(type: 2 | 3): readonly string[] {
  return PATIENT_STUDY_ATTRIBUTES.filter((a) => a.copiedAs === type).map((a) => a.keyword);
}

/** VR of every attribute the writers copy. */
export const COPIED_VR: Readonly<Record<string, CopiedVr>> = Object.fromEntries(
  PATIENT_STUDY_ATTRIBUTES.flatMap((a) => (a.copiedAs !== undefined ? [[a.keyword, a.vr] as const] : [])),
);
