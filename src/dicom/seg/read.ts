/**
 * Reads a Segmentation object back (BINARY or FRACTIONAL, native encoding): its identity, its
 * segments (label, SegmentedPropertyType code, algorithm type) and every frame as a mask with the
 * source image it references. Pure: bytes in, a typed object out; every refusal is a
 * ReferenceSegError that names the attribute.
 */
import { parseDicom, NotDicomError, type NaturalDataset } from '../read/dicom-file.js';
import { BadInputError } from '../../core/errors.js';
import { SEGMENTATION_SOP_CLASS_UID } from './enums.js';

/** A SEG that cannot serve as a reference: missing, unreadable, empty, of another study, ... */
export class ReferenceSegError extends BadInputError {
}

export interface ReadSegment {
  readonly segmentNumber: number;
  readonly label: string;
  readonly description: string;
  /** SegmentedPropertyTypeCodeSequence[0], when present. */
  readonly type?: { readonly value: string; readonly scheme: string; readonly meaning: string };
  readonly algorithmType: string;
  readonly algorithmName?: string;
}

export interface ReadSegFrame {
  readonly segmentNumber: number;
  readonly referencedSOPInstanceUID: string;
  readonly referencedFrameNumber?: number;
  /** rows x columns, 1 inside the segment. */
  readonly mask: Uint8Array;
}

export interface ReadSegmentation {
  readonly studyInstanceUID: string;
  readonly seriesInstanceUID: string;
  readonly sopInstanceUID: string;
  readonly rows: number;
  readonly columns: number;
  readonly segments: readonly ReadSegment[];
  readonly frames: readonly ReadSegFrame[];
}

const first = (value: unknown): unknown => (Array.isArray(value) ? value[0] : value);
const text = (value: unknown): string => {
  const v = first(value);
  return typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '';
};
const num = (value: unknown): number | undefined => {
  const v = Number(first(value));
  return Number.isFinite(v) ? v : undefined;
};
const items = (value: unknown): NaturalDataset[] => (Array.isArray(value) ? (value as NaturalDataset[]) : value && typeof value === 'object' ? [value as NaturalDataset] : []);

/** The source image a frame references (its Derivation Image, or the shared one). */
function frameSource(frame: NaturalDataset, shared: NaturalDataset | undefined): { uid: string; frameNumber?: number } | undefined {
  for (const groups of [frame, shared]) {
    if (!groups) continue;
    for (const derivation of items(groups['DerivationImageSequence'])) {
      for (const source of items(derivation['SourceImageSequence'])) {
        const uid = text(source['ReferencedSOPInstanceUID']);
        const frameNumber = num(source['ReferencedFrameNumber']);
        if (uid) return { uid, ...(frameNumber !== undefined ? { frameNumber } : {}) };
      }
    }
  }
  return undefined;
}

