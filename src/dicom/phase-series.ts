/**
 * Viewer phase series (docs/ohif-cine-seg.md): OHIF 3.13 builds one labelmap over every phase of a
 * cine series, so a SEG that references the cine is drawn on the wrong phase (or not at all). A SEG
 * that references a single-phase series is drawn exactly. So, per labelled phase (ED, ES), this
 * writes a derived copy of that phase's source images (a new MR series, ImageType DERIVED\SECONDARY,
 * SourceImageSequence to the originals) and a SEG of that phase referencing only the copy. The
 * combined SEG stays, for other readers.
 *
 * The copy is written Explicit VR Little Endian. From an uncompressed little endian source (Implicit
 * or Explicit VR) it carries the source's Pixel Data value unchanged; from a compressed, deflated or
 * big endian one, the decoded stored values (the same numbers the pipeline segmented), with Lossy
 * Image Compression "01" and its method where the source's transfer syntax is lossy and the source
 * did not say so itself (PS3.3 C.7.6.1.1.5: lossy once, lossy in every derived image). A multi-frame
 * or colour source gets no copies (the reason is returned, nothing half-written).
 */
import dcmjs from 'dcmjs';
import type { ModelIdentity } from '../core/model-identity.js';
import type { SegmentDefinition } from '../model/manifest.js';
import type { LabelMap, StudyContext } from '../study/types.js';
import type { SeriesInstanceUID, SOPInstanceUID } from './uid.js';
import { derivedObjectBase } from './modules/sop-class.js';
import { EXPLICIT_VR_LITTLE_ENDIAN, readPart10File, writePart10 } from './modules/part10.js';
import { buildSegmentation } from './seg/sop.js';
import { deterministicUid } from './uid.js';
import { parseInstance } from './read/read-instance.js';

const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** Series numbers: copies 9011 (ED) / 9012 (ES), their SEGs 9021 / 9022 (the combined SEG is 9001). */
const COPY_SERIES_NUMBER = { ED: 9011, ES: 9012 } as const;
const SEG_SERIES_NUMBER = { ED: 9021, ES: 9022 } as const;

export type LabelledPhaseName = 'ED' | 'ES';

export interface ViewerPhaseSeriesInput {
  readonly context: StudyContext;
  /** labelMaps[slice][phase], as for the combined SEG; each map's image is the source image. */
  readonly labelMaps: ReadonlyArray<ReadonlyArray<LabelMap | undefined>>;
  /** The labelled phases; ED and ES at the same index give one copy (named ED). */
  readonly phases: ReadonlyArray<{ readonly name: LabelledPhaseName; readonly index: number }>;
  /** The source instances' Part 10 bytes by SOPInstanceUID. */
  readonly sources: ReadonlyMap<string, Uint8Array>;
  readonly segments: readonly SegmentDefinition[];
  readonly algorithm: ModelIdentity;
  /** Series the new ones must not reuse (the combined SEG, the SR). */
  readonly otherSeries?: readonly string[];
  readonly contentDateTime?: Date;
}

export type ViewerPhaseSeries =
  | { readonly written: true; readonly objects: readonly Uint8Array[]; readonly series: ReadonlyArray<{ readonly phase: LabelledPhaseName; readonly copySeriesInstanceUID: string; readonly segSeriesInstanceUID: string }> }
  | { readonly written: false; readonly reason: string };

/** Deterministic UIDs, from the same inputs as the SEG's (study, source series, model, calibration) plus the phase. */
export function viewerPhaseUids(studyInstanceUID: string, sourceSeriesInstanceUID: string, algorithm: ModelIdentity, phase: LabelledPhaseName) {
  const parts = [studyInstanceUID, sourceSeriesInstanceUID, algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated', 'viewer-phase', phase];
  return {
    copySeriesInstanceUID: deterministicUid<'SeriesInstanceUID'>(...parts, 'copy', 'series') as SeriesInstanceUID,
    copyInstanceUID: (source: string) => deterministicUid<'SOPInstanceUID'>(...parts, 'copy', source) as SOPInstanceUID,
    segSeriesInstanceUID: deterministicUid<'SeriesInstanceUID'>(...parts, 'seg', 'series') as SeriesInstanceUID,
    segInstanceUID: deterministicUid<'SOPInstanceUID'>(...parts, 'seg', 'instance') as SOPInstanceUID,
  };
}

/** Transfer syntaxes that are lossy whatever the encoder did, with the Lossy Image Compression Method term (PS3.3 C.7.6.1.1.5.1). */
const LOSSY_METHOD: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.50': 'ISO_10918_1', // JPEG Baseline
  '1.2.840.10008.1.2.4.51': 'ISO_10918_1', // JPEG Extended
  '1.2.840.10008.1.2.4.81': 'ISO_14495_1', // JPEG-LS near-lossless
};

