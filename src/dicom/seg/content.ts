/** Building blocks of the Segmentation IOD: colours, segment descriptions, per-frame references. */
import type { SegmentDefinition } from '../../model/manifest.js';
import type { SourceImage } from '../../study/types.js';
import {
  ARTIFICIAL_INTELLIGENCE,
  MANUAL_PROCESSING,
  SEGMENTATION_DERIVATION,
  SOURCE_IMAGE_FOR_PROCESSING,
  codeItem,
} from '../codes.js';
import type { ModelIdentity } from '../../core/model-identity.js';
import type { SegmentAlgorithmTypeValues } from './enums.js';

const srgbToLinear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);

/**
 * sRGB (0-255) -> CIELab (D50, the ICC profile connection space PS3.3 C.10.7.1.1 assumes) ->
 * DICOM scaled unsigned 16-bit [L, a, b]: L in 0..65535 for 0..100, a and b in 0..65535 for -128..127.
 */
export function rgbToDicomLab(rgb: readonly [number, number, number]): [number, number, number] {
  const [r, g, b] = rgb.map((v) => srgbToLinear(v / 255)) as [number, number, number];
  // sRGB (D65) -> XYZ, IEC 61966-2-1 matrix.
  const x65 = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
  const y65 = 0.2126729 * r + 0.7151522 * g + 0.072175 * b;
  const z65 = 0.0193339 * r + 0.119192 * g + 0.9503041 * b;
  // Bradford chromatic adaptation D65 -> D50.
  const x = 1.0478112 * x65 + 0.0228866 * y65 - 0.050127 * z65;
  const y = 0.0295424 * x65 + 0.9904844 * y65 - 0.0170491 * z65;
  const z = -0.0092345 * x65 + 0.0150436 * y65 + 0.7521316 * z65;
  const white = [0.96422, 1.0, 0.82521];
  const f = (t: number): number => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const fx = f(x / white[0]!);
  const fy = f(y / white[1]!);
  const fz = f(z / white[2]!);
  const L = 116 * fy - 16;
  const A = 500 * (fx - fy);
  const B = 200 * (fy - fz);
  const clamp = (v: number): number => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((A + 128) * 65535) / 255), clamp(((B + 128) * 65535) / 255)];
}

/** One SegmentSequence item (Segment Description Macro + algorithm identification). */
export function segmentDescription(
  segment: SegmentDefinition,
  segmentNumber: number,
  algorithmType: SegmentAlgorithmTypeValues,
  algorithm: ModelIdentity,
): Record<string, unknown> {
  const item: Record<string, unknown> = {
    SegmentNumber: segmentNumber,
    SegmentLabel: segment.name.slice(0, 64),
    SegmentDescription: `${segment.name} (label ${segment.labelValue})`.slice(0, 64),
    SegmentedPropertyCategoryCodeSequence: [codeItem(segment.category)],
    SegmentedPropertyTypeCodeSequence: [codeItem(segment.type)],
    SegmentAlgorithmType: algorithmType,
    RecommendedDisplayCIELabValue: rgbToDicomLab(segment.color),
  };
  if (algorithmType !== 'MANUAL') {
    // SegmentAlgorithmName is Type 1C: required unless the segmentation is manual.
    item.SegmentAlgorithmName = algorithm.name.slice(0, 64);
    item.SegmentationAlgorithmIdentificationSequence = [
      {
        AlgorithmFamilyCodeSequence: [codeItem(ARTIFICIAL_INTELLIGENCE)],
        AlgorithmName: algorithm.name.slice(0, 64),
        AlgorithmVersion: algorithm.version.slice(0, 64),
        ...(algorithm.calibration ? { AlgorithmParameters: `calibration=${algorithm.calibration}`.slice(0, 10240) } : {}),
      },
    ];
  } else {
    item.SegmentationAlgorithmIdentificationSequence = [
      { AlgorithmFamilyCodeSequence: [codeItem(MANUAL_PROCESSING)], AlgorithmName: algorithm.name.slice(0, 64), AlgorithmVersion: algorithm.version.slice(0, 64) },
    ];
  }
  return item;
}

/** A reference to one source image (or one frame of a multi-frame source). */
export function imageReference(image: SourceImage): Record<string, unknown> {
  return {
    ReferencedSOPClassUID: image.sopClassUID,
    ReferencedSOPInstanceUID: image.sopInstanceUID,
    ...(image.frameNumber !== undefined ? { ReferencedFrameNumber: image.frameNumber } : {}),
  };
}

/** DerivationImageSequence of one frame: derived by segmentation from exactly this source image. */
export function derivationImage(image: SourceImage): Record<string, unknown> {
  return {
    DerivationImageSequence: [
      {
        SourceImageSequence: [{ ...imageReference(image), PurposeOfReferenceCodeSequence: [codeItem(SOURCE_IMAGE_FOR_PROCESSING)] }],
        DerivationCodeSequence: [codeItem(SEGMENTATION_DERIVATION)],
      },
    ],
  };
}

/** ReferencedSeriesSequence (Common Instance Reference module) over the distinct source instances. */
export function referencedSeries(images: readonly SourceImage[]): Record<string, unknown>[] {
  const bySeries = new Map<string, Map<string, string>>();
  for (const image of images) {
    const instances = bySeries.get(image.seriesInstanceUID) ?? new Map<string, string>();
    instances.set(image.sopInstanceUID, image.sopClassUID);
    bySeries.set(image.seriesInstanceUID, instances);
  }
  return [...bySeries].map(([seriesUid, instances]) => ({
    SeriesInstanceUID: seriesUid,
    ReferencedInstanceSequence: [...instances].map(([sopUid, classUid]) => ({ ReferencedSOPClassUID: classUid, ReferencedSOPInstanceUID: sopUid })),
  }));
}
