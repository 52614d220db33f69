/**
 * Comprehensive 3D SR, TID 1500 Measurement Report builder: study result in, Part 10 bytes out.
 *
 * Tree (TID rows in brackets):
 *   Imaging Measurement Report [1500]
 *     Language [1204], Device observer [1002/1004], Procedure reported
 *     Image Library [1600] -> Image Library Group -> IMAGE per source image
 *     Imaging Measurements: Measurement Group [1411] per segment and phase: Referenced Segment (SEG
 *       segment), source series, Finding, Finding Site, its volume or mass
 *     Derived Imaging Measurements [1420]: every number as a plain NUM. Not TID 1501 groups inside
 *       Imaging Measurements: PixelMed judges every group of that container as TID 1411 once one of
 *       them references a segment (docs/dicom-outputs.md)
 *     Qualitative Evaluations: diagnosis CODE (HAS PROPERTIES Certainty of Finding NUM = probability),
 *       findings and impression TEXT, the review statement
 */
import type { CodeDefinition, SegmentDefinition } from '../../model/manifest.js';
import type { ResultReferenceRange, StudyResult } from '../../core/result.js';
import type { SourceImage, StudyContext } from '../../study/types.js';
import { BadInputError } from '../../core/errors.js';
import * as codes from '../codes.js';
import { deterministicUid, type SeriesInstanceUID, type SOPInstanceUID } from '../uid.js';
import type { SanitisedValue } from '../modules/copied-values.js';
import { MANUFACTURER, algorithmDeviceUid } from '../modules/equipment.js';
import { modelLabel, type ModelIdentity } from '../../core/model-identity.js';
import { writePart10 } from '../modules/part10.js';
import { checkCreatedUid, checkReferencedUid, derivedObjectBase } from '../modules/sop-class.js';
import { SEGMENTATION_SOP_CLASS_UID } from '../seg/enums.js';
import { codeContentItem, containerItem, imageItem, numItem, textItem, uidrefItem, type ContentItem } from './content.js';
import { COMPREHENSIVE_3D_SR_SOP_CLASS_UID } from './enums.js';
import { VOLUMETRIC_GROUPS, measurementSpecs, type MeasurementSpec } from './measurements.js';

/** The SEG this report's measurement groups point at (segmentationReference(builtSeg) gives it). */
export interface ReferencedSegmentation {
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  /** Segment number in the SEG of each manifest segment key ('lv' -> 3, ...). */
  readonly segmentNumbers: Readonly<Record<string, number>>;
  /**
   * SEG frame numbers per segment key and phase index (informative: a Referenced Segment item may not
   * carry frame numbers, and TID 1411 allows source images only with a Volume Surface, so the phase of
   * a group is named by its tracking identifier and its measurement concept).
   */
  readonly frameNumbers?: Readonly<Record<string, Readonly<Record<number, readonly number[]>>>>;
}

export interface NarrativeParts {
  readonly findings: string;
  readonly impression: string;
  /** That the report was produced automatically and must be reviewed. */
  readonly disclaimer: string;
}

export interface MeasurementReportInput {
  readonly context: StudyContext;
  /** The numbers, ED/ES, diagnosis and model identity the report states (result.json). */
  readonly result: StudyResult;
  /** Narrative split into its parts (analysis's Narrative has exactly these fields). */
  readonly narrative: NarrativeParts;
  /** Manifest segments (keys 'lv', 'myo', 'rv' get volumetric ROI groups when present). */
  readonly segments: readonly SegmentDefinition[];
  /** Manifest diagnosis groups: name as in result.diagnosis, code as the coded finding. */
  readonly diagnosisGroups: ReadonlyArray<{ readonly name: string; readonly code: CodeDefinition }>;
  /**
   * The SEG written for the same study. May be left out only when quality control failed and the SEG
   * was not written (configuration reports.segOnQcFail false): a failed report points at no segment.
   */
  readonly segmentation?: ReferencedSegmentation;
  /** Source images the measurements were made on (e.g. the ED and ES phases): image library and evidence. */
  readonly sourceImages: readonly SourceImage[];
  readonly algorithm: ModelIdentity;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sopInstanceUID: SOPInstanceUID;
  /**
   * Quality control of the result: 'fail' writes no measurement and no diagnosis, only the coded
   * statement that the analysis failed quality control and why; 'review' keeps them with the coded
   * caution. `summary` must hold no number (the narrative rule). @defaultValue pass
   */
  readonly qualityControl?: { readonly status: 'pass' | 'review' | 'fail'; readonly summary: string };
  /** @defaultValue 9002 */
  readonly seriesNumber?: number;
  /** @defaultValue 1 */
  readonly instanceNumber?: number;
  /** @defaultValue 'PULSE automated measurements (not reviewed)' */
  readonly seriesDescription?: string;
  /** Content/series date-time. Pass it for byte-identical rewrites. @defaultValue now */
  readonly contentDateTime?: Date;
}

