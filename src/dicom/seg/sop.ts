/**
 * Segmentation Storage (BINARY) builder: label maps on a cine grid in, Part 10 bytes out.
 *
 * Frames are ordered segment -> phase -> slice. Every frame references exactly the source image its
 * label map lies on, and the dimension index is (ReferencedSegmentNumber, TemporalPositionIndex,
 * ImagePositionPatient) so that the same position at different phases is never ambiguous. Frames
 * with no pixel of their segment are left out (a SEG with nothing segmented keeps one empty frame,
 * because NumberOfFrames must be at least 1).
 */
import type { SegmentDefinition } from '../../model/manifest.js';
import type { LabelMap, SourceImage, StudyContext } from '../../study/types.js';
import { BadInputError } from '../../core/errors.js';
import { dot, orientationCross } from '../../core/geometry.js';
import { deterministicUid, type SeriesInstanceUID, type SOPInstanceUID } from '../uid.js';
import type { SanitisedValue } from '../modules/copied-values.js';
import type { ModelIdentity } from '../../core/model-identity.js';
import { writePart10 } from '../modules/part10.js';
import { checkReferencedUid, derivedObjectBase } from '../modules/sop-class.js';
import { packBits } from './bitpack.js';
import { derivationImage, referencedSeries, segmentDescription } from './content.js';
import { SEGMENTATION_SOP_CLASS_UID, type SegmentAlgorithmTypeValues } from './enums.js';


export interface SegmentationInput {
  /** Patient/study context of the source series (copied into the SEG). */
  readonly context: StudyContext;
  /**
   * Label maps in grid order, `labelMaps[slice][phase]` (the shape analysis uses), each on its own
   * source image's exact grid. Only the phases listed in `phases` are written.
   */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap | undefined>>;
  /** Phase indices (into labelMaps[slice]) to write, e.g. [ed, es] (default) or every phase. */
  readonly phases: readonly number[];
  /** One SEG segment per manifest segment, numbered 1..n in this order. */
  readonly segments: readonly SegmentDefinition[];
  /** The model that produced the labels (name, version, calibration id). */
  readonly algorithm: ModelIdentity;
  /** AUTOMATIC for model output; MANUAL for imported reference labels. @defaultValue 'AUTOMATIC' */
  readonly algorithmType?: SegmentAlgorithmTypeValues;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sopInstanceUID: SOPInstanceUID;
  /** @defaultValue 9001 */
  readonly seriesNumber?: number;
  /** @defaultValue 1 */
  readonly instanceNumber?: number;
  /** @defaultValue 'PULSE automated segmentation (not reviewed)' */
  readonly seriesDescription?: string;
  /** ContentLabel (CS: uppercase, digits, space, underscore; at most 16). @defaultValue 'PULSE_SEG' */
  readonly contentLabel?: string;
  /** ContentDescription (LO, cut to 64 characters). @defaultValue 'Automated cardiac segmentation; review before clinical use' */
  readonly contentDescription?: string;
  /** ContentCreatorName (PN). @defaultValue 'PULSE^Automated' */
  readonly contentCreatorName?: string;
  /** Content/series date-time. Pass it for byte-identical rewrites. @defaultValue now */
  readonly contentDateTime?: Date;
}

/** Where one SEG frame came from. */
export interface SegmentationFrame {
  /** 1-based frame number in the SEG. */
  readonly frameNumber: number;
  readonly segmentNumber: number;
  readonly segmentKey: string;
  readonly slice: number;
  readonly phase: number;
  readonly image: SourceImage;
}

export interface BuiltSegmentation {
  readonly bytes: Uint8Array;
  readonly sopClassUID: string;
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  /** Segment number of each manifest segment key. */
  readonly segmentNumbers: Readonly<Record<string, number>>;
  readonly frames: readonly SegmentationFrame[];
  /** Copied values changed to fit their VR (keyword and kind, never the value). */
  readonly sanitised: readonly SanitisedValue[];
}

