/** Naturalized data set -> Part 10 bytes (Explicit VR Little Endian), through dcmjs. */
import dcmjs from 'dcmjs';
import { SOFTWARE_VERSION } from './equipment.js';
import { deterministicUid } from '../uid.js';

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** Implementation Class UID of this software: a 2.25 UID derived from its name, stable across releases. */
export const IMPLEMENTATION_CLASS_UID: string = deterministicUid('pulse-for-orthanc', 'implementation-class');

export interface Part10Options {
  /** Override the VR dcmjs would pick for these tags (e.g. PixelData as OB for 1-bit SEG). */
  readonly vrOverrides?: Readonly<Record<string, string>>;
}

/** Writes a naturalized data set (dcmjs keywords) as a Part 10 file. */
export function writePart10(dataset: Record<string, unknown>, options: Part10Options = {}): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
    ImplementationVersionName: `PULSE_${SOFTWARE_VERSION}`.slice(0, 16),
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  const body = DicomMetaDictionary.denaturalizeDataset(dataset) as Record<string, { vr: string }>;
  for (const [tag, vr] of Object.entries(options.vrOverrides ?? {})) {
    if (body[tag]) body[tag].vr = vr;
  }
  dict.dict = body;
  const buffer: ArrayBuffer = dict.write({ fragmentMultiframe: false });
  return new Uint8Array(buffer);
}

/** Reads Part 10 bytes into a naturalized data set (for tests and round trips). */
export function readPart10(bytes: Uint8Array): Record<string, any> {
  return readPart10File(bytes).dataset;
}

/** Part 10 bytes -> the naturalized data set and the file meta's Transfer Syntax UID, in one parse. */
export function readPart10File(bytes: Uint8Array): { readonly dataset: Record<string, any>; readonly transferSyntaxUID: string | undefined } {
  const { DicomMessage, DicomMetaDictionary } = dcmjs.data;
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const dicomData = DicomMessage.readFile(buffer);
  const syntax = (dicomData.meta as Record<string, { Value?: unknown[] }>)['00020010']?.Value?.[0];
  return {
    dataset: DicomMetaDictionary.naturalizeDataset(dicomData.dict),
    transferSyntaxUID: typeof syntax === 'string' ? syntax.replace(/[\s\0]+$/u, '') : undefined,
  };
}
