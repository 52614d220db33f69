/**
 * Every medical code the project writes, in one place. Each was looked up in the DICOM standard's
 * tables (PS3.16 context groups and templates; the CID noted per code), never invented. Sources used:
 * PixelMed's compiled PS3.16 templates (TID 1500/1501/1411/1419/1600/1204/1002/1004 rows) and the
 * PS3.16 context groups (CID 100, 3206, 3463, 3468, 3469, 3833, 3835, 6048, 7021, 7150, 7152, 7162,
 * 12203, 12239) as transcribed by the DICOM-terminology-in-FHIR project.
 */

/** A coded concept (Code Sequence Macro: CodeValue, CodingSchemeDesignator, CodeMeaning). */
export interface CodedConcept {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

const c = (value: string, scheme: string, meaning: string): CodedConcept => Object.freeze({ value, scheme, meaning });

/** Naturalized Code Sequence item (dcmjs keywords). */
export function codeItem(code: CodedConcept): Record<string, string> {
  return { CodeValue: code.value, CodingSchemeDesignator: code.scheme, CodeMeaning: code.meaning };
}

/** True when two codes denote the same concept (value and scheme; meanings may be worded differently). */
export function sameCode(a: CodedConcept, b: CodedConcept): boolean {
  return a.value === b.value && a.scheme === b.scheme;
}

// --- SEG derivation (PS3.3 C.8.20; CID 7202 purpose of reference, CID 7203 derivation) ---
export const SOURCE_IMAGE_FOR_PROCESSING = c('121322', 'DCM', 'Source image for image processing operation');
export const SEGMENTATION_DERIVATION = c('113076', 'DCM', 'Segmentation');
/** CID 7162 Surface Processing Algorithm Family (used for SegmentationAlgorithmIdentificationSequence). */
export const ARTIFICIAL_INTELLIGENCE = c('123110', 'DCM', 'Artificial Intelligence');
export const MANUAL_PROCESSING = c('123109', 'DCM', 'Manual Processing');

// --- Anatomy (CID 7150 category; CID 7152 / 3463 ventricles) ---
export const ANATOMICAL_STRUCTURE = c('91723000', 'SCT', 'Anatomical Structure');
export const HEART = c('80891009', 'SCT', 'Heart');
export const LEFT_VENTRICLE = c('87878005', 'SCT', 'Left Ventricle');
export const RIGHT_VENTRICLE = c('53085002', 'SCT', 'Right Ventricle');

// --- TID 1500 Measurement Report structure ---
export const IMAGING_MEASUREMENT_REPORT = c('126000', 'DCM', 'Imaging Measurement Report'); // CID 7021
export const LANGUAGE_OF_CONTENT = c('121049', 'DCM', 'Language of Content Item and Descendants'); // TID 1204
export const ENGLISH_US = c('en-US', 'RFC5646', 'English (United States)'); // CID 5000
export const OBSERVER_TYPE = c('121005', 'DCM', 'Observer Type'); // TID 1002
export const DEVICE = c('121007', 'DCM', 'Device'); // CID 270
export const DEVICE_OBSERVER_UID = c('121012', 'DCM', 'Device Observer UID'); // TID 1004
export const DEVICE_OBSERVER_NAME = c('121013', 'DCM', 'Device Observer Name');
export const DEVICE_OBSERVER_MANUFACTURER = c('121014', 'DCM', 'Device Observer Manufacturer');
export const DEVICE_OBSERVER_MODEL_NAME = c('121015', 'DCM', 'Device Observer Model Name');
export const PROCEDURE_REPORTED = c('121058', 'DCM', 'Procedure reported');
export const IMAGE_LIBRARY = c('111028', 'DCM', 'Image Library'); // TID 1600
export const IMAGE_LIBRARY_GROUP = c('126200', 'DCM', 'Image Library Group');
export const IMAGING_MEASUREMENTS = c('126010', 'DCM', 'Imaging Measurements');
export const DERIVED_IMAGING_MEASUREMENTS = c('126011', 'DCM', 'Derived Imaging Measurements'); // TID 1500 row 10 (TID 1420)
export const MEASUREMENT_GROUP = c('125007', 'DCM', 'Measurement Group'); // TID 1501 / 1411
export const TRACKING_IDENTIFIER = c('112039', 'DCM', 'Tracking Identifier');
export const TRACKING_UID = c('112040', 'DCM', 'Tracking Unique Identifier');
export const FINDING = c('121071', 'DCM', 'Finding');
export const FINDING_SITE = c('363698007', 'SCT', 'Finding Site');
export const REFERENCED_SEGMENT = c('121191', 'DCM', 'Referenced Segment'); // TID 1411 row 7
export const SOURCE_IMAGE_FOR_SEGMENTATION = c('121233', 'DCM', 'Source image for segmentation'); // TID 1411 row 11
export const SOURCE_SERIES_FOR_SEGMENTATION = c('121232', 'DCM', 'Source series for segmentation'); // TID 1411 row 12
export const QUALITATIVE_EVALUATIONS = c('C0034375', 'UMLS', 'Qualitative Evaluations'); // TID 1500 row 12
export const IMPRESSION = c('121073', 'DCM', 'Impression'); // CID 7002
export const COMMENT = c('121106', 'DCM', 'Comment');
export const EQUIVALENT_MEANING_OF_CONCEPT_NAME = c('121050', 'DCM', 'Equivalent Meaning of Concept Name'); // TID 300 row 16
/** CID 6048: the probability the model gives its diagnosis. */
export const CERTAINTY_OF_FINDING = c('111012', 'DCM', 'Certainty of Finding');

// --- Measurement properties (TID 310) and normal range properties (TID 312), on each measurement NUM.
// Concept names from PS3.16 TID 310/312 (DCM); values from CID 222 Normality Codes and CID 223 Normal
// Range Values (SCT), as PixelMed's DicomContextGroupsSource.xml lists them.
export const NORMALITY = c('121402', 'DCM', 'Normality');
export const NORMALITY_NORMAL = c('17621005', 'SCT', 'Normal');
export const NORMALITY_ABNORMALLY_HIGH = c('371879000', 'SCT', 'Abnormally High');
export const NORMALITY_ABNORMALLY_LOW = c('371880002', 'SCT', 'Abnormally Low');
export const NORMAL_RANGE_LOWER_LIMIT = c('385524004', 'SCT', 'Normal Range Lower Limit');
export const NORMAL_RANGE_UPPER_LIMIT = c('371933006', 'SCT', 'Normal Range Upper Limit');
export const NORMAL_RANGE_DESCRIPTION = c('121407', 'DCM', 'Normal Range description');
export const NORMAL_RANGE_AUTHORITY = c('121408', 'DCM', 'Normal Range Authority');

// --- Procedure reported: TID 1500 row 4 takes DCID 100 (Quantitative Diagnostic Imaging Procedure).
// PixelMed's validator rejects codes outside CID 100 there, so the cardiac-specific procedure codes of
// CID 3206 (Cardiac MRI 241620005, Echocardiography 40701008) are kept for reference only.
export const MRI_UNSPECIFIED_BODY_REGION = c('25056-3', 'LN', 'MRI unspecified body region'); // CID 100
export const CT_UNSPECIFIED_BODY_REGION = c('25045-6', 'LN', 'CT unspecified body region'); // CID 100
export const IMAGING_PROCEDURE = c('363679005', 'SCT', 'Imaging procedure'); // CID 100
export const CARDIAC_MRI = c('241620005', 'SCT', 'Cardiac MRI'); // CID 3206
export const ECHOCARDIOGRAPHY = c('40701008', 'SCT', 'Echocardiography'); // CID 3206

/** The imaging procedure a study of this modality reports on (the acquisition, not the algorithm: IHE AIR). */
export function procedureForModality(modality: string): CodedConcept {
  if (modality === 'MR') return MRI_UNSPECIFIED_BODY_REGION;
  if (modality === 'CT') return CT_UNSPECIFIED_BODY_REGION;
  return IMAGING_PROCEDURE;
}

// --- Cardiac measurements ---
export const LV_ED_VOLUME = c('8821-1', 'LN', 'Left Ventricular ED Volume'); // CID 3468
export const RV_ED_VOLUME = c('8822-9', 'LN', 'Right Ventricular ED Volume'); // CID 3468
export const LV_ES_VOLUME = c('8823-7', 'LN', 'Left Ventricular ES Volume'); // CID 3469
export const RV_ES_VOLUME = c('8824-5', 'LN', 'Right Ventricular ES Volume'); // CID 3469
export const STROKE_VOLUME = c('90096001', 'SCT', 'Stroke Volume'); // CID 3835 (with Finding Site)
export const STROKE_INDEX = c('277381004', 'SCT', 'Stroke Index'); // CID 12239 (with Finding Site)
export const LV_MASS = c('18087-7', 'LN', 'Left Ventricle Mass'); // CID 12203
export const LVEF_MR = c('8811-2', 'LN', 'Left ventricular ejection fraction by MR'); // CID 3833
export const RVEF_MR = c('8818-7', 'LN', 'Right ventricular ejection fraction by MR'); // CID 3833
export const LVEF_CT = c('8810-4', 'LN', 'Left ventricular ejection fraction by CT'); // CID 3833
export const RVEF_CT = c('8817-9', 'LN', 'Right ventricular ejection fraction by CT'); // CID 3833
export const CARDIAC_EJECTION_FRACTION = c('70822001', 'SCT', 'Cardiac ejection fraction'); // CID 12252 (with Finding Site)

// --- UCUM units (CID 7181 family; UCUM case-sensitive codes) ---
export const UNIT_ML = c('ml', 'UCUM', 'milliliter');
export const UNIT_PERCENT = c('%', 'UCUM', 'percent');
export const UNIT_G = c('g', 'UCUM', 'gram');
export const UNIT_ML_PER_M2 = c('ml/m2', 'UCUM', 'milliliter per square meter');
export const UNIT_G_PER_M2 = c('g/m2', 'UCUM', 'gram per square meter');
export const UNIT_M2 = c('m2', 'UCUM', 'square meter');

// --- Contributing equipment (CID 7005) ---
export const PROCESSING_EQUIPMENT = c('109102', 'DCM', 'Processing Equipment');
/** UCUM annotation for a dimensionless ratio (a probability 0..1). */
export const UNIT_RATIO = c('{ratio}', 'UCUM', 'ratio');

// --- Quality control of the automated result (CID 6044 Types of Image Quality Assessment, as PixelMed's
// DicomContextGroupsSource.xml lists it). Stated in Qualitative Evaluations as a Finding when the
// result's quality control asks for review or failed (docs/quality-control.md). ---
export const QC_UNUSABLE = c('111235', 'DCM', 'Unusable - Quality renders image unusable');
export const QC_DOES_NOT_MEET_STANDARD = c('111236', 'DCM', 'Usable - Does not meet the quality control standard');