/** The copy's Pixel Data: the source's value as stored, or its decoded stored values; or why there is none. */
type CopyPixels = { readonly asStored: true } | { readonly asStored: false; readonly bytes: Uint8Array; readonly lossyMethod?: string } | { readonly problem: string };

function copyPixels(source: Record<string, any>, syntax: string | undefined, bytes: Uint8Array): CopyPixels {
  if (Number(source.NumberOfFrames ?? 1) > 1) return { problem: 'the source is multi-frame' };
  if (source.PixelData === undefined) return { problem: 'a source image has no Pixel Data' };
  if (syntax === IMPLICIT_VR_LITTLE_ENDIAN || syntax === EXPLICIT_VR_LITTLE_ENDIAN) return { asStored: true };
  try {
    const instance = parseInstance('viewer phase copy', bytes);
    const format = instance.pixelFormat();
    if (format.samplesPerPixel !== 1) return { problem: `the source is colour (${format.photometricInterpretation}) in transfer syntax ${String(syntax)}` };
    if (format.bitsAllocated !== 8 && format.bitsAllocated !== 16) return { problem: `the source has ${format.bitsAllocated} bits allocated in transfer syntax ${String(syntax)}` };
    const samples = instance.decodeStoredFrames()[0]!;
    const out = new Uint8Array(samples.length * (format.bitsAllocated / 8));
    const view = new DataView(out.buffer);
    for (let i = 0; i < samples.length; i++) {
      if (format.bitsAllocated === 8) out[i] = samples[i]! & 0xff;
      else view.setUint16(2 * i, samples[i]! & 0xffff, true);
    }
    const lossyMethod = LOSSY_METHOD[syntax ?? ''];
    return { asStored: false, bytes: out, ...(lossyMethod ? { lossyMethod } : {}) };
  } catch (error) {
    return { problem: `the source's pixel data (transfer syntax ${String(syntax)}) could not be decoded: ${(error as Error).message}` };
  }
}

/** The instances' Part 10 bytes by SOPInstanceUID (headers only are read). */
export function sourcesBySopInstanceUid(instances: ReadonlyArray<{ readonly bytes: Uint8Array }>): Map<string, Uint8Array> {
  const sources = new Map<string, Uint8Array>();
  for (const { bytes } of instances) {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const message = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: '00080019', stopOnGreaterTag: true });
    const value = (message.dict as Record<string, { Value?: unknown[] }>)['00080018']?.Value?.[0];
    if (typeof value === 'string') sources.set(value.replace(/[\s\0]+$/u, ''), bytes);
  }
  return sources;
}