/** Parses a SEG; `where` names it in errors (a file name or a series). */
export function readSegmentation(bytes: Uint8Array, where: string): ReadSegmentation {
  let parsed;
  try {
    parsed = parseDicom(bytes);
  } catch (error) {
    if (error instanceof NotDicomError) throw new ReferenceSegError(`${where}: not a readable DICOM file (${error.message})`);
    throw error;
  }
  const ds = parsed.dataset;
  const studyInstanceUID = text(ds['StudyInstanceUID']);
  if (parsed.parseError) throw new ReferenceSegError(`${where}: the file is corrupt (${parsed.parseError})`, studyInstanceUID || undefined);
  if (text(ds['SOPClassUID']) !== SEGMENTATION_SOP_CLASS_UID) {
    throw new ReferenceSegError(`${where}: SOPClassUID ${text(ds['SOPClassUID']) || '(none)'} is not Segmentation Storage`, studyInstanceUID || undefined);
  }
  if (!studyInstanceUID) throw new ReferenceSegError(`${where}: StudyInstanceUID is missing`);
  const rows = num(ds['Rows']);
  const columns = num(ds['Columns']);
  if (!rows || !columns) throw new ReferenceSegError(`${where}: Rows/Columns are missing`, studyInstanceUID);
  const type = text(ds['SegmentationType']);
  if (type !== 'BINARY' && type !== 'FRACTIONAL') throw new ReferenceSegError(`${where}: SegmentationType ${type || '(none)'} is not BINARY or FRACTIONAL`, studyInstanceUID);
  const frameCount = num(ds['NumberOfFrames']) ?? 1;

  const segments: ReadSegment[] = items(ds['SegmentSequence']).map((item) => {
    const code = items(item['SegmentedPropertyTypeCodeSequence'])[0];
    const algorithmName = text(item['SegmentAlgorithmName']);
    return {
      segmentNumber: num(item['SegmentNumber']) ?? 0,
      label: text(item['SegmentLabel']),
      description: text(item['SegmentDescription']),
      ...(code ? { type: { value: text(code['CodeValue']), scheme: text(code['CodingSchemeDesignator']), meaning: text(code['CodeMeaning']) } } : {}),
      algorithmType: text(item['SegmentAlgorithmType']),
      ...(algorithmName ? { algorithmName } : {}),
    };
  });
  if (segments.length === 0) throw new ReferenceSegError(`${where}: SegmentSequence is empty`, studyInstanceUID);

  const pixels = parsed.pixelData;
  if (!pixels || pixels.length === 0) throw new ReferenceSegError(`${where}: PixelData is missing`, studyInstanceUID);
  if (parsed.transferSyntaxUID === '1.2.840.10008.1.2.5' || pixels.length > 1) {
    throw new ReferenceSegError(`${where}: encapsulated (compressed) SEG pixel data is not supported; store the reference uncompressed`, studyInstanceUID);
  }
  const data = pixels[0]!;
  const size = rows * columns;
  const needed = type === 'BINARY' ? Math.ceil((frameCount * size) / 8) : frameCount * size;
  if (data.length < needed) throw new ReferenceSegError(`${where}: PixelData holds ${data.length} bytes, ${frameCount} frames need ${needed}`, studyInstanceUID);
  const maxFractional = num(ds['MaximumFractionalValue']) ?? 255;

  const shared = items(ds['SharedFunctionalGroupsSequence'])[0];
  const perFrame = items(ds['PerFrameFunctionalGroupsSequence']);
  if (perFrame.length !== frameCount) throw new ReferenceSegError(`${where}: PerFrameFunctionalGroupsSequence has ${perFrame.length} items for ${frameCount} frames`, studyInstanceUID);
  const frames: ReadSegFrame[] = perFrame.map((frame, f) => {
    const segmentNumber = num(items(frame['SegmentIdentificationSequence'])[0]?.['ReferencedSegmentNumber']) ?? num(items(shared?.['SegmentIdentificationSequence'])[0]?.['ReferencedSegmentNumber']);
    if (segmentNumber === undefined) throw new ReferenceSegError(`${where}: frame ${f + 1} has no ReferencedSegmentNumber`, studyInstanceUID);
    const source = frameSource(frame, shared);
    if (!source) throw new ReferenceSegError(`${where}: frame ${f + 1} references no source image (DerivationImageSequence)`, studyInstanceUID);
    const mask = new Uint8Array(size);
    if (type === 'BINARY') {
      for (let i = 0; i < size; i++) {
        const bit = f * size + i;
        mask[i] = (data[bit >> 3]! >> (bit & 7)) & 1;
      }
    } else {
      for (let i = 0; i < size; i++) mask[i] = data[f * size + i]! * 2 > maxFractional ? 1 : 0;
    }
    return { segmentNumber, referencedSOPInstanceUID: source.uid, ...(source.frameNumber !== undefined ? { referencedFrameNumber: source.frameNumber } : {}), mask };
  });
  return {
    studyInstanceUID,
    seriesInstanceUID: text(ds['SeriesInstanceUID']),
    sopInstanceUID: text(ds['SOPInstanceUID']),
    rows,
    columns,
    segments,
    frames,
  };
}
