/**
 * Synthetic instances as DICOM Part 10 (Explicit VR Little Endian), written with dcmjs.
 * Pure: a description of the instance in, bytes out.
 */
import { writePart10 as writeDataset } from '../dicom/modules/part10.js';

export const SOP_CLASS = {
  MRImage: '1.2.840.10008.5.1.4.1.1.4',
  CTImage: '1.2.840.10008.5.1.4.1.1.2',
  SecondaryCapture: '1.2.840.10008.5.1.4.1.1.7',
} as const;

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
  const pixelBytes = new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  // PixelData gets its own copy (even length) so the caller's array is never aliased.
  const padded = new Uint8Array(pixelBytes.length + (pixelBytes.length % 2));
  padded.set(pixelBytes);
  return writeDataset({
    ...attributes,
    PixelData: [padded.buffer],
    _vrMap: { PixelData: pixels instanceof Uint8Array ? 'OB' : 'OW' },
  });
}