export interface BuiltMeasurementReport {
  readonly bytes: Uint8Array;
  readonly sopClassUID: string;
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  /** result.json keys written as NUM items (unknown keys are left out: no standard code). */
  readonly writtenMeasurements: readonly string[];
  /** Copied values changed to fit their VR (keyword and kind, never the value). */
  readonly sanitised: readonly SanitisedValue[];
}

export const DEFAULT_SR_SERIES_DESCRIPTION = 'PULSE automated measurements (not reviewed)';
export const DEFAULT_SR_SERIES_NUMBER = 9002;
export const REVIEW_STATEMENT = 'This report was produced automatically by software and has not been reviewed. It must be reviewed by a qualified physician before clinical use.';

/** Deterministic SR UIDs (same rule as the SEG's). */
export function measurementReportUids(
  studyInstanceUID: string,
  sourceSeriesInstanceUID: string,
  algorithm: ModelIdentity,
): { seriesInstanceUID: SeriesInstanceUID; sopInstanceUID: SOPInstanceUID } {
  const parts = [studyInstanceUID, sourceSeriesInstanceUID, algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated', 'sr'];
  return { seriesInstanceUID: deterministicUid(...parts, 'series'), sopInstanceUID: deterministicUid(...parts, 'instance') };
}

// ---------------------------------------------------------------- checks

function checkResult(result: StudyResult | undefined, context: StudyContext): StudyResult {
  if (!result) throw new TypeError('result is required');
  if (result.studyInstanceUID !== context.studyInstanceUID) throw new TypeError('result.studyInstanceUID differs from context.studyInstanceUID');
  for (const [key, value] of Object.entries(result.measurements ?? {})) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new BadInputError(`result.measurements.${key} is not a finite number`, context.studyInstanceUID);
  }
  for (const key of ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct']) {
    if (!(key in (result.measurements ?? {}))) throw new TypeError(`result.measurements.${key} is required`);
  }
  if (!result.diagnosis?.label) throw new TypeError('result.diagnosis.label is required');
  const p = result.diagnosis.probabilities?.[result.diagnosis.label];
  if (typeof p !== 'number' || p < 0 || p > 1) throw new TypeError(`result.diagnosis.probabilities.${result.diagnosis.label} must be a probability in 0..1`);
  return result;
}

function checkNarrative(narrative: NarrativeParts | undefined): NarrativeParts {
  if (!narrative) throw new TypeError('narrative is required');
  for (const part of ['findings', 'impression', 'disclaimer'] as const) {
    if (typeof narrative[part] !== 'string' || narrative[part].trim() === '') throw new TypeError(`narrative.${part} must not be empty`);
  }
  return narrative;
}

function checkSegmentation(segmentation: ReferencedSegmentation | undefined, failed: boolean): ReferencedSegmentation | undefined {
  if (!segmentation) {
    if (failed) return undefined;
    throw new TypeError('segmentation is required (it may be left out only when quality control failed)');
  }
  // The SEG is ours: its UIDs were created here and must be valid.
  checkCreatedUid(segmentation.sopInstanceUID, 'segmentation.sopInstanceUID');
  checkCreatedUid(segmentation.seriesInstanceUID, 'segmentation.seriesInstanceUID');
  for (const [key, n] of Object.entries(segmentation.segmentNumbers ?? {})) {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`segmentation.segmentNumbers.${key} must be a positive integer`);
  }
  return segmentation;
}

