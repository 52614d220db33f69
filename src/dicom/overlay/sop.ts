/**
 * Optional overlay for viewers that show neither SEG nor SR: a Multi-frame True Color Secondary
 * Capture with two frames, the mid-ventricular slice at ED and at ES, label contours in the segment
 * colours and the key numbers burned in, plus a line saying the result is automated and not for
 * diagnosis. Off by default (the caller decides).
 */
import type { SegmentDefinition } from '../../model/manifest.js';
import type { StudyResult } from '../../core/result.js';
import type { LabelMap, StudyContext } from '../../study/types.js';
import { deterministicUid, type SeriesInstanceUID, type SOPInstanceUID } from '../uid.js';
import type { SanitisedValue } from '../modules/copied-values.js';
import { modelLabel, type ModelIdentity } from '../../core/model-identity.js';
import { writePart10 } from '../modules/part10.js';
import { checkReferencedUid, derivedObjectBase } from '../modules/sop-class.js';
import { imageReference } from '../seg/content.js';
import { createImage, drawContour, drawGrey, drawText, type RgbImage } from './raster.js';
import { GLYPH_HEIGHT } from './font.js';

/** Multi-frame True Color Secondary Capture Image Storage. */
export const MULTIFRAME_TRUE_COLOR_SC_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.7.4';
export const DEFAULT_OVERLAY_SERIES_DESCRIPTION = 'PULSE overlay - automated, NOT FOR DIAGNOSIS';
export const DEFAULT_OVERLAY_SERIES_NUMBER = 9003;

export interface OverlayInput {
  readonly context: StudyContext;
  /** Label maps in grid order, `labelMaps[slice][phase]`. */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap | undefined>>;
  /** ED/ES phases and the numbers to burn in. */
  readonly result: StudyResult;
  readonly segments: readonly SegmentDefinition[];
  readonly algorithm: ModelIdentity;
  readonly seriesInstanceUID: SeriesInstanceUID;
  readonly sopInstanceUID: SOPInstanceUID;
  /** @defaultValue 9003 */
  readonly seriesNumber?: number;
  /** Pixels per source pixel; @defaultValue enough to make the image about 512 wide (1..4) */
  readonly scale?: number;
  /** @defaultValue now */
  readonly contentDateTime?: Date;
}

export interface BuiltOverlay {
  readonly bytes: Uint8Array;
  readonly sopInstanceUID: SOPInstanceUID;
  readonly seriesInstanceUID: SeriesInstanceUID;
  /** Slice index drawn (mid-ventricular). */
  readonly slice: number;
  readonly frames: readonly RgbImage[];
  /** Copied values changed to fit their VR (keyword and kind, never the value). */
  readonly sanitised: readonly SanitisedValue[];
}