export const DEFAULT_SEG_SERIES_DESCRIPTION = 'PULSE automated segmentation (not reviewed)';
export const DEFAULT_SEG_SERIES_NUMBER = 9001;

/**
 * Deterministic SEG UIDs: the same study, source series, model, version and calibration always give
 * the same series and instance UIDs (idempotent writes; a new model version gives new ones).
 */
export function segmentationUids(
  studyInstanceUID: string,
  sourceSeriesInstanceUID: string,
  algorithm: ModelIdentity,
): { seriesInstanceUID: SeriesInstanceUID; sopInstanceUID: SOPInstanceUID } {
  const parts = [studyInstanceUID, sourceSeriesInstanceUID, algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated', 'seg'];
  return { seriesInstanceUID: deterministicUid(...parts, 'series'), sopInstanceUID: deterministicUid(...parts, 'instance') };
}

// ---------------------------------------------------------------- checks (each names its argument)

/** What a SEG needs of the source beyond the common block: a frame of reference to align to. */
export function checkSegmentationContext(context: StudyContext | undefined): StudyContext {
  if (!context) throw new TypeError('context is required');
  checkReferencedUid(context.studyInstanceUID, 'StudyInstanceUID', context.studyInstanceUID);
  if (!context.frameOfReferenceUID) {
    throw new BadInputError('FrameOfReferenceUID is missing: a SEG cannot be aligned to the source images', context.studyInstanceUID);
  }
  return context;
}

function checkSegments(segments: readonly SegmentDefinition[] | undefined): readonly SegmentDefinition[] {
  if (!segments || segments.length === 0) throw new TypeError('segments must list at least one segment');
  const labels = new Set<number>();
  const keys = new Set<string>();
  segments.forEach((segment, i) => {
    if (!segment.name?.trim()) throw new TypeError(`segments[${i}].name must not be empty`);
    if (!Number.isInteger(segment.labelValue) || segment.labelValue < 1 || segment.labelValue > 255) throw new TypeError(`segments[${i}].labelValue must be an integer 1..255`);
    if (labels.has(segment.labelValue)) throw new TypeError(`segments[${i}].labelValue ${segment.labelValue} repeats`);
    if (keys.has(segment.key)) throw new TypeError(`segments[${i}].key '${segment.key}' repeats`);
    for (const field of ['category', 'type'] as const) {
      const code = segment[field];
      if (!code?.value || !code.scheme || !code.meaning) throw new TypeError(`segments[${i}].${field} must be a complete code (value, scheme, meaning)`);
    }
    labels.add(segment.labelValue);
    keys.add(segment.key);
  });
  return segments;
}

function checkPhases(phases: readonly number[] | undefined, phaseCount: number): number[] {
  if (!phases || phases.length === 0) throw new TypeError('phases must list at least one phase');
  const sorted = [...new Set(phases)].sort((a, b) => a - b);
  if (sorted.length !== phases.length) throw new TypeError('phases must not repeat a phase');
  for (const p of sorted) {
    if (!Number.isInteger(p) || p < 0 || p >= phaseCount) throw new TypeError(`phases contains ${p}, outside 0..${phaseCount - 1}`);
  }
  return sorted;
}

const close = (a: number, b: number, tolerance: number): boolean => Math.abs(a - b) <= tolerance;

/** All written images must share one grid (rows, columns, spacing, orientation): they share functional groups. */
function checkLabelMaps(labelMaps: SegmentationInput['labelMaps'] | undefined, phases: readonly number[], study: string, partial: boolean): Array<Array<LabelMap | undefined>> {
  if (!labelMaps || labelMaps.length === 0) throw new TypeError('labelMaps must hold at least one slice');
  const first = partial ? labelMaps.flatMap((row) => phases.map((p) => row?.[p])).find((m) => m !== undefined) : labelMaps[0]?.[phases[0]!];
  if (!first) throw new TypeError(partial ? 'labelMaps holds no label map for the given phases' : `labelMaps[0][${phases[0]}] is missing`);
  const reference = first.image.plane;
  return labelMaps.map((row, s) => {
    if (!row) throw new TypeError(`labelMaps[${s}] is missing`);
    return phases.map((p) => {
      const map = row[p];
      if (!map && partial) return undefined;
      if (!map) throw new TypeError(`labelMaps[${s}][${p}] is missing`);
      const plane = map.image.plane;
      if (map.labels.length !== plane.rows * plane.columns) {
        throw new TypeError(`labelMaps[${s}][${p}].labels has ${map.labels.length} values, the image has ${plane.rows}x${plane.columns}`);
      }
      if (plane.rows !== reference.rows || plane.columns !== reference.columns) {
        throw new BadInputError(`source images differ in Rows/Columns (slice ${s}, phase ${p}): one SEG needs one grid`, study);
      }
      if (!plane.pixelSpacing.every((v, i) => close(v, reference.pixelSpacing[i]!, 1e-4))) {
        throw new BadInputError(`source images differ in PixelSpacing (slice ${s}, phase ${p}): one SEG needs one grid`, study);
      }
      if (!plane.imageOrientationPatient.every((v, i) => close(v, reference.imageOrientationPatient[i]!, 1e-4))) {
        throw new BadInputError(`source images differ in ImageOrientationPatient (slice ${s}, phase ${p}): one SEG needs one grid`, study);
      }
      return map;
    });
  });
}

/** Source image references are written verbatim: each must be referencable. */
function checkSourceReferences(maps: ReadonlyArray<ReadonlyArray<LabelMap | undefined>>, study: string): void {
  for (const row of maps) {
    for (const map of row) {
      if (!map) continue;
      checkReferencedUid(map.image.sopInstanceUID, 'source SOPInstanceUID', study);
      checkReferencedUid(map.image.sopClassUID, 'source SOPClassUID', study);
      checkReferencedUid(map.image.seriesInstanceUID, 'source SeriesInstanceUID', study);
    }
  }
}

function checkContentLabel(label: string): string {
  if (!/^[A-Z0-9 _]{1,16}$/.test(label)) throw new TypeError(`contentLabel '${label}' must be 1-16 characters of A-Z, 0-9, space or underscore`);
  return label;
}

// ---------------------------------------------------------------- geometry

/** Mean distance between adjacent slice centres along the normal (mm), or undefined for one slice. */
function spacingBetweenSlices(images: readonly SourceImage[]): number | undefined {
  if (images.length < 2) return undefined;
  const normal = orientationCross(images[0]!.plane.imageOrientationPatient);
  const positions = images.map((image) => dot(image.plane.imagePositionPatient, normal));
  let sum = 0;
  for (let s = 1; s < positions.length; s++) sum += Math.abs(positions[s]! - positions[s - 1]!);
  return sum / (positions.length - 1);
}

const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;

// ---------------------------------------------------------------- builder

export function buildSegmentation(input: SegmentationInput): BuiltSegmentation {
  const context = checkSegmentationContext(input.context);
  const study = context.studyInstanceUID;
  const base = derivedObjectBase({
    context,
    sopClassUID: SEGMENTATION_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    modality: 'SEG',
    seriesNumber: input.seriesNumber ?? DEFAULT_SEG_SERIES_NUMBER,
    instanceNumber: input.instanceNumber ?? 1,
    seriesDescription: input.seriesDescription ?? DEFAULT_SEG_SERIES_DESCRIPTION,
    algorithm: input.algorithm,
    ...(input.contentDateTime !== undefined ? { contentDateTime: input.contentDateTime } : {}),
  });
  const algorithm = base.algorithm;
  const segments = checkSegments(input.segments);
  const algorithmType: SegmentAlgorithmTypeValues = input.algorithmType ?? 'AUTOMATIC';
  if (!['AUTOMATIC', 'SEMIAUTOMATIC', 'MANUAL'].includes(algorithmType)) throw new TypeError(`algorithmType '${algorithmType}' is not AUTOMATIC, SEMIAUTOMATIC or MANUAL`);
  const phaseCount = Math.min(...(input.labelMaps ?? [[]]).map((row) => row?.length ?? 0));
  const phases = checkPhases(input.phases, phaseCount);
  // A person's reference may cover only some slices of a phase (MANUAL, SEMIAUTOMATIC); a model's covers all.
  const partial = algorithmType !== 'AUTOMATIC';
  const maps = checkLabelMaps(input.labelMaps, phases, study, partial); // maps[slice][phaseOrdinal]
  checkSourceReferences(maps, study);
  const contentLabel = checkContentLabel(input.contentLabel ?? 'PULSE_SEG');

  const present = maps.flat().filter((m): m is LabelMap => m !== undefined);
  const plane = present[0]!.image.plane;
  const pixelsPerFrame = plane.rows * plane.columns;
  // Slice spacing from the phase with the most slices (a partial reference may skip some).
  const fullest = phases.map((_, pi) => maps.map((row) => row[pi]?.image).filter((i): i is SourceImage => i !== undefined)).sort((a, b) => b.length - a.length)[0]!;
  const spacing = spacingBetweenSlices(fullest);
  const thickness = plane.sliceThickness ?? spacing;
  if (thickness === undefined) throw new BadInputError('SliceThickness is missing on a single-slice stack: the SEG pixel measures need it', study);

  // Frames: segment -> phase -> slice; empty ones are left out.
  const frames: SegmentationFrame[] = [];
  const pixels: Uint8Array[] = [];
  const perFrame: Record<string, unknown>[] = [];
  const segmentNumbers: Record<string, number> = {};
  segments.forEach((segment, si) => {
    const segmentNumber = si + 1;
    segmentNumbers[segment.key] = segmentNumber;
    phases.forEach((phase, pi) => {
      maps.forEach((row, slice) => {
        const map = row[pi];
        if (!map) return;
        const mask = new Uint8Array(pixelsPerFrame);
        let any = false;
        for (let i = 0; i < pixelsPerFrame; i++) {
          if (map.labels[i] === segment.labelValue) {
            mask[i] = 1;
            any = true;
          }
        }
        // A reference marks every image it annotated, even one without any structure: an empty frame
        // of the first segment (a missing frame would read as "not annotated").
        const annotatedButEmpty = partial && si === 0 && segments.every((other) => !map.labels.includes(other.labelValue));
        if (!any && !annotatedButEmpty) return;
        frames.push({ frameNumber: frames.length + 1, segmentNumber, segmentKey: segment.key, slice, phase, image: map.image });
        pixels.push(mask);
        perFrame.push(frameFunctionalGroups(map.image, segmentNumber, pi + 1, slice + 1));
      });
    });
  });
  if (frames.length === 0) {
    // Nothing segmented anywhere: keep one empty frame of the first segment (NumberOfFrames >= 1).
    const image = present[0]!.image;
    frames.push({ frameNumber: 1, segmentNumber: 1, segmentKey: segments[0]!.key, slice: 0, phase: phases[0]!, image });
    pixels.push(new Uint8Array(pixelsPerFrame));
    perFrame.push(frameFunctionalGroups(image, 1, 1, 1));
  }

  const allImages = present.map((m) => m.image);
  const dimensionOrganizationUID = deterministicUid(input.sopInstanceUID, 'dimension-organization');
  const pixelMeasures: Record<string, unknown> = {
    PixelSpacing: [...plane.pixelSpacing],
    SliceThickness: round6(thickness),
    ...(spacing !== undefined ? { SpacingBetweenSlices: round6(spacing) } : {}),
  };

  const dataset: Record<string, unknown> = {
    // SOP Common, Patient/Study, General Series, equipment, provenance, instance number, content date/time
    ...base.attributes,
    // Segmentation Series
    // The heart is unpaired: series Laterality (Type 2C, "required if the body part is paired") stays
    // absent, which dciodvfy demands; ImageLaterality U (General Image module, "unpaired") states it
    // per image, which is what PixelMed looks for before it asks for Laterality.
    BodyPartExamined: 'HEART',
    ImageLaterality: 'U',
    // Frame of Reference
    FrameOfReferenceUID: context.frameOfReferenceUID,
    PositionReferenceIndicator: '',
    // Image Pixel
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: plane.rows,
    Columns: plane.columns,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    // Segmentation Image
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: contentLabel,
    ContentDescription: (input.contentDescription ?? 'Automated cardiac segmentation; review before clinical use').slice(0, 64),
    ContentCreatorName: input.contentCreatorName ?? 'PULSE^Automated',
    SegmentationType: 'BINARY',
    // Label maps hold one label per pixel, so segments never overlap.
    SegmentsOverlap: 'NO',
    LossyImageCompression: '00',
    SegmentSequence: segments.map((segment, i) => segmentDescription(segment, i + 1, algorithmType, algorithm)),
    // Common Instance Reference
    ReferencedSeriesSequence: referencedSeries(allImages),
    // Multi-frame Dimension: segment, then phase, then position; unambiguous for cine.
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: dimensionOrganizationUID }],
    DimensionIndexSequence: [
      { DimensionOrganizationUID: dimensionOrganizationUID, DimensionIndexPointer: 0x0062000b, FunctionalGroupPointer: 0x0062000a, DimensionDescriptionLabel: 'Segment Number' },
      { DimensionOrganizationUID: dimensionOrganizationUID, DimensionIndexPointer: 0x00209128, FunctionalGroupPointer: 0x00209111, DimensionDescriptionLabel: 'Temporal Position Index' },
      { DimensionOrganizationUID: dimensionOrganizationUID, DimensionIndexPointer: 0x00200032, FunctionalGroupPointer: 0x00209113, DimensionDescriptionLabel: 'Image Position Patient' },
    ],
    // Multi-frame Functional Groups
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [{ ImageOrientationPatient: [...plane.imageOrientationPatient] }],
        PixelMeasuresSequence: [pixelMeasures],
      },
    ],
    PerFrameFunctionalGroupsSequence: perFrame,
    PixelData: [packBits(pixels, pixelsPerFrame).buffer],
    // dcmjs reads the VR of a naturalized attribute from _vrMap; 1-bit pixel data is OB.
    _vrMap: { PixelData: 'OB' },
  };

  const bytes = writePart10(dataset);
  return {
    bytes,
    sopClassUID: SEGMENTATION_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    segmentNumbers,
    frames,
    sanitised: base.sanitised,
  };
}