/** One derived copy of a source image: the source's attributes, our series and provenance on top. */
function copyOf(source: Record<string, any>, pixels: Exclude<CopyPixels, { problem: string }>, input: ViewerPhaseSeriesInput, phase: LabelledPhaseName, seriesInstanceUID: string, sopInstanceUID: string): Uint8Array {
  const { _meta: _m, _vrMap: _v, ...attributes } = source;
  const base = derivedObjectBase({
    context: input.context,
    sopClassUID: String(source.SOPClassUID),
    sopInstanceUID,
    seriesInstanceUID,
    modality: String(source.Modality ?? 'MR'),
    seriesNumber: COPY_SERIES_NUMBER[phase],
    instanceNumber: Number.isInteger(Number(source.InstanceNumber)) && Number(source.InstanceNumber) > 0 ? Number(source.InstanceNumber) : 1,
    seriesDescription: `PULSE ${phase} phase copy (for viewers)`,
    algorithm: input.algorithm,
    otherSeries: [input.context.seriesInstanceUID, ...(input.otherSeries ?? [])],
    ...(input.contentDateTime ? { contentDateTime: input.contentDateTime } : {}),
  });
  const imageType = Array.isArray(source.ImageType) ? source.ImageType.map(String) : typeof source.ImageType === 'string' ? source.ImageType.split('\\') : [];
  const dataset = {
    ...attributes,
    ...base.attributes,
    // Values 3+ (image flavour) stay: the pixels are the source's.
    ImageType: ['DERIVED', 'SECONDARY', ...imageType.slice(2)],
    DerivationDescription: `Copy of the ${phase} phase of the cine series, for viewers that show one phase per series`,
    SourceImageSequence: [{ ReferencedSOPClassUID: source.SOPClassUID, ReferencedSOPInstanceUID: source.SOPInstanceUID }],
    ...(pixels.asStored ? {} : { PixelData: [pixels.bytes.buffer] }),
    ...(!pixels.asStored && pixels.lossyMethod && source.LossyImageCompression !== '01' ? { LossyImageCompression: '01', LossyImageCompressionMethod: pixels.lossyMethod } : {}),
  };
  // Pixel Data as stored: OW for more than 8 bits allocated (what Implicit VR implies), else OB.
  const pixelVr = Number(source.BitsAllocated) > 8 ? 'OW' : 'OB';
  return writePart10({ ...dataset, _vrMap: { PixelData: pixelVr } }, { vrOverrides: { '7FE00010': pixelVr } });
}

/** Per labelled phase, a derived single-phase copy and a SEG of that phase referencing it (or why not). */
export function buildViewerPhaseSeries(input: ViewerPhaseSeriesInput): ViewerPhaseSeries {
  const study = input.context.studyInstanceUID;
  const seen = new Set<number>();
  const phases = input.phases.filter((p) => !seen.has(p.index) && seen.add(p.index));
  const objects: Uint8Array[] = [];
  const series: Array<{ phase: LabelledPhaseName; copySeriesInstanceUID: string; segSeriesInstanceUID: string }> = [];
  for (const { name, index } of phases) {
    const uids = viewerPhaseUids(study, input.context.seriesInstanceUID, input.algorithm, name);
    const maps: LabelMap[][] = [];
    for (const [slice, row] of input.labelMaps.entries()) {
      const map = row[index];
      if (!map) return { written: false, reason: `no label map at slice ${slice}, phase ${index}` };
      const bytes = input.sources.get(map.image.sopInstanceUID);
      if (!bytes) return { written: false, reason: `the source image of slice ${slice}, phase ${index} is not among the instances` };
      const { dataset: source, transferSyntaxUID } = readPart10File(bytes);
      const pixels = copyPixels(source, transferSyntaxUID, bytes);
      if ('problem' in pixels) return { written: false, reason: pixels.problem };
      const copyUid = uids.copyInstanceUID(map.image.sopInstanceUID);
      objects.push(copyOf(source, pixels, input, name, uids.copySeriesInstanceUID, copyUid));
      // The same label map, on the copy: the SEG then references the copy alone.
      const image = { ...map.image, sopInstanceUID: copyUid, seriesInstanceUID: uids.copySeriesInstanceUID };
      delete (image as { frameNumber?: number }).frameNumber;
      maps.push([{ image, labels: map.labels }]);
    }
    const seg = buildSegmentation({
      context: { ...input.context, seriesInstanceUID: uids.copySeriesInstanceUID },
      labelMaps: maps,
      phases: [0],
      segments: input.segments,
      algorithm: input.algorithm,
      seriesInstanceUID: uids.segSeriesInstanceUID,
      sopInstanceUID: uids.segInstanceUID,
      seriesNumber: SEG_SERIES_NUMBER[name],
      seriesDescription: `PULSE segmentation, ${name} phase copy (not reviewed)`,
      ...(input.contentDateTime ? { contentDateTime: input.contentDateTime } : {}),
    });
    objects.push(seg.bytes);
    series.push({ phase: name, copySeriesInstanceUID: uids.copySeriesInstanceUID, segSeriesInstanceUID: uids.segSeriesInstanceUID });
  }
  return { written: true, objects, series };
}