/** Source images are referenced verbatim (leading-zero components pass): each must be referencable. */
function checkSourceImages(images: readonly SourceImage[] | undefined, study: string): readonly SourceImage[] {
  if (!images || images.length === 0) throw new TypeError('sourceImages must list at least one image');
  images.forEach((image, i) => {
    checkReferencedUid(image.sopInstanceUID, `sourceImages[${i}].sopInstanceUID`, study);
    checkReferencedUid(image.sopClassUID, `sourceImages[${i}].sopClassUID`, study);
    checkReferencedUid(image.seriesInstanceUID, `sourceImages[${i}].seriesInstanceUID`, study);
  });
  return images;
}

function diagnosisCode(input: MeasurementReportInput, result: StudyResult): codes.CodedConcept {
  const group = input.diagnosisGroups?.find((g) => g.name === result.diagnosis.label);
  if (!group) throw new TypeError(`diagnosisGroups has no group named '${result.diagnosis.label}' (result.diagnosis.label)`);
  return group.code;
}

// ---------------------------------------------------------------- content

const NORMALITY_CODES = { NORMAL: codes.NORMALITY_NORMAL, HIGH: codes.NORMALITY_ABNORMALLY_HIGH, LOW: codes.NORMALITY_ABNORMALLY_LOW } as const;

/** Who the range is for, in words (TID 312 Normal Range description). */
export function rangeDescription(range: ResultReferenceRange): string {
  const who = range.sex === 'M' ? 'adult men' : range.sex === 'F' ? 'adult women' : range.sex_neutral_fallback ? 'adults of either sex (PatientSex unknown: union of the ranges for men and women)' : 'adults';
  return `Reference range for ${who}`;
}

/** TID 310 Normality and TID 312 limits, description and authority for a measurement that has a range. */
function rangeProperties(spec: MeasurementSpec, range: ResultReferenceRange | undefined): ContentItem[] {
  if (!range) return [];
  const items: ContentItem[] = [codeContentItem('HAS PROPERTIES', codes.NORMALITY, NORMALITY_CODES[range.flag])];
  if (range.low !== undefined) items.push(numItem('HAS PROPERTIES', codes.NORMAL_RANGE_LOWER_LIMIT, range.low, spec.unit));
  if (range.high !== undefined) items.push(numItem('HAS PROPERTIES', codes.NORMAL_RANGE_UPPER_LIMIT, range.high, spec.unit));
  items.push(textItem('HAS PROPERTIES', codes.NORMAL_RANGE_DESCRIPTION, rangeDescription(range)));
  items.push(textItem('HAS PROPERTIES', codes.NORMAL_RANGE_AUTHORITY, range.source));
  return items;
}

function measurementNum(spec: MeasurementSpec, value: number, range?: ResultReferenceRange): ContentItem {
  const modifiers: ContentItem[] = [];
  if (spec.findingSite) modifiers.push(codeContentItem('HAS CONCEPT MOD', codes.FINDING_SITE, spec.findingSite));
  if (spec.equivalentMeaning) modifiers.push(textItem('HAS CONCEPT MOD', codes.EQUIVALENT_MEANING_OF_CONCEPT_NAME, spec.equivalentMeaning));
  return numItem('CONTAINS', spec.concept, value, spec.unit, [...modifiers, ...rangeProperties(spec, range)]);
}

function trackingItems(label: string, uid: string): ContentItem[] {
  return [textItem('HAS OBS CONTEXT', codes.TRACKING_IDENTIFIER, label), uidrefItem('HAS OBS CONTEXT', codes.TRACKING_UID, uid)];
}

function observerContext(algorithm: ModelIdentity): ContentItem[] {
  return [
    codeContentItem('HAS OBS CONTEXT', codes.OBSERVER_TYPE, codes.DEVICE),
    uidrefItem('HAS OBS CONTEXT', codes.DEVICE_OBSERVER_UID, algorithmDeviceUid(algorithm)),
    textItem('HAS OBS CONTEXT', codes.DEVICE_OBSERVER_NAME, algorithm.name),
    textItem('HAS OBS CONTEXT', codes.DEVICE_OBSERVER_MANUFACTURER, MANUFACTURER),
    textItem('HAS OBS CONTEXT', codes.DEVICE_OBSERVER_MODEL_NAME, modelLabel(algorithm)),
  ];
}

