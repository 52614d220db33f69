/** Patient and General Study modules, copied from the source study into derived objects, sanitised to their VR. */
import type { StudyContext } from '../../study/types.js';
import { copyValues, type SanitisedValue } from './copied-values.js';
import { copiedKeywords } from './patient-study-attributes.js';

/** Type 2 attributes must be present (empty when unknown or invalid); Type 3 ones are copied only when present and valid. */
const TYPE2 = copiedKeywords(2);
const TYPE3 = copiedKeywords(3);

export interface PatientStudyModule {
  readonly attributes: Record<string, unknown>;
  /** Copied values changed to fit their VR (keyword and kind only). */
  readonly sanitised: readonly SanitisedValue[];
}

/**
 * Patient, Clinical Trial Subject, General Study and Patient Study attributes for a derived object.
 * StudyInstanceUID is referenced exactly as the source holds it (it must match the source study).
 */
export function patientStudyModule(context: StudyContext): PatientStudyModule {
  const { attributes, sanitised } = copyValues(context.patientStudyAttributes ?? {}, TYPE2, TYPE3);
  // Height and weight give the indexed values: keep them beside the report (Patient Study module).
  if (attributes.PatientSize === undefined && context.patientSizeM !== undefined) attributes.PatientSize = context.patientSizeM;
  if (attributes.PatientWeight === undefined && context.patientWeightKg !== undefined) attributes.PatientWeight = context.patientWeightKg;
  attributes.StudyInstanceUID = context.studyInstanceUID;
  return { attributes, sanitised };
}

/** The attributes alone (callers that do not report sanitisation). */
export function patientStudyAttributes(context: StudyContext): Record<string, unknown> {
  return patientStudyModule(context).attributes;
}
