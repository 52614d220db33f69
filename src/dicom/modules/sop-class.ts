/**
 * The one base every object we write shares (SEG, SR, overlay), in the spirit of highdicom's
 * SOPClass: SOP Common, Patient/Study (copied, sanitised), General Series, General and Enhanced
 * General Equipment, contributing equipment (the algorithm), and the UID rules.
 *
 * UID rules. A UID we create must be valid (PS3.5 9.1: digits, dots, no leading zeros, at most 64).
 * A UID we reference (the source study, series, images, frame of reference) is written exactly as
 * the source holds it, because references must match; real archives hold UIDs with leading-zero
 * components (`2.16.124.113543.6006.99.0898...`), and those pass through. A referenced UID is
 * refused only when no reader could match it: empty, longer than 64, or holding a backslash or a
 * control character.
 */
import type { StudyContext } from '../../study/types.js';
import { BadInputError } from '../../core/errors.js';
import { isValidUid } from '../uid.js';
import type { SanitisedValue } from './copied-values.js';
import { checkDate, dicomDate, dicomTime } from './datetime.js';
import type { ModelIdentity } from '../../core/model-identity.js';
import { checkAlgorithm, contributingEquipment, equipmentAttributes } from './equipment.js';
import { patientStudyModule } from './patient-study.js';

/** Checks a UID this software creates: it must be valid, whatever the source holds. */
export function checkCreatedUid(value: unknown, argument: string): string {
  if (typeof value !== 'string' || !isValidUid(value)) throw new TypeError(`${argument} is not a valid UID`);
  return value;
}

/** Why a referenced UID cannot be written at all, or undefined when it can (leading zeros are fine). */
export function referencedUidProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'is missing';
  if (value.length > 64) return 'is longer than 64 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f]/u.test(value)) return 'holds a backslash or a control character';
  return undefined;
}

/**
 * Checks a UID copied from the source. It is referenced verbatim; a UID no reader could match is bad
 * input (the study's), not our bug.
 */
export function checkReferencedUid(value: unknown, attribute: string, study?: string): string {
  const problem = referencedUidProblem(value);
  if (problem) throw new BadInputError(`${attribute} ${problem}: it cannot be referenced`, study);
  return value as string;
}

/** The identity of one object we write: what every SOP class needs beyond its own content. */
export interface DerivedObjectInput {
  /** Patient/study context of the source (copied, sanitised; its UIDs referenced verbatim). */
  readonly context: StudyContext;
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly seriesInstanceUID: string;
  readonly modality: string;
  readonly seriesNumber: number;
  readonly instanceNumber: number;
  readonly seriesDescription: string;
  readonly algorithm: ModelIdentity;
  /** Series that the new series must not reuse (the source series, a SEG the SR points at). */
  readonly otherSeries?: readonly string[];
  /** @defaultValue now */
  readonly contentDateTime?: Date;
}

/** The common block of a derived object, plus what was sanitised on the way. */
export interface DerivedObjectBase {
  /** SOP Common, Patient/Study, General Series, equipment, instance number, content date and time. */
  readonly attributes: Record<string, unknown>;
  readonly sanitised: readonly SanitisedValue[];
  readonly algorithm: ModelIdentity;
  /** ContentDate/ContentTime as written (the same instant as the series and instance creation). */
  readonly date: string;
  readonly time: string;
}

function checkPositiveInteger(value: number, argument: string): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`${argument} must be a positive integer`);
  return value;
}

/** Builds and checks the common block; each check names its argument. */
export function derivedObjectBase(input: DerivedObjectInput): DerivedObjectBase {
  const context = input.context;
  if (!context) throw new TypeError('context is required');
  const study = context.studyInstanceUID;
  checkReferencedUid(study, 'StudyInstanceUID', study);
  checkReferencedUid(context.seriesInstanceUID, 'source SeriesInstanceUID', study);
  if (context.frameOfReferenceUID !== undefined) checkReferencedUid(context.frameOfReferenceUID, 'FrameOfReferenceUID', study);
  checkCreatedUid(input.sopClassUID, 'sopClassUID');
  checkCreatedUid(input.sopInstanceUID, 'sopInstanceUID');
  checkCreatedUid(input.seriesInstanceUID, 'seriesInstanceUID');
  if (input.seriesInstanceUID === context.seriesInstanceUID || (input.otherSeries ?? []).includes(input.seriesInstanceUID)) {
    throw new TypeError('seriesInstanceUID must be a new series (not the source series or another output)');
  }
  if (!/^[A-Z0-9 _]{1,16}$/.test(input.modality)) throw new TypeError(`modality '${input.modality}' is not a CS value`);
  const seriesNumber = checkPositiveInteger(input.seriesNumber, 'seriesNumber');
  const instanceNumber = checkPositiveInteger(input.instanceNumber, 'instanceNumber');
  const algorithm = checkAlgorithm(input.algorithm);
  const at = checkDate(input.contentDateTime, 'contentDateTime');
  const date = dicomDate(at);
  const time = dicomTime(at);
  const patientStudy = patientStudyModule(context);
  const attributes: Record<string, unknown> = {
    // SOP Common
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: input.sopClassUID,
    SOPInstanceUID: input.sopInstanceUID,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    // Patient, Clinical Trial Subject, General Study, Patient Study
    ...patientStudy.attributes,
    // General Series
    Modality: input.modality,
    SeriesInstanceUID: input.seriesInstanceUID,
    SeriesNumber: seriesNumber,
    SeriesDate: date,
    SeriesTime: time,
    SeriesDescription: input.seriesDescription.slice(0, 64),
    // General + Enhanced General Equipment, provenance
    ...equipmentAttributes(),
    ...contributingEquipment(algorithm),
    // General Image / SR Document General / Segmentation Image
    InstanceNumber: instanceNumber,
    ContentDate: date,
    ContentTime: time,
  };
  return { attributes, sanitised: patientStudy.sanitised, algorithm, date, time };
}