function imageLibrary(images: readonly SourceImage[]): ContentItem {
  const entries = images.map((image) =>
    imageItem('CONTAINS', undefined, { sopClassUID: image.sopClassUID, sopInstanceUID: image.sopInstanceUID, ...(image.frameNumber !== undefined ? { frameNumbers: [image.frameNumber] } : {}) }),
  );
  return containerItem('CONTAINS', codes.IMAGE_LIBRARY, [containerItem('CONTAINS', codes.IMAGE_LIBRARY_GROUP, entries)]);
}

/** Evidence: the source images and the SEG, grouped by series (all in the same study). */
function evidence(study: string, images: readonly SourceImage[], segmentation: ReferencedSegmentation | undefined): Record<string, unknown>[] {
  const bySeries = new Map<string, Map<string, string>>();
  const add = (series: string, sop: string, sopClass: string): void => {
    const sops = bySeries.get(series) ?? new Map<string, string>();
    sops.set(sop, sopClass);
    bySeries.set(series, sops);
  };
  for (const image of images) add(image.seriesInstanceUID, image.sopInstanceUID, image.sopClassUID);
  if (segmentation) add(segmentation.seriesInstanceUID, segmentation.sopInstanceUID, SEGMENTATION_SOP_CLASS_UID);
  return [
    {
      StudyInstanceUID: study,
      ReferencedSeriesSequence: [...bySeries].map(([series, sops]) => ({
        SeriesInstanceUID: series,
        ReferencedSOPSequence: [...sops].map(([sop, sopClass]) => ({ ReferencedSOPClassUID: sopClass, ReferencedSOPInstanceUID: sop })),
      })),
    },
  ];
}

// ---------------------------------------------------------------- builder

