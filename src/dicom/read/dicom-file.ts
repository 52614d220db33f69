/**
 * The one place that calls dcmjs's parser: bytes of a DICOM file (Part 10, or a bare data set as some
 * scanners and tools write it) -> transfer syntax, naturalized data set and the raw pixel data.
 */
import dcmjs from 'dcmjs';
import { TransferSyntax } from './transfer-syntax.js';

/** A data set as dcmjs naturalizes it: DICOM keywords -> values (sequences are arrays of data sets). */
export type NaturalDataset = Readonly<Record<string, unknown>>;

export interface ParsedDicom {
  readonly transferSyntaxUID: string;
  /** True when the file carried no File Meta Information and the transfer syntax was inferred. */
  readonly transferSyntaxInferred: boolean;
  readonly dataset: NaturalDataset;
  /**
   * PixelData as dcmjs reads it (for native encodings a view on the given bytes where it is their
   * tail, see inPlace: read-only): one buffer holding all frames for native encodings; for
   * encapsulated ones, one buffer per frame when a Basic Offset Table is present, else one per fragment.
   */
  readonly pixelData?: readonly Uint8Array[];
  /** Set when the parser stopped early (truncated or malformed file); the data set holds what came before. */
  readonly parseError?: string;
}

/** Thrown when the bytes are not a DICOM data set at all. */
export class NotDicomError extends Error {
  override readonly name = 'NotDicomError';
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const ASCII_UPPER = (b: number | undefined): boolean => b !== undefined && b >= 0x41 && b <= 0x5a;

interface MetaScan {
  /** Offset of the first data set element (after the File Meta group). */
  readonly datasetOffset: number;
  /** Offset where the File Meta group begins (after "DICM"), or -1 when there is none. */
  readonly metaOffset: number;
  readonly transferSyntaxUID?: string;
}

/** Finds the preamble/"DICM" prefix and walks the File Meta group (always explicit VR little endian). */
function scanMeta(bytes: Uint8Array): MetaScan {
  const isDicm = (at: number): boolean =>
    bytes[at] === 0x44 && bytes[at + 1] === 0x49 && bytes[at + 2] === 0x43 && bytes[at + 3] === 0x4d;
  let offset = bytes.length >= 132 && isDicm(128) ? 132 : isDicm(0) ? 4 : 0;
  const metaOffset = offset > 0 ? offset : bytes.length >= 8 && bytes[0] === 0x02 && bytes[1] === 0x00 ? 0 : -1;
  if (metaOffset < 0) return { datasetOffset: 0, metaOffset: -1 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let transferSyntaxUID: string | undefined;
  while (offset + 8 <= bytes.length && view.getUint16(offset, true) === 0x0002) {
    const element = view.getUint16(offset + 2, true);
    const vr = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!);
    let length: number;
    let header: number;
    if (LONG_VRS.has(vr)) {
      if (offset + 12 > bytes.length) break;
      length = view.getUint32(offset + 8, true);
      header = 12;
    } else {
      length = view.getUint16(offset + 6, true);
      header = 8;
    }
    if (offset + header + length > bytes.length) break;
    if (element === 0x0010) {
      transferSyntaxUID = new TextDecoder('latin1').decode(bytes.subarray(offset + header, offset + header + length)).replace(/[\0\s]+$/u, '').trim();
    }
    offset += header + length;
  }
  return { datasetOffset: offset, metaOffset, ...(transferSyntaxUID ? { transferSyntaxUID } : {}) };
}

/** Guesses explicit or implicit VR little endian from the first element of a bare data set. */
function inferTransferSyntax(bytes: Uint8Array, offset: number): string {
  const explicit = ASCII_UPPER(bytes[offset + 4]) && ASCII_UPPER(bytes[offset + 5]);
  return explicit ? TransferSyntax.ExplicitVRLittleEndian : TransferSyntax.ImplicitVRLittleEndian;
}

/** A minimal File Meta group (explicit VR LE) holding only the transfer syntax. */
function syntheticMeta(transferSyntaxUID: string): Uint8Array {
  const uid = transferSyntaxUID.length % 2 === 0 ? transferSyntaxUID : `${transferSyntaxUID}\0`;
  const tsElement = new Uint8Array(8 + uid.length);
  const v = new DataView(tsElement.buffer);
  v.setUint16(0, 0x0002, true);
  v.setUint16(2, 0x0010, true);
  tsElement.set([0x55, 0x49], 4); // "UI"
  v.setUint16(6, uid.length, true);
  for (let i = 0; i < uid.length; i++) tsElement[8 + i] = uid.charCodeAt(i);
  const groupLength = new Uint8Array(12);
  const g = new DataView(groupLength.buffer);
  g.setUint16(0, 0x0002, true);
  g.setUint16(2, 0x0000, true);
  groupLength.set([0x55, 0x4c], 4); // "UL"
  g.setUint16(6, 4, true);
  g.setUint32(8, tsElement.length, true);
  const out = new Uint8Array(128 + 4 + groupLength.length + tsElement.length);
  out.set([0x44, 0x49, 0x43, 0x4d], 128);
  out.set(groupLength, 132);
  out.set(tsElement, 132 + groupLength.length);
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** A frame or fragment as dcmjs gives it: an ArrayBuffer, a Uint8Array view (noCopy), or several of them. */
function asBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (!Array.isArray(value)) return undefined;
  const parts = value.map(asBytes).filter((b): b is Uint8Array => b !== undefined);
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/**
 * dcmjs 0.52 copies a native PixelData value out of the file even with noCopy. Where that value is the
 * file's tail (PixelData is the last element of almost every file), the same bytes are viewed in
 * the file instead and the copy is left to the collector: a study's pixels are then held once (in the
 * retrieved files, which the caller holds anyway), not twice. Checked byte for byte.
 */
function inPlace(file: Uint8Array, copy: Uint8Array): Uint8Array {
  const at = file.length - copy.length;
  if (copy.length === 0 || at < 0) return copy;
  const tail = file.subarray(at);
  return Buffer.from(tail.buffer, tail.byteOffset, tail.byteLength).equals(Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength)) ? tail : copy;
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer;
}

let dcmjsQuieted = false;
/** dcmjs logs every recoverable oddity at warn level; the reader reports problems through its own errors. */
function quietDcmjs(): void {
  if (dcmjsQuieted) return;
  dcmjsQuieted = true;
  dcmjs.log?.setLevel?.('error');
  // Its validation logger reports even recovered oddities (unknown VRs) as errors.
  dcmjs.log?.getLogger?.('validation.dcmjs')?.setLevel?.('silent');
}

/** Options for {@link parseDicom}. */
export interface ParseOptions {
  /** Stop before this tag (dcmjs clean hex, e.g. "7FE00010") to read headers only. */
  readonly untilTag?: string;
}

/**
 * Parses DICOM bytes. Files without preamble or File Meta (a bare data set) and File Meta without a
 * transfer syntax are read with an inferred little-endian syntax. A file that breaks off part way is
 * read up to the break and reported in `parseError` rather than thrown: the caller decides whether
 * what came before is enough.
 */
export function parseDicom(bytes: Uint8Array, options: ParseOptions = {}): ParsedDicom {
  quietDcmjs();
  const scan = scanMeta(bytes);
  let transferSyntaxInferred = false;
  let file: Uint8Array = bytes;
  let transferSyntaxUID = scan.transferSyntaxUID;
  const standardMeta = scan.metaOffset === 132 && bytes[132] === 0x02 && bytes[133] === 0x00 && bytes[134] === 0x00 && bytes[135] === 0x00;
  if (!standardMeta || !transferSyntaxUID) {
    // dcmjs reads only preamble + "DICM" + meta: rebuild that prefix in front of the data set.
    if (!transferSyntaxUID) {
      transferSyntaxUID = inferTransferSyntax(bytes, scan.datasetOffset);
      transferSyntaxInferred = true;
    }
    if (bytes.length - scan.datasetOffset < 8) throw new NotDicomError('no DICOM data set found');
    file = concat(syntheticMeta(transferSyntaxUID), bytes.subarray(scan.datasetOffset));
  }
  const readOptions = { ignoreErrors: false, untilTag: options.untilTag ?? null, includeUntilTagValue: false, noCopy: true };
  let dict: Record<string, unknown>;
  let parseError: string | undefined;
  const buffer = toArrayBuffer(file);
  try {
    dict = dcmjs.data.DicomMessage.readFile(buffer, readOptions).dict;
  } catch (error) {
    parseError = error instanceof Error ? error.message : String(error);
    try {
      // ignoreErrors keeps the elements read before the break.
      dict = dcmjs.data.DicomMessage.readFile(buffer, { ...readOptions, ignoreErrors: true }).dict;
    } catch (again) {
      throw new NotDicomError(`unreadable DICOM data set: ${again instanceof Error ? again.message : String(again)}`);
    }
  }
  let dataset: Record<string, unknown>;
  try {
    dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, unknown>;
  } catch (error) {
    throw new NotDicomError(`unreadable DICOM data set: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (Object.keys(dataset).length <= 1 && parseError) throw new NotDicomError(`unreadable DICOM data set: ${parseError}`);
  const raw = dataset['PixelData'];
  let pixelData: Uint8Array[] | undefined;
  if (Array.isArray(raw)) {
    // With noCopy, a frame made of several fragments comes as an array of fragments: join them.
    pixelData = raw.map(asBytes).filter((b): b is Uint8Array => b !== undefined);
  } else {
    const single = asBytes(raw);
    if (single) pixelData = [inPlace(file, single)];
  }
  delete dataset['PixelData'];
  return {
    transferSyntaxUID,
    transferSyntaxInferred,
    dataset,
    ...(pixelData ? { pixelData } : {}),
    ...(parseError ? { parseError } : {}),
  };
}