/** Deterministic overlay UIDs (same rule as the SEG's). */
export function overlayUids(studyInstanceUID: string, sourceSeriesInstanceUID: string, algorithm: ModelIdentity): { seriesInstanceUID: SeriesInstanceUID; sopInstanceUID: SOPInstanceUID } {
  const parts = [studyInstanceUID, sourceSeriesInstanceUID, algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated', 'overlay'];
  return { seriesInstanceUID: deterministicUid(...parts, 'series'), sopInstanceUID: deterministicUid(...parts, 'instance') };
}

/** Mid-ventricular slice: the middle of the slices that hold LV cavity at ED (the stack middle if none). */
export function midVentricularSlice(labelMaps: OverlayInput['labelMaps'], ed: number, lvLabel: number | undefined): number {
  const withLv = labelMaps.map((row, s) => (lvLabel !== undefined && row[ed]?.labels.includes(lvLabel) ? s : -1)).filter((s) => s >= 0);
  if (withLv.length === 0) return Math.floor(labelMaps.length / 2);
  return withLv[Math.floor(withLv.length / 2)]!;
}

const fmt = (v: number | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? String(v) : '-');

/** The burned-in lines of one frame (numbers straight from the result, never recomputed). */
export function overlayLines(result: StudyResult, phase: 'ED' | 'ES', algorithm: ModelIdentity): string[] {
  const m = result.measurements;
  return [
    `${phase}  LVEF ${fmt(m.lvef_pct)}%  RVEF ${fmt(m.rvef_pct)}%`,
    `LVEDV ${fmt(m.lvedv_ml)}ML  LVESV ${fmt(m.lvesv_ml)}ML`,
    `RVEDV ${fmt(m.rvedv_ml)}ML  RVESV ${fmt(m.rvesv_ml)}ML  LV MASS ${fmt(m.lv_mass_g)}G`,
    `AUTOMATED ${modelLabel(algorithm).toUpperCase()} - NOT FOR DIAGNOSIS`,
  ];
}

export function buildOverlay(input: OverlayInput): BuiltOverlay {
  const context = input.context;
  if (!context) throw new TypeError('context is required');
  const base = derivedObjectBase({
    context,
    sopClassUID: MULTIFRAME_TRUE_COLOR_SC_SOP_CLASS_UID,
    sopInstanceUID: input.sopInstanceUID,
    seriesInstanceUID: input.seriesInstanceUID,
    modality: 'OT',
    seriesNumber: input.seriesNumber ?? DEFAULT_OVERLAY_SERIES_NUMBER,
    instanceNumber: 1,
    seriesDescription: DEFAULT_OVERLAY_SERIES_DESCRIPTION,
    algorithm: input.algorithm,
    ...(input.contentDateTime !== undefined ? { contentDateTime: input.contentDateTime } : {}),
  });
  const algorithm = base.algorithm;
  if (!input.labelMaps || input.labelMaps.length === 0) throw new TypeError('labelMaps must hold at least one slice');
  const { ed, es } = input.result.phases;
  const lv = input.segments.find((s) => s.key === 'lv');
  const slice = midVentricularSlice(input.labelMaps, ed, lv?.labelValue);
  const maps = [input.labelMaps[slice]?.[ed], input.labelMaps[slice]?.[es]];
  maps.forEach((m, i) => {
    if (!m) throw new TypeError(`labelMaps[${slice}][${i === 0 ? ed : es}] is missing (${i === 0 ? 'ED' : 'ES'})`);
  });
  const [edMap, esMap] = maps as [LabelMap, LabelMap];
  for (const map of [edMap, esMap]) {
    checkReferencedUid(map.image.sopInstanceUID, 'source SOPInstanceUID', context.studyInstanceUID);
    checkReferencedUid(map.image.sopClassUID, 'source SOPClassUID', context.studyInstanceUID);
  }
  const { rows, columns } = edMap.image.plane;
  if (esMap.image.plane.rows !== rows || esMap.image.plane.columns !== columns) throw new TypeError('the ED and ES images differ in size');
  const scale = input.scale ?? Math.min(4, Math.max(1, Math.floor(512 / Math.max(rows, columns))));
  if (!Number.isInteger(scale) || scale < 1) throw new TypeError('scale must be a positive integer');

  const width = columns * scale;
  const textSize = width >= 480 ? 2 : 1;
  const lineHeight = (GLYPH_HEIGHT + 3) * textSize;
  const frames = ([['ED', edMap], ['ES', esMap]] as const).map(([phase, map]) => {
    const lines = overlayLines(input.result, phase, algorithm);
    const banner = lines.length * lineHeight + 4;
    const image = createImage(width, rows * scale + banner);
    drawGrey(image, map.image.pixels, rows, columns, scale, 0);
    for (const segment of input.segments) drawContour(image, map.labels, rows, columns, segment.labelValue, scale, segment.color, 0);
    lines.forEach((line, i) => drawText(image, line, 2, rows * scale + 2 + i * lineHeight, textSize, i === lines.length - 1 ? [255, 200, 0] : [255, 255, 255]));
    return image;
  });
  const height = frames[0]!.height;

  const pixelData = new Uint8Array(frames.reduce((n, f) => n + f.data.length, 0) + ((width * height * 3 * 2) % 2));
  let offset = 0;
  for (const frame of frames) {
    pixelData.set(frame.data, offset);
    offset += frame.data.length;
  }
  const dataset: Record<string, unknown> = {
    // SOP Common, Patient/Study, General Series, equipment, provenance, instance number, content date/time
    ...base.attributes,
    BodyPartExamined: 'HEART', // unpaired: Laterality (Type 2C) is then absent for every validator
    ConversionType: 'WSD',
    PatientOrientation: '',
    ImageType: ['DERIVED', 'SECONDARY'],
    DerivationDescription: `Mid-ventricular slice at ED and ES with automated contours by ${modelLabel(algorithm)}; not for diagnosis`.slice(0, 1024),
    SourceImageSequence: [imageReference(edMap.image), imageReference(esMap.image)],
    BurnedInAnnotation: 'YES',
    RecognizableVisualFeatures: 'NO',
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    PlanarConfiguration: 0,
    Rows: height,
    Columns: width,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    NumberOfFrames: frames.length,
    FrameIncrementPointer: 0x00182002,
    FrameLabelVector: ['ED', 'ES'],
    PixelData: [pixelData.buffer],
    _vrMap: { PixelData: 'OB' },
  };
  return { bytes: writePart10(dataset), sopInstanceUID: input.sopInstanceUID, seriesInstanceUID: input.seriesInstanceUID, slice, frames, sanitised: base.sanitised };
}