export function buildMeasurementReport(input: MeasurementReportInput): BuiltMeasurementReport {
  const context = input.context;
  if (!context) throw new TypeError('context is required');
  const segmentation = checkSegmentation(input.segmentation, input.qualityControl?.status === 'fail');
  const base = derivedObjectBase({
    context,
    sopClassUID: COMPREHENSIVE_3D_SR_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    modality: 'SR',
    seriesNumber: input.seriesNumber ?? DEFAULT_SR_SERIES_NUMBER,
    instanceNumber: input.instanceNumber ?? 1,
    seriesDescription: input.seriesDescription ?? DEFAULT_SR_SERIES_DESCRIPTION,
    algorithm: input.algorithm,
    otherSeries: segmentation ? [segmentation.seriesInstanceUID] : [],
    ...(input.contentDateTime !== undefined ? { contentDateTime: input.contentDateTime } : {}),
  });
  const algorithm = base.algorithm;
  const result = checkResult(input.result, context);
  const narrative = checkNarrative(input.narrative);
  const images = checkSourceImages(input.sourceImages, context.studyInstanceUID);
  const diagnosis = diagnosisCode(input, result);
  const uid = (...parts: Array<string | number>): string => deterministicUid(input.sopInstanceUID, ...parts);

  // Every known measurement as a plain NUM in Derived Imaging Measurements (TID 1420): outside the
  // Imaging Measurements container, whose groups PixelMed judges as TID 1411 once one references a segment.
  const qcStatus = input.qualityControl?.status ?? 'pass';
  const failed = qcStatus === 'fail';
  if (input.qualityControl && qcStatus !== 'pass' && /\d/.test(input.qualityControl.summary)) throw new TypeError('qualityControl.summary must hold no number');
  // A result that failed quality control states no measurement anywhere in the report.
  const specs = failed ? [] : measurementSpecs(context.modality).filter((spec) => typeof result.measurements[spec.key] === 'number');
  const probability = result.diagnosis.probabilities[result.diagnosis.label]!;
  const derived = containerItem('CONTAINS', codes.DERIVED_IMAGING_MEASUREMENTS, [
    ...specs.map((spec) => measurementNum(spec, result.measurements[spec.key]!, result.reference_ranges?.[spec.key])),
  ]);

  // Volumetric ROI groups: one per (segment, phase), referencing the SEG segment and its frames.
  const specByKey = new Map(measurementSpecs(context.modality).map((s) => [s.key, s]));
  const segmentsByKey = new Map((input.segments ?? []).map((s) => [s.key, s]));
  const volumetric: ContentItem[] = [];
  for (const group of failed ? [] : VOLUMETRIC_GROUPS) {
    // Unreachable without a SEG: only a failed report may lack one (checkSegmentation).
    if (!segmentation) break;
    const segment = segmentsByKey.get(group.segmentKey);
    const segmentNumber = segmentation.segmentNumbers[group.segmentKey];
    if (!segment || segmentNumber === undefined) continue;
    const phase = result.phases[group.phase];
    const measurements = group.measurementKeys
      .filter((key) => typeof result.measurements[key] === 'number')
      .map((key) => numItem('CONTAINS', specByKey.get(key)!.concept, result.measurements[key]!, specByKey.get(key)!.unit));
    if (measurements.length === 0) continue;
    volumetric.push(
      containerItem(
        'CONTAINS',
        codes.MEASUREMENT_GROUP,
        [
          ...trackingItems(group.label, uid('tracking', group.segmentKey, group.phase)),
          codeContentItem('CONTAINS', codes.FINDING, segment.type),
          imageItem('CONTAINS', codes.REFERENCED_SEGMENT, { sopClassUID: SEGMENTATION_SOP_CLASS_UID, sopInstanceUID: segmentation.sopInstanceUID, segmentNumbers: [segmentNumber] }),
          // Row 12 goes with a Referenced Segment; row 11 (source images) only with a Volume Surface.
          uidrefItem('CONTAINS', codes.SOURCE_SERIES_FOR_SEGMENTATION, context.seriesInstanceUID),
          codeContentItem('HAS CONCEPT MOD', codes.FINDING_SITE, group.site),
          ...measurements,
        ],
        { template: '1411' },
      ),
    );
  }

  const qcItems: ContentItem[] =
    qcStatus === 'pass'
      ? []
      : [
          codeContentItem('CONTAINS', codes.FINDING, failed ? codes.QC_UNUSABLE : codes.QC_DOES_NOT_MEET_STANDARD),
          textItem('CONTAINS', codes.FINDING, `${failed ? 'Automated analysis failed quality control' : 'Automated quality control asks for review'}: ${input.qualityControl!.summary}.`),
        ];
  const qualitative = containerItem('CONTAINS', codes.QUALITATIVE_EVALUATIONS, [
    ...qcItems,
    // A failed result states no diagnosis.
    ...(failed ? [] : [codeContentItem('CONTAINS', codes.FINDING, diagnosis, [numItem('HAS PROPERTIES', codes.CERTAINTY_OF_FINDING, probability, codes.UNIT_RATIO)])]),
    textItem('CONTAINS', codes.FINDING, narrative.findings),
    textItem('CONTAINS', codes.IMPRESSION, narrative.impression),
    textItem('CONTAINS', codes.COMMENT, `${narrative.disclaimer} ${REVIEW_STATEMENT}`.trim()),
  ]);

  const content: ContentItem[] = [
    codeContentItem('HAS CONCEPT MOD', codes.LANGUAGE_OF_CONTENT, codes.ENGLISH_US),
    ...observerContext(algorithm),
    codeContentItem('HAS CONCEPT MOD', codes.PROCEDURE_REPORTED, codes.procedureForModality(context.modality)),
    imageLibrary(images),
    // Always present, even without groups: OHIF's TID 1500 reader dereferences it unconditionally.
    containerItem('CONTAINS', codes.IMAGING_MEASUREMENTS, volumetric),
    // An empty container is not allowed by TID 1500's Derived Imaging Measurements row: left out on fail.
    ...(failed ? [] : [derived]),
    qualitative,
  ];

  const dataset: Record<string, unknown> = {
    // SOP Common, Patient/Study, SR Document Series, equipment, provenance, instance number, content date/time
    ...base.attributes,
    ReferencedPerformedProcedureStepSequence: [],
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: evidence(context.studyInstanceUID, images, segmentation),
    // Document root (TID 1500).
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [codes.codeItem(codes.IMAGING_MEASUREMENT_REPORT)],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: content,
  };
  return {
    bytes: writePart10(dataset),
    sopClassUID: COMPREHENSIVE_3D_SR_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    writtenMeasurements: specs.map((s) => s.key),
    sanitised: base.sanitised,
  };
}
