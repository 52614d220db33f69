/**
 * Synthetic instances as DICOM Part 10 (Explicit VR Little Endian), written with dcmjs.
 * Pure: a description of the instance in, bytes out.
 */
import dcmjs from 'dcmjs';

export const TRANSFER_SYNTAX_EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const SOP_CLASS = {
  MRImage: '1.2.840.10008.5.1.4.1.1.4',
  CTImage: '1.2.840.10008.5.1.4.1.1.2',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
} as const;

/** Our implementation's identity in the file meta information. */
const IMPLEMENTATION_CLASS_UID = '2.25.155488302112380413893622734271766934121';
const IMPLEMENTATION_VERSION_NAME = 'PULSE_SYNTH_1';

/** A naturalized data set (dcmjs keywords) plus its pixels. */
export interface InstanceDescription {
  readonly attributes: Record<string, unknown>;
  /** 8-bit (BitsAllocated 8) or 16-bit unsigned/signed pixels, row-major. */
  readonly pixels: Uint8Array | Uint16Array | Int16Array;
}

/** Formats a number as a DICOM DS value (at most 16 characters). */
export function ds(value: number, decimals = 6): string {
  let s = Number(value.toFixed(decimals)).toString();
  if (s === '-0') s = '0';
  for (let d = decimals; s.length > 16 && d > 0; d--) s = Number(value.toFixed(d - 1)).toString();
  return s;
}

export function writePart10(instance: InstanceDescription): Uint8Array {
  const { attributes, pixels } = instance;
  const sopClassUID = attributes.SOPClassUID as string;
  const sopInstanceUID = attributes.SOPInstanceUID as string;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: sopClassUID,
    MediaStorageSOPInstanceUID: sopInstanceUID,
    TransferSyntaxUID: TRANSFER_SYNTAX_EXPLICIT_LE,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
  };
  const pixelBytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  // PixelData gets its own copy (even length) so the caller's array is never aliased.
  const padded = new Uint8Array(pixelBytes.length + (pixelBytes.length % 2));
  padded.set(pixelBytes);
  const dataset = {
    ...attributes,
    PixelData: [padded.buffer],
    _vrMap: { PixelData: pixels instanceof Uint8Array ? 'OB' : 'OW' },
  };
  const dictionary = dcmjs.data.DicomMetaDictionary;
  const dicomDict = new dcmjs.data.DicomDict(dictionary.denaturalizeDataset(meta));
  dicomDict.dict = dictionary.denaturalizeDataset(dataset);
  const buffer: ArrayBuffer = dicomDict.write();
  return new Uint8Array(buffer);
}