function frameFunctionalGroups(image: SourceImage, segmentNumber: number, temporalIndex: number, positionIndex: number): Record<string, unknown> {
  return {
    ...derivationImage(image),
    FrameContentSequence: [{ DimensionIndexValues: [segmentNumber, temporalIndex, positionIndex], TemporalPositionIndex: temporalIndex }],
    PlanePositionSequence: [{ ImagePositionPatient: [...image.plane.imagePositionPatient] }],
    SegmentIdentificationSequence: [{ ReferencedSegmentNumber: segmentNumber }],
  };
}

/** What a report needs to point at this SEG's segments: UIDs, segment numbers, frames per phase. */
export function segmentationReference(built: BuiltSegmentation): {
  sopInstanceUID: SOPInstanceUID;
  seriesInstanceUID: SeriesInstanceUID;
  segmentNumbers: Readonly<Record<string, number>>;
  frameNumbers: Readonly<Record<string, Readonly<Record<number, readonly number[]>>>>;
} {
  const frameNumbers: Record<string, Record<number, number[]>> = {};
  for (const frame of built.frames) {
    ((frameNumbers[frame.segmentKey] ??= {})[frame.phase] ??= []).push(frame.frameNumber);
  }
  return { sopInstanceUID: built.sopInstanceUID, seriesInstanceUID: built.seriesInstanceUID, segmentNumbers: built.segmentNumbers, frameNumbers };
}
